#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crdt/cert.h"
#include "crdt/hex.h"
#include "crdt/hlc.h"
#include "crdt/trustrule.h"
#include "crdt/types.h"
#include "node/log.h"
#include "node/trust.h"

#define SUBJ_KEY_LEN (QIAO_KEY_LEN + QIAO_HASH_LEN)
#define CERT_HDR_LEN (QIAO_KEY_LEN + 16) /* issuer seq hlc, then the body */
#define REV_LEN (8 + QIAO_KEY_LEN + 16)  /* after issuer seq hlc */

/* The evaluator speaks crdt's roles; conf's are the same values. */
_Static_assert((int)QIAO_ROLE_NONE == (int)CRDT_ROLE_NONE &&
	(int)QIAO_ROLE_VILLAGE == (int)CRDT_ROLE_VILLAGE &&
	(int)QIAO_ROLE_TOWN == (int)CRDT_ROLE_TOWN &&
	(int)QIAO_ROLE_DISTRICT == (int)CRDT_ROLE_DISTRICT &&
	(int)QIAO_ROLE_ROOT == (int)CRDT_ROLE_ROOT,
    "enum qiao_role and enum crdt_role must line up");

static const char WHY_PEER_UNKNOWN[] =
    "not enrolled: no certificate of this key counts here";
static const char WHY_PEER_REVOKED[] = "the key is revoked";
static const char WHY_PEER_EXPIRED[] = "the key's enrolment has expired";

bool
node_trust_region_covers(const char *region, const char *code)
{
	return crdt_trust_covers(region, code);
}

static bool
same_key(const uint8_t *a, const uint8_t *b)
{
	return a != NULL && b != NULL && memcmp(a, b, QIAO_KEY_LEN) == 0;
}

/*
 * The rows of one subject, copied out of the store. A question reads the
 * same issuers again and again, and the evaluator holds several subjects'
 * rows at once, so each subject is read once per question and kept until
 * it ends (the transaction does not change meanwhile).
 */
struct subject_rows {
	uint8_t subject[QIAO_KEY_LEN];
	crdt_trustrule_cert *c;
	size_t nc, capc;
	crdt_trustrule_rev *r;
	size_t nr, capr;
};

/* One question over the tables: the evaluator, its row source and the
 * subjects read so far, sorted by key. */
struct question {
	crdt_trustrule q;
	crdt_trustrule_src src;
	crdt_trustrule_cert self; /* the node on its config */
	node_txn *txn;
	struct subject_rows **v;
	size_t n, cap;
};

static int
on_cert_row(void *ctx, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	struct subject_rows *rs = ctx;
	const uint8_t *v = val;
	crdt_trustrule_cert *c;

	if (klen != SUBJ_KEY_LEN || vlen < CERT_HDR_LEN)
		return QIAO_ESTORE;
	if (rs->nc == rs->capc) {
		size_t cap = rs->capc ? 2 * rs->capc : 4;
		crdt_trustrule_cert *p = realloc(rs->c, cap * sizeof(*p));

		if (p == NULL)
			return QIAO_ENOMEM;
		rs->c = p;
		rs->capc = cap;
	}
	c = &rs->c[rs->nc];
	memset(c, 0, sizeof(*c));
	memcpy(c->subject, key, QIAO_KEY_LEN);
	memcpy(c->hash, (const uint8_t *)key + QIAO_KEY_LEN, QIAO_HASH_LEN);
	memcpy(c->issuer, v, QIAO_KEY_LEN);
	c->seq = node_store_rd64(v + QIAO_KEY_LEN);
	c->ms = crdt_hlc_ms(node_store_rd64(v + QIAO_KEY_LEN + 8));
	/* Only well-formed certificates are ever stored. */
	if (crdt_cert_decode(&c->c, v + CERT_HDR_LEN, vlen - CERT_HDR_LEN,
		NULL) != QIAO_OK)
		return QIAO_ESTORE;
	c->role = (enum crdt_role)conf_role_parse(c->c.role);
	rs->nc++;
	return 0;
}

static int
on_rev_row(void *ctx, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	struct subject_rows *rs = ctx;
	const uint8_t *v = val;
	crdt_trustrule_rev *r;

	if (klen != SUBJ_KEY_LEN || vlen != REV_LEN)
		return QIAO_ESTORE;
	if (rs->nr == rs->capr) {
		size_t cap = rs->capr ? 2 * rs->capr : 4;
		crdt_trustrule_rev *p = realloc(rs->r, cap * sizeof(*p));

		if (p == NULL)
			return QIAO_ENOMEM;
		rs->r = p;
		rs->capr = cap;
	}
	r = &rs->r[rs->nr++];
	memcpy(r->subject, key, QIAO_KEY_LEN);
	memcpy(r->hash, (const uint8_t *)key + QIAO_KEY_LEN, QIAO_HASH_LEN);
	r->after = node_store_rd64(v);
	memcpy(r->issuer, v + 8, QIAO_KEY_LEN);
	r->seq = node_store_rd64(v + 8 + QIAO_KEY_LEN);
	r->ms = crdt_hlc_ms(node_store_rd64(v + 16 + QIAO_KEY_LEN));
	return 0;
}

static void
subject_rows_free(struct subject_rows *rs)
{
	if (rs == NULL)
		return;
	free(rs->c);
	free(rs->r);
	free(rs);
}

/* The row source of crdt/trustrule.c: subject's rows, read from the
 * tables on first use in the question. */
static int
load_rows(void *ctx, const uint8_t subject[QIAO_KEY_LEN],
    crdt_trustrule_rows *out)
{
	struct question *qu = ctx;
	struct subject_rows *rs;
	size_t lo = 0, hi = qu->n;
	int rc;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (memcmp(qu->v[mid]->subject, subject, QIAO_KEY_LEN) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == qu->n || !same_key(qu->v[lo]->subject, subject)) {
		if (qu->n == qu->cap) {
			size_t cap = qu->cap ? 2 * qu->cap : 8;
			struct subject_rows **p =
			    realloc(qu->v, cap * sizeof(struct subject_rows *));

			if (p == NULL)
				return QIAO_ENOMEM;
			qu->v = p;
			qu->cap = cap;
		}
		if ((rs = calloc(1, sizeof(*rs))) == NULL)
			return QIAO_ENOMEM;
		if ((rc = node_store_scan(qu->txn, NODE_TB_CERTS, subject,
			 QIAO_KEY_LEN, on_cert_row, rs)) != QIAO_OK ||
		    (rc = node_store_scan(qu->txn, NODE_TB_REVOKES, subject,
			 QIAO_KEY_LEN, on_rev_row, rs)) != QIAO_OK) {
			subject_rows_free(rs);
			return rc;
		}
		memcpy(rs->subject, subject, QIAO_KEY_LEN);
		memmove(qu->v + lo + 1, qu->v + lo,
		    (qu->n - lo) * sizeof(struct subject_rows *));
		qu->v[lo] = rs;
		qu->n++;
	}
	rs = qu->v[lo];
	out->c = rs->c;
	out->nc = rs->nc;
	out->r = rs->r;
	out->nr = rs->nr;
	return QIAO_OK;
}

/*
 * Starts a question. The node's own key stands on its config (role,
 * region, name) while no certificate of it counts: a station not yet
 * enrolled records locally, and its entries are accepted elsewhere once
 * its enrolment arrives.
 */
static void
question_begin(struct question *qu, node *n, node_txn *txn)
{
	const qiao_conf *cf = node_get_conf(n);
	crdt_trustrule_cert *c = &qu->self;

	memset(qu, 0, sizeof(*qu));
	qu->txn = txn;
	c->role = (enum crdt_role)cf->role;
	snprintf(c->c.role, sizeof(c->c.role), "%s",
	    conf_role_name(cf->role) ? conf_role_name(cf->role) : "");
	snprintf(c->c.region, sizeof(c->c.region), "%s", cf->region);
	snprintf(c->c.name, sizeof(c->c.name), "%s", cf->name);
	qu->src.root = node_root(n);
	qu->src.self = node_self(n);
	qu->src.self_cert = c;
	qu->src.load = load_rows;
	qu->src.ctx = qu;
	crdt_trustrule_begin(&qu->q, &qu->src);
}

/* Ends a question: frees its rows; returns its first store error. */
static int
question_end(struct question *qu)
{
	for (size_t i = 0; i < qu->n; i++)
		subject_rows_free(qu->v[i]);
	free(qu->v);
	return crdt_trustrule_err(&qu->q);
}

/* The node's form of the identity best gives: with the key it supersedes
 * when its issuer could withdraw that key. */
static void
fill_id(struct question *qu, const crdt_trust_id *cid,
    const crdt_trustrule_cert *best, node_trust_id *id)
{
	memset(id, 0, sizeof(*id));
	id->role = (enum qiao_role)cid->role;
	snprintf(id->region, sizeof(id->region), "%s", cid->region);
	snprintf(id->name, sizeof(id->name), "%s", cid->name);
	memcpy(id->issuer, cid->issuer, QIAO_KEY_LEN);
	id->until = cid->until;
	id->revoked_after = cid->revoked_after;
	if (best != NULL && best->c.has_supersedes &&
	    crdt_trustrule_standing(&qu->q, best->issuer, best->seq, best->ms,
		best->c.supersedes)) {
		id->has_supersedes = true;
		memcpy(id->supersedes, best->c.supersedes, QIAO_KEY_LEN);
		id->supersedes_after = best->c.after;
	}
}

static const char *
why_peer(int rc)
{
	switch (rc) {
	case QIAO_EREVOKED:
		return WHY_PEER_REVOKED;
	case QIAO_EEXPIRED:
		return WHY_PEER_EXPIRED;
	default:
		return WHY_PEER_UNKNOWN;
	}
}

/* One top-level question: the store error if any, else the verdict.
 * of_best: id->revoked_after is the accepting certificate's, not the
 * key's. */
static int
ask(node *n, node_txn *txn, const uint8_t *k, uint64_t q, uint64_t t,
    bool of_best, node_trust_id *id, const char **why)
{
	struct question qu;
	const crdt_trustrule_cert *best = NULL;
	crdt_trust_id cid;
	int rc, err;

	question_begin(&qu, n, txn);
	rc = crdt_trustrule_ask(&qu.q, k, q, t, of_best,
	    id != NULL ? &cid : NULL, id != NULL ? &best : NULL);
	if (rc == QIAO_OK && id != NULL)
		fill_id(&qu, &cid, best, id);
	if ((err = question_end(&qu)) != QIAO_OK)
		return err;
	if (rc != QIAO_OK && why != NULL)
		*why = crdt_trustrule_why(rc);
	return rc;
}

int
node_trust_check(node *n, node_txn *txn, const crdt_entry *e,
    node_trust_id *id, const char **why)
{
	return ask(n, txn, e->author, e->seq, crdt_hlc_ms(e->hlc), true, id,
	    why);
}

int
node_trust_lookup(node *n, node_txn *txn, const uint8_t author[QIAO_KEY_LEN],
    node_trust_id *id)
{
	node_trust_id t;
	int rc = ask(n, txn, author, 0, 0, false, &t, NULL);

	if (rc == QIAO_OK)
		*id = t;
	return rc;
}

int
node_trust_peer(node *n, node_txn *txn, const uint8_t key[QIAO_KEY_LEN],
    uint64_t now_ms, node_trust_id *id, const char **why)
{
	node_trust_id t;
	int rc;

	if (same_key(key, node_self(n))) {
		if (why != NULL)
			*why = "the peer presents this node's own key";
		return QIAO_EUNKNOWN;
	}
	rc = ask(n, txn, key, UINT64_MAX, now_ms ? now_ms : 1, false, &t,
	    NULL);
	if (rc == QIAO_OK && id != NULL)
		*id = t;
	if ((rc == QIAO_EUNKNOWN || rc == QIAO_EREVOKED || rc == QIAO_EEXPIRED) &&
	    why != NULL)
		*why = why_peer(rc);
	return rc;
}

int
node_trust_link_verify(void *ctx, const uint8_t peer[QIAO_KEY_LEN],
    const char **why)
{
	node *n = ctx;
	char hex[2 * QIAO_KEY_LEN + 1];
	node_txn *txn;
	int rc;

	*why = NULL;
	if ((rc = node_store_txn_begin(node_get_store(n), false, &txn)) != 0) {
		*why = "the store could not be read";
		return rc;
	}
	rc = node_trust_peer(n, txn, peer, node_now_ms(n), NULL, why);
	node_store_txn_abort(txn);
	if (rc != QIAO_OK) {
		crdt_hex_encode(hex, peer, QIAO_KEY_LEN);
		node_log(NODE_LOG_WARN, "link", "refused peer %s: %s", hex,
		    *why ? *why : qiao_strerror(rc));
	}
	return rc;
}

/* Rows: written when a trust entry is folded, dropped when it is cut. */

static void
row_key(uint8_t key[SUBJ_KEY_LEN], const uint8_t *subject,
    const uint8_t *hash)
{
	memcpy(key, subject, QIAO_KEY_LEN);
	memcpy(key + QIAO_KEY_LEN, hash, QIAO_HASH_LEN);
}

static int
put_revoke_row(node_txn *txn, const uint8_t *subject, uint64_t after,
    const crdt_entry *e)
{
	uint8_t key[SUBJ_KEY_LEN], val[REV_LEN];

	row_key(key, subject, e->hash);
	node_store_be64(val, after);
	memcpy(val + 8, e->author, QIAO_KEY_LEN);
	node_store_be64(val + 8 + QIAO_KEY_LEN, e->seq);
	node_store_be64(val + 16 + QIAO_KEY_LEN, e->hlc);
	return node_store_put(txn, NODE_TB_REVOKES, key, sizeof(key), val,
	    sizeof(val));
}

static int
put_cert_row(node_txn *txn, const crdt_cert *c, const crdt_entry *e,
    const uint8_t *body, size_t len)
{
	uint8_t key[SUBJ_KEY_LEN];
	uint8_t *val;
	int rc;

	row_key(key, c->subject, e->hash);
	if ((val = malloc(CERT_HDR_LEN + len)) == NULL)
		return QIAO_ENOMEM;
	memcpy(val, e->author, QIAO_KEY_LEN);
	node_store_be64(val + QIAO_KEY_LEN, e->seq);
	node_store_be64(val + QIAO_KEY_LEN + 8, e->hlc);
	memcpy(val + CERT_HDR_LEN, body, len);
	rc = node_store_put(txn, NODE_TB_CERTS, key, sizeof(key), val,
	    CERT_HDR_LEN + len);
	free(val);
	if (rc == QIAO_OK && c->has_supersedes)
		rc = put_revoke_row(txn, c->supersedes, c->after, e);
	return rc;
}

/*
 * Decodes a trust body and checks what needs no trust state. *op_rc is
 * QIAO_OK when the body makes rows (*cert or *rev filled), else
 * QIAO_EMALFORMED / QIAO_EUNAUTH with *why.
 */
static void
decode_trust(node *n, const crdt_entry *e, const uint8_t *body, size_t len,
    crdt_cert *cert, crdt_revoke *rev, int *op_rc, const char **why)
{
	enum qiao_role role;

	*op_rc = QIAO_OK;
	if (e->type == QIAO_T_REVOKE) {
		if (crdt_revoke_decode(rev, body, len, why) != QIAO_OK) {
			*op_rc = QIAO_EMALFORMED;
		} else if (same_key(rev->subject, node_root(n))) {
			*why = "revoke: the root key cannot be revoked";
			*op_rc = QIAO_EUNAUTH;
		} else if (same_key(rev->subject, e->author) &&
		    rev->after < e->seq) {
			/* A key cannot take back what it signed before its
			 * own revocation (that would cut the revocation
			 * too): it stops right after it. */
			rev->after = e->seq;
		}
		return;
	}
	if (crdt_cert_decode(cert, body, len, why) != QIAO_OK) {
		*op_rc = QIAO_EMALFORMED;
		return;
	}
	role = conf_role_parse(cert->role);
	if (role != QIAO_ROLE_DISTRICT && role != QIAO_ROLE_TOWN &&
	    role != QIAO_ROLE_VILLAGE) {
		*why = "enrol: role must be district, town or village";
		*op_rc = QIAO_EMALFORMED;
	} else if (!conf_region_ok(cert->region) ||
	    strlen(cert->region) != conf_role_region_len(role)) {
		*why = "enrol: region code has the wrong length for the role";
		*op_rc = QIAO_EMALFORMED;
	} else if (cert->has_supersedes &&
	    same_key(cert->supersedes, cert->subject)) {
		*why = "enrol: a key cannot supersede itself";
		*op_rc = QIAO_EMALFORMED;
	} else if (same_key(cert->subject, node_root(n)) ||
	    (cert->has_supersedes &&
		same_key(cert->supersedes, node_root(n)))) {
		*why = "enrol: the root key cannot be enrolled or superseded";
		*op_rc = QIAO_EUNAUTH;
	}
}

static int
put_rows(node *n, node_txn *txn, const crdt_entry *e, const uint8_t *body,
    size_t len, int *op_rc, const char **why, bool *stored)
{
	crdt_cert cert;
	crdt_revoke rev;
	int rc;

	*stored = false;
	decode_trust(n, e, body, len, &cert, &rev, op_rc, why);
	if (*op_rc != QIAO_OK)
		return QIAO_OK;
	if (e->type == QIAO_T_REVOKE)
		rc = put_revoke_row(txn, rev.subject, rev.after, e);
	else
		rc = put_cert_row(txn, &cert, e, body, len);
	*stored = rc == QIAO_OK;
	return rc;
}

int
node_trust_apply(node *n, node_txn *txn, const crdt_entry *e,
    const uint8_t *body, size_t len, int *op_rc, const char **why,
    bool *changed)
{
	struct question qu;
	uint64_t t = crdt_hlc_ms(e->hlc);
	crdt_cert cert;
	crdt_revoke rev;
	bool stored;
	int rc;

	*op_rc = QIAO_OK;
	if (e->type != QIAO_T_ENROL && e->type != QIAO_T_REVOKE)
		return QIAO_OK;
	if ((rc = put_rows(n, txn, e, body, len, op_rc, why, &stored)) != 0)
		return rc;
	if (!stored)
		return QIAO_OK;
	*changed = true;
	/* The rows are judged whenever asked; this only tells the signer
	 * (and the import report) whether they count now. */
	decode_trust(n, e, body, len, &cert, &rev, op_rc, why);
	question_begin(&qu, n, txn);
	if (e->type == QIAO_T_ENROL) {
		if (!crdt_trustrule_covers(&qu.q, e->author, e->seq, t,
			(enum crdt_role)conf_role_parse(cert.role),
			cert.region)) {
			*why = "enrol: the issuer may not enrol this role or "
			       "region";
			*op_rc = QIAO_EUNAUTH;
		} else if (cert.has_supersedes &&
		    !crdt_trustrule_standing(&qu.q, e->author, e->seq, t,
			cert.supersedes)) {
			*why = "enrol: the issuer may not supersede that key";
			*op_rc = QIAO_EUNAUTH;
		}
	} else if (!crdt_trustrule_standing(&qu.q, e->author, e->seq, t,
		       rev.subject)) {
		*why = "revoke: the issuer may not revoke that key";
		*op_rc = QIAO_EUNAUTH;
	}
	return question_end(&qu);
}

/* Drops the rows a trust entry made (it is leaving the log). */
static int
drop_rows(node_txn *txn, const crdt_entry *e)
{
	uint8_t key[SUBJ_KEY_LEN];
	const uint8_t *body;
	crdt_cert cert;
	crdt_revoke rev;
	size_t len;
	int rc = node_store_body_get(txn, e->body_hash, &body, &len);

	if (rc == QIAO_ENOTFOUND)
		return QIAO_OK;
	if (rc != QIAO_OK)
		return rc;
	if (e->type == QIAO_T_REVOKE) {
		if (crdt_revoke_decode(&rev, body, len, NULL) != QIAO_OK)
			return QIAO_OK;
		row_key(key, rev.subject, e->hash);
		return node_store_del(txn, NODE_TB_REVOKES, key, sizeof(key));
	}
	if (crdt_cert_decode(&cert, body, len, NULL) != QIAO_OK)
		return QIAO_OK;
	row_key(key, cert.subject, e->hash);
	if ((rc = node_store_del(txn, NODE_TB_CERTS, key, sizeof(key))) != 0 ||
	    !cert.has_supersedes)
		return rc;
	row_key(key, cert.supersedes, e->hash);
	return node_store_del(txn, NODE_TB_REVOKES, key, sizeof(key));
}

/* Moves subject's entries beyond after out of the log into `refused`. */
static int
cut_beyond(node_txn *txn, const uint8_t *subject, uint64_t after,
    const char *reason)
{
	node_head head;
	crdt_entry e;
	uint8_t key[QIAO_KEY_LEN + 8];
	int rc = node_store_head_get(txn, subject, &head);

	if (rc == QIAO_ENOTFOUND || (rc == QIAO_OK && head.seq <= after))
		return QIAO_OK;
	if (rc != QIAO_OK)
		return rc;
	for (uint64_t seq = after + 1; seq <= head.seq; seq++) {
		rc = node_store_entry_get(txn, subject, seq, &e);
		if (rc == QIAO_ENOTFOUND)
			continue;
		memcpy(key, subject, QIAO_KEY_LEN);
		node_store_be64(key + QIAO_KEY_LEN, seq);
		if (rc != QIAO_OK ||
		    ((e.type == QIAO_T_ENROL || e.type == QIAO_T_REVOKE) &&
			(rc = drop_rows(txn, &e)) != QIAO_OK) ||
		    (rc = node_store_refused_put(txn, &e, NODE_REFUSED_CUT,
			 reason)) != QIAO_OK ||
		    (rc = node_store_del(txn, NODE_TB_ENTRIES, key,
			 sizeof(key))) != QIAO_OK ||
		    (rc = node_store_del(txn, NODE_TB_BYHASH, e.hash,
			 QIAO_HASH_LEN)) != QIAO_OK)
			return rc;
	}
	if (after == 0)
		return node_store_head_del(txn, subject);
	if ((rc = node_store_entry_get(txn, subject, after, &e)) != QIAO_OK)
		return rc;
	head.seq = after;
	memcpy(head.hash, e.hash, QIAO_HASH_LEN);
	head.hlc = e.hlc;
	return node_store_head_put(txn, subject, &head);
}

struct keylist {
	uint8_t (*v)[QIAO_KEY_LEN];
	size_t n, cap;
};

static int
on_head_key(void *ctx, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	struct keylist *l = ctx;

	(void)val;
	(void)vlen;
	if (klen != QIAO_KEY_LEN)
		return QIAO_ESTORE;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		void *p = realloc(l->v, cap * QIAO_KEY_LEN);

		if (p == NULL)
			return QIAO_ENOMEM;
		l->v = p;
		l->cap = cap;
	}
	memcpy(l->v[l->n++], key, QIAO_KEY_LEN);
	return 0;
}

static int
entry_ok(node *n, node_txn *txn, const uint8_t *k, uint64_t seq, int *verdict)
{
	crdt_entry e;
	int rc;

	if ((rc = node_store_entry_get(txn, k, seq, &e)) != QIAO_OK)
		return rc;
	rc = node_trust_check(n, txn, &e, NULL, NULL);
	if (rc == QIAO_OK || rc == QIAO_EUNKNOWN || rc == QIAO_EREVOKED ||
	    rc == QIAO_EEXPIRED) {
		*verdict = rc;
		return QIAO_OK;
	}
	return rc;
}

/*
 * Checks one log. Whether an entry passes only falls along a log (cut-offs
 * are seqs, expiry is a time and times increase along a log), so the head
 * answers for all, and a binary search finds where passing stops.
 */
static int
recheck(node *n, node_txn *txn, const uint8_t *k, bool *cut)
{
	node_head h;
	uint64_t lo, hi;
	int rc, verdict, first;

	if ((rc = node_store_head_get(txn, k, &h)) != QIAO_OK)
		return rc == QIAO_ENOTFOUND ? QIAO_OK : rc;
	if ((rc = entry_ok(n, txn, k, h.seq, &verdict)) != QIAO_OK)
		return rc;
	if (verdict == QIAO_OK)
		return QIAO_OK;
	first = verdict;
	lo = 1;
	hi = h.seq; /* fails */
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;

		if ((rc = entry_ok(n, txn, k, mid, &verdict)) != QIAO_OK)
			return rc;
		if (verdict == QIAO_OK) {
			lo = mid + 1;
		} else {
			hi = mid;
			first = verdict;
		}
	}
	*cut = true;
	return cut_beyond(txn, k, lo - 1, crdt_trustrule_why(first));
}

int
node_trust_revalidate(node *n, node_txn *txn, bool *cut)
{
	for (;;) {
		struct keylist l = { 0 };
		bool any = false;
		int rc;

		rc = node_store_scan(txn, NODE_TB_HEADS, NULL, 0, on_head_key,
		    &l);
		/*
		 * Never the node's own log. What it recorded stays in its
		 * state whatever others decide (a certificate with a wrong end
		 * date, a revocation undone later), and its next seq stays
		 * free: cutting it would let the node sign those seqs again,
		 * a fork of its own log everywhere. While it is not trusted,
		 * node_append refuses new entries instead.
		 */
		for (size_t i = 0; rc == QIAO_OK && l.v != NULL && i < l.n; i++)
			if (!same_key(l.v[i], node_self(n)))
				rc = recheck(n, txn, l.v[i], &any);
		free(l.v);
		if (rc != QIAO_OK)
			return rc;
		if (!any)
			return QIAO_OK;
		/* Cut trust entries took their rows: judge again. */
		*cut = true;
	}
}

/* Rebuild: every trust entry in the logs makes its rows again. */

struct refold {
	node *n;
	node_txn *txn;
	struct { uint8_t author[QIAO_KEY_LEN]; uint64_t seq; } *v;
	size_t count, cap;
};

static int
on_trust_entry(void *ctx, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	struct refold *f = ctx;
	crdt_entry e;

	(void)key;
	if (klen != QIAO_KEY_LEN + 8 ||
	    crdt_entry_parse(&e, val, vlen, NULL, NULL) != QIAO_OK)
		return QIAO_ESTORE;
	if (e.type != QIAO_T_ENROL && e.type != QIAO_T_REVOKE)
		return 0;
	if (f->count == f->cap) {
		size_t cap = f->cap ? 2 * f->cap : 64;
		void *p = realloc(f->v, cap * sizeof(*f->v));

		if (p == NULL)
			return QIAO_ENOMEM;
		f->v = p;
		f->cap = cap;
	}
	memcpy(f->v[f->count].author, e.author, QIAO_KEY_LEN);
	f->v[f->count++].seq = e.seq;
	return 0;
}

int
node_trust_rebuild(node *n, node_txn *txn, bool *cut)
{
	struct refold f = { .n = n, .txn = txn };
	int rc;

	if ((rc = node_store_clear(txn, NODE_TB_CERTS)) != QIAO_OK ||
	    (rc = node_store_clear(txn, NODE_TB_REVOKES)) != QIAO_OK)
		return rc;
	/* Collect first: rows are written into other tables, but the scan's
	 * pointers must not outlive a write. */
	rc = node_store_scan(txn, NODE_TB_ENTRIES, NULL, 0, on_trust_entry,
	    &f);
	for (size_t i = 0; rc == QIAO_OK && i < f.count; i++) {
		const uint8_t *body;
		const char *why = NULL;
		crdt_entry e;
		size_t len;
		bool stored;
		int op_rc;

		if ((rc = node_store_entry_get(txn, f.v[i].author, f.v[i].seq,
			 &e)) != QIAO_OK)
			break;
		rc = node_store_body_get(txn, e.body_hash, &body, &len);
		if (rc == QIAO_ENOTFOUND) {
			rc = QIAO_OK;
			continue;
		}
		if (rc == QIAO_OK)
			rc = put_rows(n, txn, &e, body, len, &op_rc, &why,
			    &stored);
	}
	free(f.v);
	if (rc != QIAO_OK)
		return rc;
	return node_trust_revalidate(n, txn, cut);
}
