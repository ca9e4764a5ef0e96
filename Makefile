# Offramp build.
#
#   make            build/offramp (optimised, with debug info)
#   make run        install missing packages, build, serve on ./offramp.db
#   make check      install missing packages, build everything under
#                   ASan+UBSan with -Werror, run unit and end-to-end tests
#   make unit       unit tests only (sanitised)
#   make e2e        end-to-end tests only (sanitised binary)
#   make deps       install missing Debian packages
#
# Sources are discovered: every src/**/*.c is part of the service; every
# tests/unit/**/test_*.c is one cmocka test program linked against all of
# src/ except src/app/main.c.

CC      ?= cc
PKGS    := libmicrohttpd jansson sqlite3 openssl libcurl
CSTD    := -std=c17 -D_GNU_SOURCE
# -Wno-format-truncation: snprintf is our bounded copy and truncating is its job.
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wformat=2 -Wvla -Wno-unused-parameter -Wno-format-truncation
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)
CPPFLAGS := -Isrc
LIBS    := $(PKG_LIBS) -lpthread

SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

SRCS    := $(shell find src -name '*.c' | sort)
LIB_SRCS := $(filter-out src/app/main.c,$(SRCS))
UNIT_SRCS := $(shell find tests/unit -name 'test_*.c' 2>/dev/null | sort)

# Release build.
REL_DIR := build/rel
REL_OBJS := $(patsubst src/%.c,$(REL_DIR)/%.o,$(SRCS))
REL_CFLAGS := $(CSTD) $(WARN) -O2 -g $(PKG_CFLAGS)

# Sanitised build, used by every test.
SAN_DIR := build/san
SAN_LIB_OBJS := $(patsubst src/%.c,$(SAN_DIR)/%.o,$(LIB_SRCS))
SAN_MAIN_OBJ := $(SAN_DIR)/app/main.o
SAN_CFLAGS := $(CSTD) $(WARN) -O1 -g $(SAN) $(PKG_CFLAGS)
UNIT_BINS := $(patsubst tests/unit/%.c,$(SAN_DIR)/tests/%,$(UNIT_SRCS))

PYTHON  ?= /usr/bin/python3

.PHONY: all run check unit e2e deps clean bench fuzz
all: build/offramp

build/offramp: $(REL_OBJS)
	$(CC) $(REL_CFLAGS) -o $@ $^ $(LIBS)

$(REL_DIR)/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(REL_CFLAGS) -MMD -MP -c -o $@ $<

$(SAN_DIR)/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(SAN_CFLAGS) -MMD -MP -c -o $@ $<

build/offramp-san: $(SAN_LIB_OBJS) $(SAN_MAIN_OBJ)
	$(CC) $(SAN_CFLAGS) -o $@ $^ $(LIBS)

$(SAN_DIR)/tests/%: tests/unit/%.c $(SAN_LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests/unit $(SAN_CFLAGS) -o $@ $< $(SAN_LIB_OBJS) $(LIBS) $(CMOCKA_LIBS)

deps:
	@scripts/deps.sh

run: deps
	@$(MAKE) --no-print-directory all
	./build/offramp serve

unit: $(UNIT_BINS)
	@scripts/run-unit.sh $(UNIT_BINS)

e2e: build/offramp-san
	OFFRAMP_BIN=$(CURDIR)/build/offramp-san $(PYTHON) -m pytest -q tests/e2e

check: deps
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory e2e

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
