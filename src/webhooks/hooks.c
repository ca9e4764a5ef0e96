/*
 * hooks.c - webhook HTTP client, signatures and address rules.
 *
 * SSRF: the URL's host is resolved at registration and every address must
 * be public; then, at each delivery, libcurl's open-socket callback sees
 * the address it is about to connect to and refuses a non-public one, so
 * a name that resolves differently later (DNS rebinding) gains nothing.
 * Redirects are never followed; at most LIMIT_WEBHOOK_RESPONSE_BYTES of an
 * answer are read; connect and total timeouts bound every attempt.
 */
#include "webhooks/hooks.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base/crypto.h"
#include "base/limits.h"

bool hook_global_init(void) { return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK; }
void hook_global_fini(void) { curl_global_cleanup(); }

/* ---- address rules -------------------------------------------------------- */

static bool addr_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		uint32_t a = ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr);
		return (a >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_LOOPBACK(a))
			return true;
		if (IN6_IS_ADDR_V4MAPPED(a))
			return a->s6_addr[12] == 127;
	}
	return false;
}

/* Public unicast only: no private, link-local (cloud metadata included),
 * CGNAT, unspecified, multicast, reserved or documentation ranges. */
static bool addr_is_public(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		uint32_t a = ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr);
		uint8_t b0 = (uint8_t)(a >> 24), b1 = (uint8_t)(a >> 16);
		if (b0 == 0 || b0 == 10 || b0 == 127 || b0 >= 224)
			return false;
		if (b0 == 169 && b1 == 254)
			return false; /* link-local: 169.254.169.254 metadata */
		if (b0 == 172 && (b1 & 0xf0) == 16)
			return false;
		if (b0 == 192 && b1 == 168)
			return false;
		if (b0 == 100 && (b1 & 0xc0) == 64)
			return false; /* CGNAT 100.64/10 */
		if (b0 == 192 && b1 == 0 && (uint8_t)(a >> 8) == 0)
			return false; /* 192.0.0/24 */
		if (b0 == 198 && (b1 & 0xfe) == 18)
			return false; /* benchmarking 198.18/15 */
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		/* Forms that carry an IPv4 address are judged by it: v4-mapped
		 * (::ffff:0:0/96), IPv4-compatible (::/96), NAT64 (64:ff9b::/96)
		 * and 6to4 (2002::/16, the address in bytes 2..5). */
		static const uint8_t nat64[12] = {0x00, 0x64, 0xff, 0x9b};
		static const uint8_t zeros[12] = {0};
		struct sockaddr_in v4 = {.sin_family = AF_INET};
		if (IN6_IS_ADDR_V4MAPPED(a) || memcmp(a->s6_addr, nat64, 12) == 0 ||
		    (memcmp(a->s6_addr, zeros, 12) == 0 && !IN6_IS_ADDR_UNSPECIFIED(a) &&
		     !IN6_IS_ADDR_LOOPBACK(a))) {
			memcpy(&v4.sin_addr, a->s6_addr + 12, 4);
			return addr_is_public((const struct sockaddr *)&v4);
		}
		if (a->s6_addr[0] == 0x20 && a->s6_addr[1] == 0x02) {
			memcpy(&v4.sin_addr, a->s6_addr + 2, 4);
			return addr_is_public((const struct sockaddr *)&v4);
		}
		if (IN6_IS_ADDR_UNSPECIFIED(a) || IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_LINKLOCAL(a) ||
		    IN6_IS_ADDR_SITELOCAL(a) || IN6_IS_ADDR_MULTICAST(a))
			return false;
		if ((a->s6_addr[0] & 0xfe) == 0xfc)
			return false; /* unique local fc00::/7 (fd00:ec2::254 metadata too) */
		return true;
	}
	return false;
}

static bool addr_allowed(const struct sockaddr *sa, bool allow_loopback)
{
	return addr_is_public(sa) || (allow_loopback && addr_is_loopback(sa));
}

enum err hook_url_check(const char *url, bool allow_loopback)
{
	if (!url || strlen(url) > 2048)
		return ERR_INVALID_VALUE;
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	enum err e = ERR_OK;
	char *user = NULL;
	if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		e = ERR_INVALID_VALUE;
		goto out;
	}
	/* No credentials in the URL: they would be stored and shown back. */
	if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
		curl_free(user);
		e = ERR_INVALID_VALUE;
		goto out;
	}
	if (strcmp(scheme, "https") != 0 && !(allow_loopback && strcmp(scheme, "http") == 0)) {
		e = ERR_INVALID_VALUE;
		goto out;
	}
	/* Bracketed IPv6 literals come back with their brackets. */
	char name[256];
	size_t n = strlen(host);
	if (n >= sizeof name) {
		e = ERR_INVALID_VALUE;
		goto out;
	}
	if (host[0] == '[' && n > 2 && host[n - 1] == ']') {
		memcpy(name, host + 1, n - 2);
		name[n - 2] = '\0';
	} else {
		memcpy(name, host, n + 1);
	}
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
	if (getaddrinfo(name, NULL, &hints, &ai) != 0 || !ai) {
		e = ERR_UNSAFE_WEBHOOK_URL; /* cannot be shown to be public */
		goto out;
	}
	for (struct addrinfo *p = ai; p; p = p->ai_next)
		if (!addr_allowed(p->ai_addr, allow_loopback))
			e = ERR_UNSAFE_WEBHOOK_URL;
	freeaddrinfo(ai);
out:
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return e;
}

/* ---- signatures ------------------------------------------------------------ */

bool hook_secret_new(char out[HOOK_SECRET_MAX])
{
	unsigned char key[32];
	if (!crypto_random(key, sizeof key))
		return false;
	memcpy(out, "whsec_", 6);
	EVP_EncodeBlock((unsigned char *)out + 6, key, sizeof key);
	return true;
}

bool hook_sign_standard(const char *secret, const char *msg_id, int64_t ts, const char *body,
			size_t len, char out[HOOK_SECRET_MAX])
{
	if (strncmp(secret, "whsec_", 6) != 0)
		return false;
	const char *b64 = secret + 6;
	size_t bl = strlen(b64);
	unsigned char key[72];
	if (bl == 0 || bl % 4 || bl / 4 * 3 > sizeof key)
		return false;
	int kl = EVP_DecodeBlock(key, (const unsigned char *)b64, (int)bl);
	if (kl < 0)
		return false;
	kl -= (bl >= 1 && b64[bl - 1] == '=') + (bl >= 2 && b64[bl - 2] == '=');
	char prefix[96];
	int pl = snprintf(prefix, sizeof prefix, "%s.%lld.", msg_id, (long long)ts);
	if (pl < 0 || (size_t)pl >= sizeof prefix)
		return false;
	/* The signed content is id.timestamp.body, in one buffer for the
	 * one-shot HMAC() (OpenSSL 3 deprecates the HMAC_CTX API). */
	unsigned char *msg = malloc((size_t)pl + len);
	if (!msg)
		return false;
	memcpy(msg, prefix, (size_t)pl);
	memcpy(msg + pl, body, len);
	unsigned char mac[32];
	unsigned int ml = 0;
	bool ok = HMAC(EVP_sha256(), key, kl, msg, (size_t)pl + len, mac, &ml) != NULL;
	free(msg);
	if (!ok)
		return false;
	memcpy(out, "v1,", 3);
	EVP_EncodeBlock((unsigned char *)out + 3, mac, (int)ml);
	return true;
}

void hook_sign_lumx(const char *secret, const char *body, size_t len, char out[65])
{
	unsigned char mac[32];
	unsigned int ml = 0;
	HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)body, len, mac, &ml);
	crypto_hex(mac, ml, out);
}

/* ---- sending ---------------------------------------------------------------- */

/*
 * Many sends in flight on one curl multi handle, driven by one thread: a
 * receiver that never answers holds only its own transfer (until the
 * total timeout), never the others. The multi handle keeps a connection
 * cache, so repeated sends to one receiver may reuse a connection; the
 * address rules ran when it was opened.
 */
struct xfer {
	CURL *c;
	struct curl_slist *headers;
	void *tag;
	size_t got;          /* answer bytes read so far */
	bool allow_loopback; /* for the open-socket callback */
	int64_t t0_ms;       /* monotonic, at the start */
	struct xfer *prev, *next;
};

struct hook_sender {
	CURLM *m;
	struct xfer *head; /* every transfer in flight */
	int running;
};

static int64_t mono_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb;
	/* Read and drop; past the cap, stop the transfer. */
	if (x->got + n > LIMIT_WEBHOOK_RESPONSE_BYTES)
		return 0;
	x->got += n;
	return n;
}

static curl_socket_t on_open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	const struct xfer *x = arg;
	if (purpose != CURLSOCKTYPE_IPCXN || !addr_allowed(&a->addr, x->allow_loopback))
		return CURL_SOCKET_BAD;
	return socket(a->family, a->socktype, a->protocol);
}

static struct curl_slist *sign_headers(const struct hook_message *m)
{
	struct curl_slist *h = NULL, *t;
	char line[256];
#define ADD(s)                                         \
	do {                                           \
		if (!(t = curl_slist_append(h, (s)))) { \
			curl_slist_free_all(h);        \
			return NULL;                   \
		}                                      \
		h = t;                                 \
	} while (0)
	ADD("Content-Type: application/json");
	ADD("User-Agent: offramp-webhooks/1");
	if (strcmp(m->format, "lumx") == 0) {
		char sig[65];
		hook_sign_lumx(m->secret, m->body, m->len, sig);
		snprintf(line, sizeof line, "X-Hub-Signature: %s", sig);
		ADD(line);
		if (m->previous_secret && m->previous_secret[0]) {
			hook_sign_lumx(m->previous_secret, m->body, m->len, sig);
			snprintf(line, sizeof line, "X-Hub-Signature-Previous: %s", sig);
			ADD(line);
		}
	} else {
		int64_t ts = (int64_t)time(NULL);
		char s1[HOOK_SECRET_MAX] = "", s2[HOOK_SECRET_MAX] = "";
		hook_sign_standard(m->secret, m->message_id, ts, m->body, m->len, s1);
		if (m->previous_secret && m->previous_secret[0])
			hook_sign_standard(m->previous_secret, m->message_id, ts, m->body, m->len, s2);
		snprintf(line, sizeof line, "webhook-id: %s", m->message_id);
		ADD(line);
		snprintf(line, sizeof line, "webhook-timestamp: %lld", (long long)ts);
		ADD(line);
		snprintf(line, sizeof line, "webhook-signature: %s%s%s", s1, s2[0] ? " " : "", s2);
		ADD(line);
	}
#undef ADD
	return h;
}

struct hook_sender *hook_sender_new(void)
{
	struct hook_sender *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	if (!(s->m = curl_multi_init())) {
		free(s);
		return NULL;
	}
	return s;
}

int hook_sender_running(const struct hook_sender *s) { return s->running; }

static void xfer_free(struct hook_sender *s, struct xfer *x)
{
	curl_multi_remove_handle(s->m, x->c);
	curl_easy_cleanup(x->c);
	curl_slist_free_all(x->headers);
	if (x->prev)
		x->prev->next = x->next;
	else
		s->head = x->next;
	if (x->next)
		x->next->prev = x->prev;
	s->running--;
	free(x);
}

bool hook_sender_add(struct hook_sender *s, const struct hook_message *m, void *tag)
{
	struct xfer *x = calloc(1, sizeof *x);
	if (!x)
		return false;
	x->tag = tag;
	x->allow_loopback = m->allow_loopback;
	x->t0_ms = mono_ms();
	if (!(x->c = curl_easy_init()) || !(x->headers = sign_headers(m))) {
		curl_easy_cleanup(x->c);
		free(x);
		return false;
	}
	CURL *c = x->c;
	bool ok = curl_easy_setopt(c, CURLOPT_URL, m->url) == CURLE_OK;
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	/* The body is copied: the caller's may go as soon as this returns. */
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)m->len);
	ok = ok && curl_easy_setopt(c, CURLOPT_COPYPOSTFIELDS, m->body) == CURLE_OK;
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, x->headers);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)LIMIT_WEBHOOK_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)LIMIT_WEBHOOK_SEND_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, x);
	curl_easy_setopt(c, CURLOPT_PRIVATE, x);
	if (!ok || curl_multi_add_handle(s->m, c) != CURLM_OK) {
		curl_easy_cleanup(c);
		curl_slist_free_all(x->headers);
		free(x);
		return false;
	}
	x->next = s->head;
	if (s->head)
		s->head->prev = x;
	s->head = x;
	s->running++;
	return true;
}

static void report(struct hook_sender *s, struct xfer *x, CURLcode rc, const char *why,
		   hook_done_fn done, void *arg)
{
	struct hook_outcome o = {0};
	long code = 0;
	curl_easy_getinfo(x->c, CURLINFO_RESPONSE_CODE, &code);
	o.status = why ? 0 : (int)code;
	if (why)
		snprintf(o.error, sizeof o.error, "%s", why);
	else if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && code > 0))
		snprintf(o.error, sizeof o.error, "%s", curl_easy_strerror(rc));
	o.duration_ms = mono_ms() - x->t0_ms;
	void *tag = x->tag;
	xfer_free(s, x);
	done(arg, tag, &o);
}

void hook_sender_run(struct hook_sender *s, int wait_ms, hook_done_fn done, void *arg)
{
	int still = 0;
	curl_multi_perform(s->m, &still);
	/* Wait only while nothing has finished: a finished one is reported now. */
	if (still == s->running && wait_ms > 0) {
		curl_multi_poll(s->m, NULL, 0, wait_ms, NULL);
		curl_multi_perform(s->m, &still);
	}
	CURLMsg *msg;
	int left = 0;
	while ((msg = curl_multi_info_read(s->m, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		struct xfer *x = NULL;
		CURLcode rc = msg->data.result;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		if (x)
			report(s, x, rc, NULL, done, arg);
	}
}

void hook_sender_wakeup(struct hook_sender *s) { curl_multi_wakeup(s->m); }

void hook_sender_abort(struct hook_sender *s, const char *why, hook_done_fn done, void *arg)
{
	while (s->head)
		report(s, s->head, CURLE_ABORTED_BY_CALLBACK, why, done, arg);
}

void hook_sender_free(struct hook_sender *s)
{
	if (!s)
		return;
	while (s->head)
		xfer_free(s, s->head);
	curl_multi_cleanup(s->m);
	free(s);
}
