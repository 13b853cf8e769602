#include <string.h>

#include "crdt/body.h"
#include "crdt/cert.h"

int
crdt_cert_encode(const crdt_cert *c, uint8_t **out, size_t *len)
{
	crdt_body b;
	int rc;

	crdt_body_init(&b);
	crdt_body_bin(&b, "subject", c->subject, QIAO_KEY_LEN);
	crdt_body_cstr(&b, "role", c->role);
	crdt_body_cstr(&b, "region", c->region);
	crdt_body_cstr(&b, "name", c->name);
	if (c->until != 0)
		crdt_body_uint(&b, "until", c->until);
	if (c->has_supersedes) {
		crdt_body_bin(&b, "supersedes", c->supersedes, QIAO_KEY_LEN);
		crdt_body_uint(&b, "after", c->after);
	}
	rc = crdt_body_finish(&b, out, len);
	crdt_body_fini(&b);
	return rc;
}

static int
bad(const char **why, const char *reason)
{
	if (why != NULL)
		*why = reason;
	return QIAO_EMALFORMED;
}

static int
get_key(const uint8_t *body, size_t len, const char *field, uint8_t *out)
{
	const uint8_t *p;
	size_t n;

	if (crdt_body_get_bin(body, len, field, &p, &n) != QIAO_OK ||
	    n != QIAO_KEY_LEN)
		return QIAO_EMALFORMED;
	memcpy(out, p, QIAO_KEY_LEN);
	return QIAO_OK;
}

int
crdt_cert_decode(crdt_cert *c, const uint8_t *body, size_t len,
    const char **why)
{
	crdt_cert t;
	int rc;

	memset(&t, 0, sizeof(t));
	if (get_key(body, len, "subject", t.subject) != QIAO_OK)
		return bad(why, "enrol: subject must be a 32-byte key");
	if (crdt_body_get_cstr(body, len, "role", t.role, sizeof(t.role)))
		return bad(why, "enrol: role missing or too long");
	if (crdt_body_get_cstr(body, len, "region", t.region,
		sizeof(t.region)))
		return bad(why, "enrol: region missing or too long");
	if (crdt_body_get_cstr(body, len, "name", t.name, sizeof(t.name)))
		return bad(why, "enrol: name missing or too long");
	rc = crdt_body_get_uint(body, len, "until", &t.until);
	if (rc != QIAO_OK && rc != QIAO_ENOTFOUND)
		return bad(why, "enrol: until must be a time in ms");
	rc = get_key(body, len, "supersedes", t.supersedes);
	if (rc == QIAO_OK) {
		t.has_supersedes = true;
		if (crdt_body_get_uint(body, len, "after", &t.after))
			return bad(why, "enrol: supersedes needs after");
	} else if (crdt_body_get(body, len, "supersedes",
		       &(crdt_reader) { 0 }) == QIAO_OK) {
		return bad(why, "enrol: supersedes must be a 32-byte key");
	}
	*c = t;
	return QIAO_OK;
}

int
crdt_revoke_encode(const crdt_revoke *r, uint8_t **out, size_t *len)
{
	crdt_body b;
	int rc;

	crdt_body_init(&b);
	crdt_body_bin(&b, "subject", r->subject, QIAO_KEY_LEN);
	crdt_body_uint(&b, "after", r->after);
	if (r->reason[0] != '\0')
		crdt_body_cstr(&b, "reason", r->reason);
	rc = crdt_body_finish(&b, out, len);
	crdt_body_fini(&b);
	return rc;
}

int
crdt_revoke_decode(crdt_revoke *r, const uint8_t *body, size_t len,
    const char **why)
{
	crdt_revoke t;
	int rc;

	memset(&t, 0, sizeof(t));
	if (get_key(body, len, "subject", t.subject) != QIAO_OK)
		return bad(why, "revoke: subject must be a 32-byte key");
	if (crdt_body_get_uint(body, len, "after", &t.after) != QIAO_OK)
		return bad(why, "revoke: after must be a seq");
	rc = crdt_body_get_cstr(body, len, "reason", t.reason,
	    sizeof(t.reason));
	if (rc != QIAO_OK && rc != QIAO_ENOTFOUND)
		return bad(why, "revoke: reason too long");
	*r = t;
	return QIAO_OK;
}
