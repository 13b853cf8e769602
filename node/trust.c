#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crdt/cert.h"
#include "crdt/hlc.h"
#include "crdt/types.h"
#include "node/log.h"
#include "node/trust.h"

#define SUBJ_KEY_LEN (QIAO_KEY_LEN + QIAO_HASH_LEN)

bool
node_trust_region_covers(const char *region, const char *code)
{
	size_t n = strlen(region);

	return strncmp(region, code, n) == 0;
}

static bool
same_key(const uint8_t *a, const uint8_t *b)
{
	return a != NULL && b != NULL && memcmp(a, b, QIAO_KEY_LEN) == 0;
}

/* What the certs and revokes tables say about one subject. */
struct subject {
	uint64_t at_ms;       /* time the question is about; 0: any */
	bool any;             /* some certificate exists */
	bool valid;           /* one has not expired at at_ms */
	node_trust_id id;     /* the first valid one (or first, if none) */
	uint64_t revoked_after;
};

static int
on_cert(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
	struct subject *s = ctx;
	crdt_cert c;
	bool valid;

	(void)key;
	(void)klen;
	if (vlen < QIAO_KEY_LEN ||
	    crdt_cert_decode(&c, (const uint8_t *)val + QIAO_KEY_LEN,
		vlen - QIAO_KEY_LEN, NULL) != QIAO_OK)
		return QIAO_ESTORE; /* only valid certs are ever stored */
	valid = c.until == 0 || s->at_ms == 0 || s->at_ms <= c.until;
	if (!s->any || (valid && !s->valid)) {
		s->id.role = conf_role_parse(c.role);
		snprintf(s->id.region, sizeof(s->id.region), "%s", c.region);
		snprintf(s->id.name, sizeof(s->id.name), "%s", c.name);
		s->id.until = c.until;
	}
	s->any = true;
	s->valid = s->valid || valid;
	return 0;
}

static int
on_revoke(void *ctx, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	struct subject *s = ctx;
	uint64_t after;

	(void)key;
	(void)klen;
	if (vlen < 8)
		return QIAO_ESTORE;
	after = node_store_rd64(val);
	if (after < s->revoked_after)
		s->revoked_after = after;
	return 0;
}

static int
load_subject(node_txn *txn, const uint8_t *author, uint64_t at_ms,
    struct subject *s)
{
	int rc;

	memset(s, 0, sizeof(*s));
	s->at_ms = at_ms;
	s->revoked_after = UINT64_MAX;
	if ((rc = node_store_scan(txn, NODE_TB_CERTS, author, QIAO_KEY_LEN,
		 on_cert, s)) != QIAO_OK)
		return rc;
	if ((rc = node_store_scan(txn, NODE_TB_REVOKES, author, QIAO_KEY_LEN,
		 on_revoke, s)) != QIAO_OK)
		return rc;
	s->id.revoked_after = s->revoked_after;
	return QIAO_OK;
}

static void
root_id(node_trust_id *id)
{
	memset(id, 0, sizeof(*id));
	id->role = QIAO_ROLE_ROOT;
	snprintf(id->name, sizeof(id->name), "root");
	id->revoked_after = UINT64_MAX;
}

static void
self_id(node *n, node_trust_id *id, uint64_t revoked_after)
{
	const qiao_conf *c = node_get_conf(n);

	memset(id, 0, sizeof(*id));
	id->role = c->role;
	snprintf(id->region, sizeof(id->region), "%s", c->region);
	snprintf(id->name, sizeof(id->name), "%s", c->name);
	id->revoked_after = revoked_after;
}

int
node_trust_lookup(node *n, node_txn *txn, const uint8_t author[QIAO_KEY_LEN],
    node_trust_id *id)
{
	struct subject s;
	int rc;

	if (same_key(author, node_root(n))) {
		root_id(id);
		return QIAO_OK;
	}
	if ((rc = load_subject(txn, author, 0, &s)) != QIAO_OK)
		return rc;
	if (s.any) {
		*id = s.id;
		return QIAO_OK;
	}
	if (same_key(author, node_self(n))) {
		self_id(n, id, s.revoked_after);
		return QIAO_OK;
	}
	return QIAO_EUNKNOWN;
}

int
node_trust_check(node *n, node_txn *txn, const crdt_entry *e,
    node_trust_id *id, const char **why)
{
	struct subject s;
	int rc;

	if (same_key(e->author, node_root(n))) {
		if (id != NULL)
			root_id(id);
		return QIAO_OK;
	}
	if ((rc = load_subject(txn, e->author, crdt_hlc_ms(e->hlc), &s)) != 0)
		return rc;
	if (e->seq > s.revoked_after) {
		*why = "the author's key was revoked before this entry";
		return QIAO_EREVOKED;
	}
	if (!s.any) {
		/* Not enrolled yet: we may still record locally. */
		if (same_key(e->author, node_self(n))) {
			if (id != NULL)
				self_id(n, id, s.revoked_after);
			return QIAO_OK;
		}
		*why = "the author is not enrolled (no certificate held)";
		return QIAO_EUNKNOWN;
	}
	if (!s.valid) {
		*why = "the author's enrolment had expired at the entry's time";
		return QIAO_EEXPIRED;
	}
	if (id != NULL)
		*id = s.id;
	return QIAO_OK;
}

/* Roles ranked so "above" is a comparison. */
static int
rank(enum qiao_role r)
{
	switch (r) {
	case QIAO_ROLE_VILLAGE:
		return 1;
	case QIAO_ROLE_TOWN:
		return 2;
	case QIAO_ROLE_DISTRICT:
		return 3;
	case QIAO_ROLE_ROOT:
		return 4;
	default:
		return 0;
	}
}

static bool
may_enrol(const node_trust_id *issuer, enum qiao_role role,
    const char *region)
{
	if (issuer->role == QIAO_ROLE_ROOT)
		return true;
	if (issuer->role != QIAO_ROLE_DISTRICT && issuer->role != QIAO_ROLE_TOWN)
		return false;
	return rank(role) < rank(issuer->role) &&
	    node_trust_region_covers(issuer->region, region);
}

/* May issuer revoke subject? The root, the subject itself, or an authority
 * above one of the subject's certificates. */
static int
may_revoke(node *n, node_txn *txn, const uint8_t *issuer_key,
    const node_trust_id *issuer, const uint8_t *subject, bool *ok)
{
	node_trust_id sid;
	int rc;

	*ok = false;
	if (issuer->role == QIAO_ROLE_ROOT || same_key(issuer_key, subject)) {
		*ok = true;
		return QIAO_OK;
	}
	rc = node_trust_lookup(n, txn, subject, &sid);
	if (rc == QIAO_EUNKNOWN)
		return QIAO_OK;
	if (rc != QIAO_OK)
		return rc;
	*ok = may_enrol(issuer, sid.role, sid.region);
	return QIAO_OK;
}

/* Moves subject's entries beyond after out of the log into `refused`. */
static int
cut_beyond(node_txn *txn, const uint8_t *subject, uint64_t after,
    const char *reason, bool *cut)
{
	node_head head;
	crdt_entry e;
	uint8_t key[QIAO_KEY_LEN + 8];
	int rc = node_store_head_get(txn, subject, &head);

	if (rc == QIAO_ENOTFOUND)
		return QIAO_OK;
	if (rc != QIAO_OK)
		return rc;
	if (head.seq <= after)
		return QIAO_OK;
	for (uint64_t seq = after + 1; seq <= head.seq; seq++) {
		rc = node_store_entry_get(txn, subject, seq, &e);
		if (rc == QIAO_ENOTFOUND)
			continue;
		memcpy(key, subject, QIAO_KEY_LEN);
		node_store_be64(key + QIAO_KEY_LEN, seq);
		if (rc != QIAO_OK ||
		    (rc = node_store_refused_put(txn, &e, NODE_REFUSED_CUT,
			 reason)) != QIAO_OK ||
		    (rc = node_store_del(txn, NODE_TB_ENTRIES, key,
			 sizeof(key))) != QIAO_OK ||
		    (rc = node_store_del(txn, NODE_TB_BYHASH, e.hash,
			 QIAO_HASH_LEN)) != QIAO_OK)
			return rc;
	}
	if (after == 0) {
		rc = node_store_head_del(txn, subject);
	} else {
		if ((rc = node_store_entry_get(txn, subject, after, &e)) != 0)
			return rc;
		head.seq = after;
		memcpy(head.hash, e.hash, QIAO_HASH_LEN);
		head.hlc = e.hlc;
		rc = node_store_head_put(txn, subject, &head);
	}
	*cut = true;
	return rc;
}

static int
add_revoke(node_txn *txn, const uint8_t *subject, uint64_t after,
    const crdt_entry *e, bool *cut)
{
	uint8_t key[SUBJ_KEY_LEN], val[8 + QIAO_KEY_LEN];
	struct subject s;
	int rc;

	memcpy(key, subject, QIAO_KEY_LEN);
	memcpy(key + QIAO_KEY_LEN, e->hash, QIAO_HASH_LEN);
	node_store_be64(val, after);
	memcpy(val + 8, e->author, QIAO_KEY_LEN);
	if ((rc = node_store_put(txn, NODE_TB_REVOKES, key, sizeof(key), val,
		 sizeof(val))) != QIAO_OK ||
	    (rc = load_subject(txn, subject, 0, &s)) != QIAO_OK)
		return rc;
	return cut_beyond(txn, subject, s.revoked_after,
	    "key revoked after this entry's seq", cut);
}

static int
apply_enrol(node *n, node_txn *txn, const crdt_entry *e,
    const node_trust_id *issuer, const uint8_t *body, size_t len,
    int *op_rc, const char **why, bool *cut)
{
	uint8_t key[SUBJ_KEY_LEN];
	uint8_t *val;
	enum qiao_role role;
	crdt_cert c;
	bool ok;
	int rc;

	if (crdt_cert_decode(&c, body, len, why) != QIAO_OK) {
		*op_rc = QIAO_EMALFORMED;
		return QIAO_OK;
	}
	role = conf_role_parse(c.role);
	if (role != QIAO_ROLE_DISTRICT && role != QIAO_ROLE_TOWN &&
	    role != QIAO_ROLE_VILLAGE) {
		*why = "enrol: role must be district, town or village";
		*op_rc = QIAO_EMALFORMED;
		return QIAO_OK;
	}
	if (!conf_region_ok(c.region) ||
	    strlen(c.region) != conf_role_region_len(role)) {
		*why = "enrol: region code has the wrong length for the role";
		*op_rc = QIAO_EMALFORMED;
		return QIAO_OK;
	}
	if (!may_enrol(issuer, role, c.region)) {
		*why = "enrol: the issuer may not enrol this role or region";
		*op_rc = QIAO_EUNAUTH;
		return QIAO_OK;
	}
	if (c.has_supersedes) {
		if ((rc = may_revoke(n, txn, e->author, issuer, c.supersedes,
			 &ok)) != QIAO_OK)
			return rc;
		if (!ok) {
			*why = "enrol: the issuer may not supersede that key";
			*op_rc = QIAO_EUNAUTH;
			return QIAO_OK;
		}
	}
	memcpy(key, c.subject, QIAO_KEY_LEN);
	memcpy(key + QIAO_KEY_LEN, e->hash, QIAO_HASH_LEN);
	if ((val = malloc(QIAO_KEY_LEN + len)) == NULL)
		return QIAO_ENOMEM;
	memcpy(val, e->author, QIAO_KEY_LEN);
	memcpy(val + QIAO_KEY_LEN, body, len);
	rc = node_store_put(txn, NODE_TB_CERTS, key, sizeof(key), val,
	    QIAO_KEY_LEN + len);
	free(val);
	if (rc == QIAO_OK && c.has_supersedes)
		rc = add_revoke(txn, c.supersedes, c.after, e, cut);
	*op_rc = QIAO_OK;
	return rc;
}

static int
apply_revoke(node *n, node_txn *txn, const crdt_entry *e,
    const node_trust_id *issuer, const uint8_t *body, size_t len,
    int *op_rc, const char **why, bool *cut)
{
	crdt_revoke r;
	bool ok;
	int rc;

	if (crdt_revoke_decode(&r, body, len, why) != QIAO_OK) {
		*op_rc = QIAO_EMALFORMED;
		return QIAO_OK;
	}
	if ((rc = may_revoke(n, txn, e->author, issuer, r.subject, &ok)) != 0)
		return rc;
	if (!ok) {
		*why = "revoke: the issuer may not revoke that key";
		*op_rc = QIAO_EUNAUTH;
		return QIAO_OK;
	}
	*op_rc = QIAO_OK;
	return add_revoke(txn, r.subject, r.after, e, cut);
}

int
node_trust_apply(node *n, node_txn *txn, const crdt_entry *e,
    const uint8_t *body, size_t len, int *op_rc, const char **why, bool *cut)
{
	node_trust_id issuer;
	int rc;

	*op_rc = QIAO_OK;
	rc = node_trust_lookup(n, txn, e->author, &issuer);
	if (rc == QIAO_EUNKNOWN) {
		*why = "the issuer is not enrolled";
		*op_rc = QIAO_EUNAUTH;
		return QIAO_OK;
	}
	if (rc != QIAO_OK)
		return rc;
	if (e->type == QIAO_T_ENROL)
		return apply_enrol(n, txn, e, &issuer, body, len, op_rc, why,
		    cut);
	if (e->type == QIAO_T_REVOKE)
		return apply_revoke(n, txn, e, &issuer, body, len, op_rc, why,
		    cut);
	return QIAO_OK;
}

/* Rebuild: the trust entries of every log, folded until nothing changes. */

struct pending {
	uint8_t author[QIAO_KEY_LEN];
	uint64_t seq;
	bool done;
};

struct collect {
	struct pending *v;
	size_t n, cap;
};

static int
on_entry(void *ctx, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	struct collect *c = ctx;
	crdt_entry e;

	(void)key;
	if (klen != QIAO_KEY_LEN + 8 ||
	    crdt_entry_parse(&e, val, vlen, NULL, NULL) != QIAO_OK)
		return QIAO_ESTORE;
	if (e.type != QIAO_T_ENROL && e.type != QIAO_T_REVOKE)
		return 0;
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 64;
		struct pending *v = realloc(c->v, cap * sizeof(*v));

		if (v == NULL)
			return QIAO_ENOMEM;
		c->v = v;
		c->cap = cap;
	}
	memcpy(c->v[c->n].author, e.author, QIAO_KEY_LEN);
	c->v[c->n].seq = e.seq;
	c->v[c->n].done = false;
	c->n++;
	return 0;
}

static int
fold_pending(node *n, node_txn *txn, struct collect *c, bool *cut)
{
	bool progress = true;
	int rc;

	while (progress) {
		progress = false;
		for (size_t i = 0; i < c->n; i++) {
			const uint8_t *body;
			const char *why = NULL;
			crdt_entry e;
			size_t len;
			int op_rc;

			if (c->v[i].done)
				continue;
			rc = node_store_entry_get(txn, c->v[i].author,
			    c->v[i].seq, &e);
			if (rc == QIAO_ENOTFOUND) { /* cut meanwhile */
				c->v[i].done = true;
				continue;
			}
			if (rc != QIAO_OK)
				return rc;
			if (node_trust_check(n, txn, &e, NULL, &why) != QIAO_OK)
				continue; /* perhaps once its issuer is in */
			rc = node_store_body_get(txn, e.body_hash, &body, &len);
			if (rc == QIAO_OK)
				rc = node_trust_apply(n, txn, &e, body, len,
				    &op_rc, &why, cut);
			if (rc != QIAO_OK && rc != QIAO_ENOTFOUND)
				return rc;
			c->v[i].done = true;
			progress = true;
		}
	}
	return QIAO_OK;
}

struct untrusted {
	node *n;
	node_txn *txn;
	uint8_t (*keys)[QIAO_KEY_LEN];
	size_t count, cap;
};

static int
on_head(void *ctx, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	struct untrusted *u = ctx;
	node_trust_id id;
	int rc;

	(void)val;
	(void)vlen;
	if (klen != QIAO_KEY_LEN)
		return QIAO_ESTORE;
	rc = node_trust_lookup(u->n, u->txn, key, &id);
	if (rc == QIAO_OK)
		return 0;
	if (rc != QIAO_EUNKNOWN)
		return rc;
	if (u->count == u->cap) {
		size_t cap = u->cap ? 2 * u->cap : 16;
		void *k = realloc(u->keys, cap * QIAO_KEY_LEN);

		if (k == NULL)
			return QIAO_ENOMEM;
		u->keys = k;
		u->cap = cap;
	}
	memcpy(u->keys[u->count++], key, QIAO_KEY_LEN);
	return 0;
}

int
node_trust_rebuild(node *n, node_txn *txn, bool *cut)
{
	for (;;) {
		struct collect c = { 0 };
		struct untrusted u = { n, txn, NULL, 0, 0 };
		int rc;

		if ((rc = node_store_clear(txn, NODE_TB_CERTS)) != QIAO_OK ||
		    (rc = node_store_clear(txn, NODE_TB_REVOKES)) != QIAO_OK)
			return rc;
		rc = node_store_scan(txn, NODE_TB_ENTRIES, NULL, 0, on_entry,
		    &c);
		if (rc == QIAO_OK)
			rc = fold_pending(n, txn, &c, cut);
		free(c.v);
		if (rc == QIAO_OK)
			rc = node_store_scan(txn, NODE_TB_HEADS, NULL, 0,
			    on_head, &u);
		/* Logs whose authors lost every certificate go; what they
		 * enrolled may go with them, so fold again. */
		for (size_t i = 0; rc == QIAO_OK && i < u.count; i++)
			rc = cut_beyond(txn, u.keys[i], 0,
			    "the author's enrolment was withdrawn", cut);
		free(u.keys);
		if (rc != QIAO_OK || u.count == 0)
			return rc;
	}
}
