# Offramp build.
#
#   make            build/offramp (optimised, with debug info)
#   make run        install missing packages, build, serve on ./offramp.db
#   make check      install missing packages, build everything under
#                   ASan+UBSan with -Werror, run unit and end-to-end tests
#   make unit       unit tests only (sanitised)
#   make e2e        end-to-end tests only (sanitised binary)
#   make faults     fault injection walk and disk-full test (build/offramp-fault)
#   make sim        the deterministic simulator (tests/sim): SEEDS seeds from 1
#                   (SEEDS=N), or one (SEED=n) to replay a failure; SIM_STEPS
#                   steps each, SIM_ARGS more (-v: every step)
#   make fuzz       libFuzzer on every fuzz/ target (clang), FUZZ_SECONDS each,
#                   new inputs added to the corpora (FUZZ_NAMES=money: one)
#   make fuzz-short the long-test run: every target FUZZ_SHORT_SECONDS (30),
#                   new inputs kept out of the tree; fails on any finding
#   make bench      benchmarks (bench/), printing figures and drawing plots
#                   into build/bench/ (BENCH_QUICK=1: a short smoke run)
#   make profile    instructions and µs per create and per GET, by thread and
#                   layer (bench/profile.py: callgrind, ~2 minutes)
#   make bench-scale  create/get/list latency at 10k, 1M, 10M stored sessions
#                   (bench/scale.sh; SCALE_SIZES to choose)
#   make bench-pg   creates/s on PostgreSQL (1 node, 2 nodes, batch-1) against
#                   pgbench running the same statements (bench/pg_bench.py)
#   make deps       install missing Debian packages
#
# Sources are discovered: every src/**/*.c is part of the service; every
# tests/unit/**/test_*.c is one cmocka test program linked against all of
# src/ except src/app/main.c.

CC      ?= cc
PKGS    := libmicrohttpd jansson yajl sqlite3 openssl libcurl nettle libpq libsecp256k1 libxml-2.0
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

# docs/openapi.json, embedded as a C array (src/api/api_openapi.c serves it).
GEN_OPENAPI := build/gen/openapi_json.c

# The dashboard's files (web/dashboard/), embedded as C arrays at build time
# (scripts/embed.sh: od and sha256sum, no network); one object in each build.
DASH_FILES := $(sort $(wildcard web/dashboard/*))
DASH_GEN := build/gen/dashboard_assets.c

# Release build.
REL_DIR := build/rel
REL_OBJS := $(patsubst src/%.c,$(REL_DIR)/%.o,$(SRCS)) $(REL_DIR)/gen/openapi_json.o $(REL_DIR)/gen/dashboard_assets.o
REL_CFLAGS := $(CSTD) $(WARN) -O2 -g $(PKG_CFLAGS)

# Sanitised build, used by every test.
SAN_DIR := build/san
SAN_LIB_OBJS := $(patsubst src/%.c,$(SAN_DIR)/%.o,$(LIB_SRCS)) $(SAN_DIR)/gen/openapi_json.o $(SAN_DIR)/gen/dashboard_assets.o
SAN_MAIN_OBJ := $(SAN_DIR)/app/main.o
SAN_CFLAGS := $(CSTD) $(WARN) -O1 -g $(SAN) $(PKG_CFLAGS)
UNIT_BINS := $(patsubst tests/unit/%.c,$(SAN_DIR)/tests/%,$(UNIT_SRCS))

# Fuzz targets: fuzz/fuzz_<name>.c with seed corpora in fuzz/corpus/<name>/.
# `make check` replays the corpora through a plain driver (gcc, sanitised);
# `make fuzz` runs each target under libFuzzer (clang) for FUZZ_SECONDS.
FUZZ_SRCS := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_NAMES := $(patsubst fuzz/fuzz_%.c,%,$(FUZZ_SRCS))
FUZZ_REPLAY := $(patsubst %,$(SAN_DIR)/fuzz/fuzz_%,$(FUZZ_NAMES))
FUZZ_DIR := build/fuzz
FUZZ_CC ?= clang
FUZZ_CFLAGS := $(CSTD) -O1 -g -fsanitize=fuzzer-no-link,address,undefined $(PKG_CFLAGS)
FUZZ_LIB_OBJS := $(patsubst src/%.c,$(FUZZ_DIR)/obj/%.o,$(LIB_SRCS)) $(FUZZ_DIR)/obj/gen/openapi_json.o $(FUZZ_DIR)/obj/gen/dashboard_assets.o
FUZZ_SECONDS ?= 60
FUZZ_SHORT_SECONDS ?= 30
FUZZ_BINS := $(patsubst %,$(FUZZ_DIR)/fuzz_%,$(FUZZ_NAMES))

# Bench programs: the open-loop load generator and the raw-SQLite ceiling.
BENCH_CFLAGS := $(CSTD) $(WARN) -O2 -g $(PKG_CFLAGS)

PYTHON  ?= /usr/bin/python3

.PHONY: install all run check unit unit-pg e2e e2e-pg faults sim deps clean bench bench-pg profile bench-scale fuzz fuzz-short fuzz-replay fuzz-deps
all: build/offramp

build/offramp: $(REL_OBJS)
	$(CC) $(REL_CFLAGS) -o $@ $^ $(LIBS)

$(REL_DIR)/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(REL_CFLAGS) -MMD -MP -c -o $@ $<

$(GEN_OPENAPI): docs/openapi.json
	@mkdir -p $(dir $@)
	cd docs && xxd -i openapi.json | sed 's/^unsigned/const unsigned/' > ../$@.tmp
	mv $@.tmp $@

# (Three rules: one pattern rule with three targets would be one recipe.)
$(REL_DIR)/gen/%.o: build/gen/%.c
	@mkdir -p $(dir $@)
	$(CC) -c -o $@ $<
$(SAN_DIR)/gen/%.o: build/gen/%.c
	@mkdir -p $(dir $@)
	$(CC) -c -o $@ $<
$(FUZZ_DIR)/obj/gen/%.o: build/gen/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -c -o $@ $<

$(DASH_GEN): $(DASH_FILES) scripts/embed.sh
	scripts/embed.sh $@ $(DASH_FILES)

$(REL_DIR)/gen/dashboard_assets.o $(SAN_DIR)/gen/dashboard_assets.o: $(DASH_GEN)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(if $(findstring $(SAN_DIR),$@),$(SAN_CFLAGS),$(REL_CFLAGS)) -c -o $@ $<

$(FUZZ_DIR)/obj/gen/dashboard_assets.o: $(DASH_GEN) | fuzz-deps
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -c -o $@ $<

$(SAN_DIR)/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(SAN_CFLAGS) -MMD -MP -c -o $@ $<

build/offramp-san: $(SAN_LIB_OBJS) $(SAN_MAIN_OBJ)
	$(CC) $(SAN_CFLAGS) -o $@ $^ $(LIBS)

# Fault-injection build: the sanitised build with the hooks of
# src/base/fault.h compiled in (tests/e2e/test_faults.py).
FAULT_DIR := build/fault
FAULT_OBJS := $(patsubst src/%.c,$(FAULT_DIR)/%.o,$(SRCS)) $(SAN_DIR)/gen/openapi_json.o $(SAN_DIR)/gen/dashboard_assets.o
FAULT_CFLAGS := $(SAN_CFLAGS) -DOFFRAMP_FAULTS

$(FAULT_DIR)/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(FAULT_CFLAGS) -MMD -MP -c -o $@ $<

build/offramp-fault: $(FAULT_OBJS)
	$(CC) $(FAULT_CFLAGS) -o $@ $^ $(LIBS)

# The fault walk and the disk-full test (make check runs it).
faults: build/offramp-fault build/offramp-san
	env OFFRAMP_BIN=$(CURDIR)/build/offramp-san OFFRAMP_FAULT_BIN=$(CURDIR)/build/offramp-fault \
		$(PYTHON) -m pytest -q tests/e2e/test_faults.py $(E2E_ARGS)

# The deterministic simulator (tests/sim/README.md): the fault build's
# objects, whose hooks (base/fault.h, clock_fake_set, uuid_fake_seed) it drives.
SIM_SRCS := $(sort $(wildcard tests/sim/*.c))
SIM_BIN := $(FAULT_DIR)/tests/sim
FAULT_LIB_OBJS := $(filter-out $(FAULT_DIR)/app/main.o,$(FAULT_OBJS))
SEEDS ?= 300
SIM_STEPS ?= 150
$(SIM_BIN): $(SIM_SRCS) tests/sim/sim.h $(FAULT_LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(FAULT_CFLAGS) -o $@ $(SIM_SRCS) $(FAULT_LIB_OBJS) $(LIBS)

sim: $(SIM_BIN)
	$(SIM_BIN) $(if $(SEED),--seed $(SEED),--seeds $(SEEDS)) --steps $(SIM_STEPS) $(SIM_ARGS)

$(SAN_DIR)/tests/%: tests/unit/%.c $(SAN_LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests/unit $(SAN_CFLAGS) -o $@ $< $(SAN_LIB_OBJS) $(LIBS) $(CMOCKA_LIBS)

$(SAN_DIR)/fuzz/fuzz_%: fuzz/fuzz_%.c fuzz/driver.c $(SAN_LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(SAN_CFLAGS) -o $@ $< fuzz/driver.c $(SAN_LIB_OBJS) $(LIBS)

# Targets may share a header (fuzz/api_harness.h).
$(FUZZ_REPLAY) $(FUZZ_BINS): $(wildcard fuzz/*.h)

fuzz-replay: $(FUZZ_REPLAY)
	@for n in $(FUZZ_NAMES); do $(SAN_DIR)/fuzz/fuzz_$$n fuzz/corpus/$$n || exit 1; done

$(FUZZ_DIR)/obj/%.o: src/%.c | fuzz-deps
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<

$(FUZZ_DIR)/fuzz_%: fuzz/fuzz_%.c $(FUZZ_LIB_OBJS)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB_OBJS) $(LIBS)

# The libFuzzer objects are kept between targets (make would delete them
# as intermediates and rebuild all of src/ for each target).
.SECONDARY: $(FUZZ_LIB_OBJS)

# Coverage-guided fuzzing; new inputs are added to the corpora (commit them).
# A failing input is written to build/fuzz/artifacts/.
fuzz-deps:
	@scripts/deps.sh clang

$(FUZZ_BINS): | fuzz-deps

fuzz: $(FUZZ_BINS)
	@mkdir -p $(FUZZ_DIR)/artifacts
	@for n in $(FUZZ_NAMES); do \
		echo "fuzz: $$n for $(FUZZ_SECONDS)s"; \
		$(FUZZ_DIR)/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -print_final_stats=1 \
			-artifact_prefix=$(FUZZ_DIR)/artifacts/$$n- fuzz/corpus/$$n || exit 1; \
	done

# Every target for FUZZ_SHORT_SECONDS from its corpus, so a property the code
# no longer keeps is caught; new inputs go to a scratch corpus (the tree
# stays clean), the log to build/fuzz/short-<name>.log, one line per target.
fuzz-short: $(FUZZ_BINS)
	@mkdir -p $(FUZZ_DIR)/artifacts
	@for n in $(FUZZ_NAMES); do \
		rm -rf $(FUZZ_DIR)/scratch/$$n && mkdir -p $(FUZZ_DIR)/scratch/$$n; \
		log=$(FUZZ_DIR)/short-$$n.log; \
		if ! $(FUZZ_DIR)/fuzz_$$n -max_total_time=$(FUZZ_SHORT_SECONDS) -max_len=4096 \
			-print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/artifacts/$$n- \
			$(FUZZ_DIR)/scratch/$$n fuzz/corpus/$$n > $$log 2>&1; then \
			tail -n 40 $$log; echo "fuzz-short: $$n FAILED (input in $(FUZZ_DIR)/artifacts/)"; \
			exit 1; \
		fi; \
		runs=$$(sed -n 's/^stat::number_of_executed_units: *//p' $$log); \
		echo "fuzz-short: $$n $(FUZZ_SHORT_SECONDS)s, $$runs runs, no finding"; \
	done

build/bench/loadgen: bench/loadgen.c
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -o $@ $< $(shell pkg-config --libs libcurl) -lm

build/bench/ceiling: bench/ceiling.c
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -o $@ $< $(shell pkg-config --libs sqlite3)

bench:
	bench/run.sh

bench-pg:
	bench/run.sh pg

profile: build/offramp build/bench/loadgen
	$(PYTHON) bench/profile.py

SCALE_SIZES ?= 10000 1000000 10000000
bench-scale:
	bench/scale.sh $(SCALE_SIZES)

deps:
	@scripts/deps.sh

run: deps
	@$(MAKE) --no-print-directory all
	./build/offramp serve

unit: $(UNIT_BINS)
	@scripts/run-unit.sh $(UNIT_BINS)

# OFFRAMP_SLOW=1 runs the one test that must wait out a 30 s rate lock.
# E2E_ARGS: more pytest arguments, e.g. make e2e E2E_ARGS="-k webhooks -x";
# E2E_TESTS: which tests (default all), e.g. E2E_TESTS=tests/e2e/test_lumx.py.
E2E_TESTS ?= tests/e2e
E2E_RUN = env OFFRAMP_BIN=$(CURDIR)/build/offramp-san OFFRAMP_LOADGEN=$(CURDIR)/build/bench/loadgen OFFRAMP_SLOW=1 \
	$(PYTHON) -m pytest -q $(E2E_TESTS) $(E2E_ARGS)
# tests/e2e/test_faults.py runs build/offramp-fault (sqlite_only).
e2e: build/offramp-san build/bench/loadgen build/offramp-fault
	$(E2E_RUN)

# The store conformance suite on PostgreSQL (make unit runs it on SQLite).
unit-pg: build/san/tests/store/test_store_conformance
	@scripts/with-pg.sh scripts/run-unit.sh build/san/tests/store/test_store_conformance

# The same suite on PostgreSQL: a throwaway cluster under build/pg
# (scripts/pg-cluster.sh), started and stopped around the run.
e2e-pg: build/offramp-san build/bench/loadgen
	scripts/with-pg.sh $(E2E_RUN)

# One line per stage and a closing summary; full output in build/check/.
check:
	@MAKE="$(MAKE)" scripts/check.sh

clean:
	rm -rf build

# make install [PREFIX=/usr/local] [DESTDIR=]: the binary, its man page, the
# systemd unit (ExecStart pointed at $(PREFIX)/bin) and the docs, for a
# package (DESTDIR) or a host. tests/e2e/test_packaging.py installs into a
# DESTDIR and runs the installed binary.
PREFIX  ?= /usr/local
BINDIR  := $(PREFIX)/bin
MANDIR  := $(PREFIX)/share/man/man1
DOCDIR  := $(PREFIX)/share/doc/offramp
UNITDIR ?= $(PREFIX)/lib/systemd/system
install: build/offramp
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR) $(DESTDIR)$(DOCDIR) $(DESTDIR)$(UNITDIR)
	install -m 0755 build/offramp $(DESTDIR)$(BINDIR)/offramp
	install -m 0644 docs/offramp.1 $(DESTDIR)$(MANDIR)/offramp.1
	sed 's|/usr/local/bin/offramp|$(BINDIR)/offramp|' deploy/offramp.service > $(DESTDIR)$(UNITDIR)/offramp.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/offramp.service
	install -m 0644 README.md docs/*.md docs/openapi.json $(DESTDIR)$(DOCDIR)/
	install -d $(DESTDIR)$(PREFIX)/share/offramp/schemas/iso20022
	install -m 0644 schemas/iso20022/*.xsd $(DESTDIR)$(PREFIX)/share/offramp/schemas/iso20022/

-include $(shell find build -name '*.d' 2>/dev/null)
