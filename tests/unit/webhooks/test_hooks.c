/*
 * test_hooks.c - webhook signatures against their reference vectors, the
 * address rules that keep endpoints off private networks, and the sender
 * (many sends at once; a silent receiver holds only its own).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base/limits.h"
#include "webhooks/hooks.h"

static void test_standard_reference_vector(void **state)
{
	/* The Standard Webhooks specification's own example. */
	char sig[HOOK_SECRET_MAX];
	const char *body = "{\"test\": 2432232314}";
	assert_true(hook_sign_standard("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
				       "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body,
				       strlen(body), sig));
	assert_string_equal(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
	/* Any change to id, time or body changes it. */
	char other[HOOK_SECRET_MAX];
	assert_true(hook_sign_standard("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
				       "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265331, body,
				       strlen(body), other));
	assert_string_not_equal(sig, other);
	/* Malformed secrets are refused, never signed with garbage. */
	assert_false(hook_sign_standard("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "m", 1, "x", 1, other));
	assert_false(hook_sign_standard("whsec_abc", "m", 1, "x", 1, other));
}

static void test_lumx_signature(void **state)
{
	/* RFC 4231 test case 2: key "Jefe". */
	const char *body = "what do ya want for nothing?";
	char hex[65];
	hook_sign_lumx("Jefe", body, strlen(body), hex);
	assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static void test_new_secrets_are_distinct_and_well_formed(void **state)
{
	char a[HOOK_SECRET_MAX], b[HOOK_SECRET_MAX], sig[HOOK_SECRET_MAX];
	assert_true(hook_secret_new(a));
	assert_true(hook_secret_new(b));
	assert_string_not_equal(a, b);
	assert_int_equal(strncmp(a, "whsec_", 6), 0);
	assert_int_equal(strlen(a), 6 + 44); /* base64 of 32 bytes */
	assert_true(hook_sign_standard(a, "m", 1, "{}", 2, sig));
}

static void test_url_rules(void **state)
{
	static const struct {
		const char *url;
		bool loopback_flag;
		enum err want;
	} cases[] = {
		{"https://8.8.8.8/hooks", false, ERR_OK},
		{"https://[2001:4860:4860::8888]/h", false, ERR_OK},
		{"http://8.8.8.8/hooks", false, ERR_INVALID_VALUE}, /* http only in dev mode */
		{"http://8.8.8.8/hooks", true, ERR_OK},
		{"ftp://8.8.8.8/x", true, ERR_INVALID_VALUE},
		{"not a url", false, ERR_INVALID_VALUE},
		{"https://10.0.0.1/x", false, ERR_UNSAFE_WEBHOOK_URL},
		{"https://172.16.5.4/x", false, ERR_UNSAFE_WEBHOOK_URL},
		{"https://192.168.1.1/x", false, ERR_UNSAFE_WEBHOOK_URL},
		{"https://169.254.169.254/latest/meta-data", false, ERR_UNSAFE_WEBHOOK_URL},
		{"https://169.254.169.254/latest/meta-data", true, ERR_UNSAFE_WEBHOOK_URL},
		{"https://100.64.0.1/x", false, ERR_UNSAFE_WEBHOOK_URL},
		{"https://0.0.0.0/x", true, ERR_UNSAFE_WEBHOOK_URL},
		{"https://224.0.0.1/x", false, ERR_UNSAFE_WEBHOOK_URL},
		{"https://127.0.0.1/x", false, ERR_UNSAFE_WEBHOOK_URL},
		{"https://127.0.0.1/x", true, ERR_OK},
		{"http://[::1]:9/x", false, ERR_INVALID_VALUE},
		{"https://[::1]:9/x", false, ERR_UNSAFE_WEBHOOK_URL},
		{"https://[::1]:9/x", true, ERR_OK},
		{"https://[fd00:ec2::254]/x", true, ERR_UNSAFE_WEBHOOK_URL},
		{"https://[fe80::1]/x", true, ERR_UNSAFE_WEBHOOK_URL},
		{"https://[::ffff:10.0.0.1]/x", false, ERR_UNSAFE_WEBHOOK_URL},
		{"https://[::ffff:127.0.0.1]/x", true, ERR_OK},
		{"https://[64:ff9b::a00:1]/x", true, ERR_UNSAFE_WEBHOOK_URL}, /* NAT64 of 10.0.0.1 */
		{"https://[64:ff9b::808:808]/x", false, ERR_OK},              /* NAT64 of 8.8.8.8 */
		{"https://[2002:a00:1::]/x", true, ERR_UNSAFE_WEBHOOK_URL},   /* 6to4 of 10.0.0.1 */
		{"https://[::a00:1]/x", true, ERR_UNSAFE_WEBHOOK_URL},        /* IPv4-compatible */
		{"https://user:pw@8.8.8.8/x", false, ERR_INVALID_VALUE},      /* credentials */
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		enum err e = hook_url_check(cases[i].url, cases[i].loopback_flag);
		if (e != cases[i].want)
			fail_msg("%s (loopback %d): %s, want %s", cases[i].url, cases[i].loopback_flag,
				 err_code(e), err_code(cases[i].want));
	}
}

/* ---- the sender: many in flight, a silent receiver holds only itself ---- */

static int listen_local(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t n = sizeof a;
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &n), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/* Answers one request with 200 and an answer larger than the cap. */
static void *answer_one(void *arg)
{
	int lfd = *(int *)arg, c = accept(lfd, NULL, NULL);
	if (c < 0)
		return NULL;
	char buf[4096];
	size_t got = 0;
	ssize_t r;
	/* Read the headers and the 2-byte body ("{}"). */
	while (got < sizeof buf - 1 && (r = recv(c, buf + got, sizeof buf - 1 - got, 0)) > 0) {
		got += (size_t)r;
		buf[got] = '\0';
		char *end = strstr(buf, "\r\n\r\n");
		if (end && (size_t)(buf + got - (end + 4)) >= 2)
			break;
	}
	static char big[LIMIT_WEBHOOK_RESPONSE_BYTES + 4096];
	memset(big, 'x', sizeof big);
	char head[128];
	int hl = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n",
			  sizeof big);
	send(c, head, (size_t)hl, MSG_NOSIGNAL);
	send(c, big, sizeof big, MSG_NOSIGNAL);
	close(c);
	return NULL;
}

struct seen {
	int n;
	intptr_t tag[4];
	struct hook_outcome o[4];
};

static void on_seen(void *arg, void *tag, const struct hook_outcome *o)
{
	struct seen *s = arg;
	if (s->n < 4) {
		s->tag[s->n] = (intptr_t)tag;
		s->o[s->n++] = *o;
	}
}

static const struct hook_outcome *outcome_of(const struct seen *s, intptr_t tag)
{
	for (int i = 0; i < s->n; i++)
		if (s->tag[i] == tag)
			return &s->o[i];
	return NULL;
}

static void test_sender_runs_many_at_once(void **state)
{
	int silent_port, ok_port;
	int silent = listen_local(&silent_port); /* accepts (the kernel does), never answers */
	int ok = listen_local(&ok_port);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, answer_one, &ok), 0);
	char silent_url[64], ok_url[64];
	snprintf(silent_url, sizeof silent_url, "http://127.0.0.1:%d/hang", silent_port);
	snprintf(ok_url, sizeof ok_url, "http://127.0.0.1:%d/ok", ok_port);
	struct hook_message m = {.url = silent_url, .format = "standard", .message_id = "msg_1",
				 .body = "{}", .len = 2,
				 .secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
				 .allow_loopback = true};
	struct hook_sender *s = hook_sender_new();
	assert_non_null(s);
	assert_true(hook_sender_add(s, &m, (void *)1));
	m.url = ok_url;
	assert_true(hook_sender_add(s, &m, (void *)2));
	m.allow_loopback = false; /* the connected address is checked: refused */
	assert_true(hook_sender_add(s, &m, (void *)3));
	assert_int_equal(hook_sender_running(s), 3);

	struct seen seen = {0};
	time_t t0 = time(NULL);
	while (seen.n < 2 && time(NULL) - t0 < 8)
		hook_sender_run(s, 50, on_seen, &seen);
	assert_int_equal(seen.n, 2);
	assert_true(time(NULL) - t0 < LIMIT_WEBHOOK_SEND_TIMEOUT_MS / 1000);
	const struct hook_outcome *o = outcome_of(&seen, 2);
	assert_non_null(o);
	assert_int_equal(o->status, 200); /* the answer past the cap is not read, not an error */
	assert_string_equal(o->error, "");
	o = outcome_of(&seen, 3);
	assert_non_null(o);
	assert_int_equal(o->status, 0);
	assert_true(o->error[0] != '\0');
	/* The silent one is still waiting; at shutdown it is abandoned at once. */
	assert_int_equal(hook_sender_running(s), 1);
	hook_sender_abort(s, "aborted: shutting down", on_seen, &seen);
	assert_int_equal(hook_sender_running(s), 0);
	o = outcome_of(&seen, 1);
	assert_non_null(o);
	assert_int_equal(o->status, 0);
	assert_string_equal(o->error, "aborted: shutting down");
	hook_sender_free(s);
	pthread_join(th, NULL);
	close(silent);
	close(ok);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_standard_reference_vector),
		cmocka_unit_test(test_lumx_signature),
		cmocka_unit_test(test_new_secrets_are_distinct_and_well_formed),
		cmocka_unit_test(test_url_rules),
		cmocka_unit_test(test_sender_runs_many_at_once),
	};
	hook_global_init();
	int rc = cmocka_run_group_tests_name("hooks", tests, NULL, NULL);
	hook_global_fini();
	return rc;
}
