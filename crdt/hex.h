/*
 * hex — keys and hashes as text, for people and config files.
 */
#ifndef QIAO_CRDT_HEX_H
#define QIAO_CRDT_HEX_H

#include <stddef.h>
#include <stdint.h>

#include "crdt/err.h"

/* Writes 2*n lower-case hex digits and a NUL to out (2*n+1 bytes). */
void crdt_hex_encode(char *out, const uint8_t *bin, size_t n);

/* The value of one hex digit (either case), or -1. */
int crdt_hex_nibble(char c);

/*
 * Decodes exactly 2*n hex digits (either case) from the NUL-terminated str
 * into out. QIAO_EINVAL if str has another length or a non-hex character;
 * out is written only on success.
 */
int crdt_hex_decode(uint8_t *out, size_t n, const char *str) QIAO_MUST_USE;

#endif
