#include <string.h>

#include "crdt/hex.h"

void
crdt_hex_encode(char *out, const uint8_t *bin, size_t n)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[bin[i] >> 4];
		out[2 * i + 1] = digits[bin[i] & 15];
	}
	out[2 * n] = '\0';
}

int
crdt_hex_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
crdt_hex_decode(uint8_t *out, size_t n, const char *str)
{
	uint8_t tmp[256];

	if (n > sizeof(tmp) || strlen(str) != 2 * n)
		return QIAO_EINVAL;
	for (size_t i = 0; i < n; i++) {
		int hi = crdt_hex_nibble(str[2 * i]);
		int lo = crdt_hex_nibble(str[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return QIAO_EINVAL;
		tmp[i] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(out, tmp, n);
	return QIAO_OK;
}
