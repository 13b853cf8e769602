/*
 * cert — bodies of the trust entries: enrolment certificates and
 * revocations. Who may issue which is policy, in node/trust.
 *
 * enrol (QIAO_T_ENROL), in the issuer's log:
 *   subject    bin 32  the enrolled station's public key
 *   role       str     "district", "town" or "village"
 *   region     str     its region code (6, 9 or 12 digits by role)
 *   name       str     the station's name, e.g. 城南街道
 *   until      uint    optional: Unix ms after which its entries are refused
 *   supersedes bin 32  optional: the key this one replaces (lost PC)
 *   after      uint    with supersedes: the old key's last valid seq
 * revoke (QIAO_T_REVOKE):
 *   subject    bin 32  the revoked key
 *   after      uint    its last valid seq: later entries are refused
 *   reason     str     optional, for people
 */
#ifndef QIAO_CRDT_CERT_H
#define QIAO_CRDT_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crdt/entry.h"
#include "crdt/err.h"

#define QIAO_CERT_REGION_MAX 24
#define QIAO_CERT_NAME_MAX 128
#define QIAO_CERT_ROLE_MAX 16

typedef struct crdt_cert {
	uint8_t subject[QIAO_KEY_LEN];
	char role[QIAO_CERT_ROLE_MAX];
	char region[QIAO_CERT_REGION_MAX];
	char name[QIAO_CERT_NAME_MAX];
	uint64_t until; /* 0: no expiry */
	bool has_supersedes;
	uint8_t supersedes[QIAO_KEY_LEN];
	uint64_t after;
} crdt_cert;

typedef struct crdt_revoke {
	uint8_t subject[QIAO_KEY_LEN];
	uint64_t after;
	char reason[QIAO_CERT_NAME_MAX];
} crdt_revoke;

/* Encodes c as an enrol body into a new heap buffer (free() it). */
int crdt_cert_encode(const crdt_cert *c, uint8_t **out, size_t *len)
    QIAO_MUST_USE;
/* Decodes an enrol body. QIAO_EMALFORMED with a static reason in *why. */
int crdt_cert_decode(crdt_cert *c, const uint8_t *body, size_t len,
    const char **why) QIAO_MUST_USE;

int crdt_revoke_encode(const crdt_revoke *r, uint8_t **out, size_t *len)
    QIAO_MUST_USE;
int crdt_revoke_decode(crdt_revoke *r, const uint8_t *body, size_t len,
    const char **why) QIAO_MUST_USE;

#endif
