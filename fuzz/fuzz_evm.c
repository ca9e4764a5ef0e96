/*
 * fuzz_evm.c - what the EVM rail reads from a JSON-RPC node, on arbitrary
 * text: quantities (evm_quantity_parse) and fixed-length hex words and
 * addresses (evm_hex_decode) never read past the NUL and accept exactly
 * the canonical forms (what they accept prints back the same, digits of
 * either case); and the RLP writer, fed the input as byte strings,
 * never writes past its cap and flags every write that would.
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rails/evm_codec.h"

static void quantity(const char *s)
{
	uint64_t v;
	if (!evm_quantity_parse(s, &v))
		return;
	char back[24];
	snprintf(back, sizeof back, "0x%llx", (unsigned long long)v);
	assert(strcasecmp(back, s) == 0); /* no leading zeros (digits of either case) */
}

static void words(const char *s)
{
	static const size_t lens[] = {EVM_ADDR_LEN, EVM_HASH_LEN};
	for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
		uint8_t b[EVM_HASH_LEN];
		char back[2 * EVM_HASH_LEN + 3];
		if (!evm_hex_decode(s, b, lens[i]))
			continue;
		evm_hex_encode(b, lens[i], back);
		assert(strlen(s) == 2 + 2 * lens[i] && strcasecmp(back + 2, s + 2) == 0);
	}
}

static void rlp(const uint8_t *data, size_t size)
{
	uint8_t buf[96];
	size_t cap = size % sizeof buf;
	struct evm_rlp w;
	evm_rlp_init(&w, buf, cap);
	size_t off = 0, start = 0;
	while (off < size) {
		size_t n = data[off] % 64;
		off++;
		if (n > size - off)
			n = size - off;
		evm_rlp_bytes(&w, data + off, n);
		off += n;
		if (data[off - 1] & 1)
			evm_rlp_list(&w, start);
		assert(w.n <= cap);
	}
	evm_rlp_uint(&w, size);
	assert(w.n <= cap);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	quantity(s);
	words(s);
	rlp(data, size);
	free(s);
	return 0;
}
