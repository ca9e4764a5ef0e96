/*
 * test_log.c - every line is one JSON object (stderr captured into a
 * temporary file and parsed back), whatever bytes a message holds; request
 * lines carry their fields; bank identifiers are masked before they reach
 * a log line.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "base/log.h"

/* Run fn with stderr going to a file; returns every line parsed (a JSON
 * array of objects), failing the test on a line that is not an object. */
static json_t *captured(void (*fn)(void))
{
	char path[] = "/tmp/offramp-test-log-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	fflush(stderr);
	int saved = dup(STDERR_FILENO);
	assert_true(dup2(fd, STDERR_FILENO) >= 0);
	fn();
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	FILE *f = fdopen(fd, "r");
	rewind(f);
	json_t *all = json_array();
	char line[8192];
	while (fgets(line, sizeof line, f)) {
		json_error_t e;
		json_t *o = json_loads(line, 0, &e);
		if (!json_is_object(o))
			fail_msg("not a JSON object: %s (%s)", line, e.text);
		json_array_append_new(all, o);
	}
	fclose(f);
	unlink(path);
	return all;
}

static void emit_messages(void)
{
	log_info("plain %d", 7);
	log_warn("quote \" backslash \\ newline \n tab \t end");
	log_error("not utf-8: \xff\xfe here");
	char big[4000];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	log_info("%s", big); /* cut at LIMIT_LOG_MSG_BYTES, still one line */
}

static void test_lines_are_json_whatever_the_message(void **state)
{
	json_t *all = captured(emit_messages);
	assert_int_equal(json_array_size(all), 4);
	const char *levels[] = {"info", "warn", "error", "info"};
	for (size_t i = 0; i < 4; i++) {
		json_t *o = json_array_get(all, i);
		assert_string_equal(json_string_value(json_object_get(o, "level")), levels[i]);
		const char *ts = json_string_value(json_object_get(o, "ts"));
		assert_non_null(ts);
		assert_int_equal(strlen(ts), 24); /* 2026-12-04T18:37:56.990Z */
		assert_int_equal(ts[23], 'Z');
		assert_non_null(json_string_value(json_object_get(o, "msg")));
	}
	assert_string_equal(json_string_value(json_object_get(json_array_get(all, 0), "msg")), "plain 7");
	assert_string_equal(json_string_value(json_object_get(json_array_get(all, 1), "msg")),
			    "quote \" backslash \\ newline \n tab \t end");
	assert_string_equal(json_string_value(json_object_get(json_array_get(all, 2), "msg")),
			    "not utf-8: ?? here");
	assert_true(strlen(json_string_value(json_object_get(json_array_get(all, 3), "msg"))) < 1024);
	json_decref(all);
}

static void emit_requests(void)
{
	struct log_request r = {.request_id = "abc-1", .method = "GET", .route = "/livez",
				.status = 200, .latency_us = 1500};
	log_request(&r);
	r = (struct log_request){.request_id = "abc-2", .method = "POST",
				 .route = "/off-ramp-sessions", .principal = "p-1", .status = 201,
				 .latency_us = 250};
	log_request(&r);
	r.method = "G\xffT"; /* not UTF-8: that field is lost, never the line */
	r.request_id = "abc-3";
	r.ended_early = true;
	log_request(&r);
	r = (struct log_request){.request_id = "abc-4", .method = "GET", .route = "/livez",
				 .status = 200, .latency_us = 2};
	log_request(&r); /* the shape without a principal again, after one with */
}

static void test_request_lines(void **state)
{
	json_t *all = captured(emit_requests);
	assert_int_equal(json_array_size(all), 4);
	json_t *a = json_array_get(all, 0), *b = json_array_get(all, 1), *c = json_array_get(all, 2),
	       *d = json_array_get(all, 3);
	assert_string_equal(json_string_value(json_object_get(a, "msg")), "request");
	assert_string_equal(json_string_value(json_object_get(a, "request_id")), "abc-1");
	assert_string_equal(json_string_value(json_object_get(a, "route")), "/livez");
	assert_int_equal(json_integer_value(json_object_get(a, "status")), 200);
	assert_true(json_real_value(json_object_get(a, "latency_ms")) == 1.5);
	assert_null(json_object_get(a, "principal"));
	assert_null(json_object_get(a, "ended_early"));
	assert_string_equal(json_string_value(json_object_get(b, "principal")), "p-1");
	assert_string_equal(json_string_value(json_object_get(b, "method")), "POST");
	assert_true(json_real_value(json_object_get(b, "latency_ms")) == 0.25);
	assert_true(json_is_true(json_object_get(c, "ended_early")));
	assert_string_equal(json_string_value(json_object_get(c, "request_id")), "abc-3");
	assert_null(json_object_get(d, "principal"));
	assert_string_equal(json_string_value(json_object_get(d, "request_id")), "abc-4");
	assert_string_equal(json_string_value(json_object_get(d, "method")), "GET");
	json_decref(all);
}

static void test_mask_keeps_four_each_side(void **state)
{
	char out[64];
	log_mask("GB29NWBK60161331926819", out, sizeof out);
	assert_string_equal(out, "GB29**************6819");
	log_mask("12345678", out, sizeof out); /* too short to show any of it */
	assert_string_equal(out, "********");
	log_mask("123456789", out, sizeof out);
	assert_string_equal(out, "1234*6789");
	log_mask("GB29NWBK60161331926819", out, 5); /* truncates, still masked */
	assert_string_equal(out, "GB29");
	log_mask("", out, sizeof out);
	assert_string_equal(out, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_lines_are_json_whatever_the_message),
					   cmocka_unit_test(test_request_lines),
					   cmocka_unit_test(test_mask_keeps_four_each_side)};
	return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
