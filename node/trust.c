#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crdt/cert.h"
#include "crdt/hex.h"
#include "crdt/hlc.h"
#include "crdt/types.h"
#include "node/log.h"
#include "node/trust.h"

#define SUBJ_KEY_LEN (QIAO_KEY_LEN + QIAO_HASH_LEN)
#define CERT_HDR_LEN (QIAO_KEY_LEN + 16) /* issuer seq hlc, then the body */
#define REV_LEN (8 + QIAO_KEY_LEN + 16)  /* after issuer seq hlc */

/*
 * Questions nest: is the issuer of this certificate entitled, is the
 * revoker of that one... Each step goes up a rank (village, town,
 * district, root), or down the seqs of one key's own revocations, so real
 * chains are a few steps long. Anything deeper is an attack on the
 * evaluator and fails closed.
 */
#define DEPTH_MAX 16

/*
 * Depth alone does not bound the work: certificates are stored whoever
 * signed them, so one enrolled station can publish enrolments among keys
 * it made (each "enrolling" the others) and every question about them
 * fans out at each of the 16 levels; a node asked one would spin for
 * hours. A question weighing more than WORK_MAX certificates fails
 * closed ("not enrolled"); a real chain weighs a handful.
 * crdt/trustset.c mirrors this, so the offline verifier agrees.
 */
#define WORK_MAX 20000

enum { RANK_NONE, RANK_VILLAGE, RANK_TOWN, RANK_DISTRICT, RANK_ROOT };

static const char WHY_UNKNOWN[] =
    "the author is not enrolled (no certificate of it counts)";
static const char WHY_REVOKED[] =
    "the author's key was revoked before this entry";
static const char WHY_EXPIRED[] =
    "the author's enrolment had expired at the entry's time";
static const char WHY_PEER_UNKNOWN[] =
    "not enrolled: no certificate of this key counts here";
static const char WHY_PEER_REVOKED[] = "the key is revoked";
static const char WHY_PEER_EXPIRED[] = "the key's enrolment has expired";

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

static int
rank(enum qiao_role r)
{
	switch (r) {
	case QIAO_ROLE_VILLAGE:
		return RANK_VILLAGE;
	case QIAO_ROLE_TOWN:
		return RANK_TOWN;
	case QIAO_ROLE_DISTRICT:
		return RANK_DISTRICT;
	case QIAO_ROLE_ROOT:
		return RANK_ROOT;
	default:
		return RANK_NONE;
	}
}

/* May a holder of (irole, iregion) issue or withdraw (role, region)? */
static bool
may_issue(enum qiao_role irole, const char *iregion, enum qiao_role role,
    const char *region)
{
	if (irole == QIAO_ROLE_ROOT)
		return true;
	if (irole != QIAO_ROLE_DISTRICT && irole != QIAO_ROLE_TOWN)
		return false;
	return rank(role) < rank(irole) &&
	    node_trust_region_covers(iregion, region);
}

/* The rows of one subject, copied out of the store. */

struct certrow {
	uint8_t hash[QIAO_HASH_LEN]; /* of the enrol entry */
	uint8_t issuer[QIAO_KEY_LEN];
	uint64_t seq, hlc; /* of the enrol entry */
	enum qiao_role role;
	bool pseudo; /* the node itself, on its config */
	crdt_cert c;
};

struct revrow {
	uint8_t issuer[QIAO_KEY_LEN];
	uint64_t seq, hlc, after;
};

struct rows {
	struct certrow *c;
	size_t nc, capc;
	struct revrow *r;
	size_t nr, capr;
};

static void
rows_free(struct rows *rs)
{
	free(rs->c);
	free(rs->r);
}

static int
on_cert_row(void *ctx, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	struct rows *rs = ctx;
	const uint8_t *v = val;
	struct certrow *c;

	if (klen != SUBJ_KEY_LEN || vlen < CERT_HDR_LEN)
		return QIAO_ESTORE;
	if (rs->nc == rs->capc) {
		size_t cap = rs->capc ? 2 * rs->capc : 4;
		struct certrow *p = realloc(rs->c, cap * sizeof(*p));

		if (p == NULL)
			return QIAO_ENOMEM;
		rs->c = p;
		rs->capc = cap;
	}
	c = &rs->c[rs->nc];
	memset(c, 0, sizeof(*c));
	memcpy(c->hash, (const uint8_t *)key + QIAO_KEY_LEN, QIAO_HASH_LEN);
	memcpy(c->issuer, v, QIAO_KEY_LEN);
	c->seq = node_store_rd64(v + QIAO_KEY_LEN);
	c->hlc = node_store_rd64(v + QIAO_KEY_LEN + 8);
	/* Only well-formed certificates are ever stored. */
	if (crdt_cert_decode(&c->c, v + CERT_HDR_LEN, vlen - CERT_HDR_LEN,
		NULL) != QIAO_OK)
		return QIAO_ESTORE;
	c->role = conf_role_parse(c->c.role);
	rs->nc++;
	return 0;
}

static int
on_rev_row(void *ctx, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	struct rows *rs = ctx;
	const uint8_t *v = val;
	struct revrow *r;

	(void)key;
	if (klen != SUBJ_KEY_LEN || vlen != REV_LEN)
		return QIAO_ESTORE;
	if (rs->nr == rs->capr) {
		size_t cap = rs->capr ? 2 * rs->capr : 4;
		struct revrow *p = realloc(rs->r, cap * sizeof(*p));

		if (p == NULL)
			return QIAO_ENOMEM;
		rs->r = p;
		rs->capr = cap;
	}
	r = &rs->r[rs->nr++];
	r->after = node_store_rd64(v);
	memcpy(r->issuer, v + 8, QIAO_KEY_LEN);
	r->seq = node_store_rd64(v + 8 + QIAO_KEY_LEN);
	r->hlc = node_store_rd64(v + 16 + QIAO_KEY_LEN);
	return 0;
}

static int
load_rows(node_txn *txn, const uint8_t *subject, struct rows *rs)
{
	int rc;

	memset(rs, 0, sizeof(*rs));
	if ((rc = node_store_scan(txn, NODE_TB_CERTS, subject, QIAO_KEY_LEN,
		 on_cert_row, rs)) != QIAO_OK ||
	    (rc = node_store_scan(txn, NODE_TB_REVOKES, subject, QIAO_KEY_LEN,
		 on_rev_row, rs)) != QIAO_OK)
		rows_free(rs);
	return rc;
}

/* The node itself, before any certificate of it counts: its config. */
static void
pseudo_cert(node *n, struct certrow *c)
{
	const qiao_conf *cf = node_get_conf(n);

	memset(c, 0, sizeof(*c));
	c->pseudo = true;
	c->role = cf->role;
	snprintf(c->c.role, sizeof(c->c.role), "%s",
	    conf_role_name(cf->role) ? conf_role_name(cf->role) : "");
	snprintf(c->c.region, sizeof(c->c.region), "%s", cf->region);
	snprintf(c->c.name, sizeof(c->c.name), "%s", cf->name);
}

/* Evaluation: questions about the current set of rows. */

struct ev {
	node *n;
	node_txn *txn;
	int err; /* the first store error; every answer after it is "no" */
	int depth;
	long work;  /* judge calls in this question */
	bool over;  /* WORK_MAX ran out: every answer after it is "no" */
};

struct want {
	enum qiao_role role;
	const char *region;
};

struct verdict {
	int rc; /* QIAO_OK or why not: EUNKNOWN, EREVOKED, EEXPIRED */
	int rank, irank;
	struct certrow best;
	uint64_t best_cut; /* with want_boundary: best's last seq */
	bool root;
	uint64_t boundary; /* with want_boundary: last seq any cert allows */
};

static int judge(struct ev *v, const uint8_t *k, uint64_t q, uint64_t t,
    const struct want *w, bool self_ok, bool want_boundary,
    struct verdict *out);

static bool
is_root(const struct ev *v, const uint8_t *k)
{
	return same_key(k, node_root(v->n));
}

/* Could a, at its entry (q, t), issue or withdraw (role, region)? *irank
 * gets the rank it did so with. */
static bool
covers(struct ev *v, const uint8_t *a, uint64_t q, uint64_t t,
    enum qiao_role role, const char *region, int *irank)
{
	struct want w = { role, region };
	struct verdict vd;

	if (judge(v, a, q, t, &w, true, false, &vd) != QIAO_OK)
		return false;
	if (irank != NULL)
		*irank = vd.rank;
	return true;
}

/* Does the certificate count: was its issuer entitled to it? */
static bool
issued(struct ev *v, const struct certrow *c, int *irank)
{
	*irank = RANK_NONE;
	if (c->pseudo)
		return true;
	if (is_root(v, c->issuer)) {
		*irank = RANK_ROOT;
		return true;
	}
	return covers(v, c->issuer, c->seq, crdt_hlc_ms(c->hlc), c->role,
	    c->c.region, irank);
}

/* Does revocation r (of k) withdraw certificate c? */
static bool
applies(struct ev *v, const uint8_t *k, const struct revrow *r,
    const struct certrow *c)
{
	struct verdict vd;

	if (is_root(v, r->issuer))
		return true;
	if (same_key(r->issuer, k))
		return judge(v, k, r->seq, crdt_hlc_ms(r->hlc), NULL, true,
			   false, &vd) == QIAO_OK;
	return covers(v, r->issuer, r->seq, crdt_hlc_ms(r->hlc), c->role,
	    c->c.region, NULL);
}

/* The lowest cut-off among k's revocations below q that withdraw c, or
 * UINT64_MAX. Only those below q are weighed: that keeps a self-revocation
 * from asking about itself. */
static uint64_t
cut_of(struct ev *v, const uint8_t *k, const struct rows *rs,
    const struct certrow *c, uint64_t q)
{
	uint64_t cut = UINT64_MAX;

	for (size_t i = 0; i < rs->nr; i++) {
		const struct revrow *r = &rs->r[i];

		if (r->after < q && r->after < cut && applies(v, k, r, c))
			cut = r->after;
	}
	return cut;
}

static bool
better(const struct certrow *c, int irank, const struct verdict *out)
{
	if (out->rc != QIAO_OK)
		return true;
	if (rank(c->role) != out->rank)
		return rank(c->role) > out->rank;
	if (irank != out->irank)
		return irank > out->irank;
	return memcmp(c->hash, out->best.hash, QIAO_HASH_LEN) < 0;
}

/* Weighs one counting certificate of k for the question (q, t, w). */
static void
consider(struct ev *v, const uint8_t *k, const struct rows *rs,
    const struct certrow *c, int irank, uint64_t full_cut, uint64_t q,
    uint64_t t, const struct want *w, struct verdict *out, int *seen)
{
	if (w != NULL && !may_issue(c->role, c->c.region, w->role, w->region))
		return;
	if (cut_of(v, k, rs, c, q) < q) {
		if (*seen == QIAO_EUNKNOWN)
			*seen = QIAO_EREVOKED;
		return;
	}
	if (t != 0 && c->c.until != 0 && t > c->c.until) {
		*seen = QIAO_EEXPIRED;
		return;
	}
	if (!better(c, irank, out))
		return;
	out->rc = QIAO_OK;
	out->rank = rank(c->role);
	out->irank = irank;
	out->best = *c;
	out->best_cut = full_cut;
}

/*
 * The central question: may k sign its entry at seq q, stamped t (0: any
 * time), under a certificate that could issue w (NULL: any)? self_ok lets
 * the node's own key stand on its config while no certificate of it
 * counts. q = 0 weighs no revocation; q = UINT64_MAX weighs them all.
 * Returns out->rc; store errors go to v->err and answer "no".
 */
static int
judge(struct ev *v, const uint8_t *k, uint64_t q, uint64_t t,
    const struct want *w, bool self_ok, bool want_boundary,
    struct verdict *out)
{
	struct rows rs;
	struct certrow self;
	bool any = false;
	int seen = QIAO_EUNKNOWN, irank, rc;

	memset(out, 0, sizeof(*out));
	out->rc = QIAO_EUNKNOWN;
	out->boundary = 0;
	if (is_root(v, k)) {
		out->rc = QIAO_OK;
		out->root = true;
		out->rank = RANK_ROOT;
		out->boundary = UINT64_MAX;
		return QIAO_OK;
	}
	if (v->err != QIAO_OK || v->over || v->depth >= DEPTH_MAX)
		return out->rc;
	if (++v->work > WORK_MAX) {
		v->over = true;
		return out->rc;
	}
	if ((rc = load_rows(v->txn, k, &rs)) != QIAO_OK) {
		v->err = rc;
		return out->rc;
	}
	v->depth++;
	for (size_t i = 0; i < rs.nc; i++) {
		uint64_t full = 0;

		/* A certificate that cannot answer w is never weighed
		 * (consider() skips it), so whether it counts is not asked:
		 * that keeps every nested question a step up in rank, and
		 * junk certificates among stations cannot fan out. The
		 * node's own key is the exception: whether any certificate
		 * of it counts decides whether its config stands in. */
		if (w != NULL && !(self_ok && same_key(k, node_self(v->n))) &&
		    !may_issue(rs.c[i].role, rs.c[i].c.region, w->role,
			w->region))
			continue;
		if (!issued(v, &rs.c[i], &irank))
			continue;
		any = true;
		if (want_boundary) {
			full = cut_of(v, k, &rs, &rs.c[i], UINT64_MAX);
			if (full > out->boundary)
				out->boundary = full;
		}
		consider(v, k, &rs, &rs.c[i], irank, full, q, t, w, out,
		    &seen);
	}
	if (!any && self_ok && same_key(k, node_self(v->n))) {
		pseudo_cert(v->n, &self);
		if (want_boundary)
			out->boundary = cut_of(v, k, &rs, &self, UINT64_MAX);
		consider(v, k, &rs, &self, RANK_NONE, out->boundary, q, t, w,
		    out, &seen);
	}
	v->depth--;
	rows_free(&rs);
	if (v->over)
		out->rc = QIAO_EUNKNOWN; /* a partial answer is no answer */
	else if (out->rc != QIAO_OK)
		out->rc = seen;
	return out->rc;
}

/* Could the issuer, at entry e, withdraw some counting certificate of
 * subject? That is what lets it revoke or supersede the key. */
static bool
has_standing(struct ev *v, const uint8_t *issuer, uint64_t q, uint64_t t,
    const uint8_t *subject)
{
	struct rows rs;
	struct certrow self;
	bool any = false, ok = false;
	int irank;

	if (is_root(v, issuer) || same_key(issuer, subject))
		return true;
	if (v->err != QIAO_OK || v->depth >= DEPTH_MAX)
		return false;
	if ((v->err = load_rows(v->txn, subject, &rs)) != QIAO_OK)
		return false;
	v->depth++;
	for (size_t i = 0; i < rs.nc && !ok; i++) {
		if (!issued(v, &rs.c[i], &irank))
			continue;
		any = true;
		ok = covers(v, issuer, q, t, rs.c[i].role, rs.c[i].c.region,
		    NULL);
	}
	if (!any && !ok && same_key(subject, node_self(v->n))) {
		pseudo_cert(v->n, &self);
		ok = covers(v, issuer, q, t, self.role, self.c.region, NULL);
	}
	v->depth--;
	rows_free(&rs);
	return ok;
}

static void
fill_id(struct ev *v, const struct verdict *vd, bool of_best,
    node_trust_id *id)
{
	const struct certrow *c = &vd->best;

	memset(id, 0, sizeof(*id));
	id->revoked_after = of_best && !vd->root ? vd->best_cut : vd->boundary;
	if (vd->root) {
		id->role = QIAO_ROLE_ROOT;
		strcpy(id->name, "root");
		return;
	}
	id->role = c->role;
	snprintf(id->region, sizeof(id->region), "%s", c->c.region);
	snprintf(id->name, sizeof(id->name), "%s", c->c.name);
	memcpy(id->issuer, c->issuer, QIAO_KEY_LEN);
	id->until = c->c.until;
	if (c->c.has_supersedes &&
	    has_standing(v, c->issuer, c->seq, crdt_hlc_ms(c->hlc),
		c->c.supersedes)) {
		id->has_supersedes = true;
		memcpy(id->supersedes, c->c.supersedes, QIAO_KEY_LEN);
		id->supersedes_after = c->c.after;
	}
}

static const char *
why_of(int rc)
{
	switch (rc) {
	case QIAO_EREVOKED:
		return WHY_REVOKED;
	case QIAO_EEXPIRED:
		return WHY_EXPIRED;
	default:
		return WHY_UNKNOWN;
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
    bool self_ok, bool of_best, node_trust_id *id, const char **why)
{
	struct ev v = { .n = n, .txn = txn };
	struct verdict vd;
	int rc;

	rc = judge(&v, k, q, t, NULL, self_ok, id != NULL, &vd);
	if (rc == QIAO_OK && id != NULL)
		fill_id(&v, &vd, of_best, id);
	if (v.err != QIAO_OK)
		return v.err;
	if (rc != QIAO_OK && why != NULL)
		*why = why_of(rc);
	return rc;
}

int
node_trust_check(node *n, node_txn *txn, const crdt_entry *e,
    node_trust_id *id, const char **why)
{
	return ask(n, txn, e->author, e->seq, crdt_hlc_ms(e->hlc), true, true,
	    id, why);
}

int
node_trust_lookup(node *n, node_txn *txn, const uint8_t author[QIAO_KEY_LEN],
    node_trust_id *id)
{
	node_trust_id t;
	int rc = ask(n, txn, author, 0, 0, true, false, &t, NULL);

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
	rc = ask(n, txn, key, UINT64_MAX, now_ms ? now_ms : 1, false, false,
	    &t, NULL);
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
	struct ev v = { .n = n, .txn = txn };
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
	if (e->type == QIAO_T_ENROL) {
		if (!covers(&v, e->author, e->seq, t,
			conf_role_parse(cert.role), cert.region, NULL)) {
			*why = "enrol: the issuer may not enrol this role or "
			       "region";
			*op_rc = QIAO_EUNAUTH;
		} else if (cert.has_supersedes &&
		    !has_standing(&v, e->author, e->seq, t,
			cert.supersedes)) {
			*why = "enrol: the issuer may not supersede that key";
			*op_rc = QIAO_EUNAUTH;
		}
	} else if (!has_standing(&v, e->author, e->seq, t, rev.subject)) {
		*why = "revoke: the issuer may not revoke that key";
		*op_rc = QIAO_EUNAUTH;
	}
	return v.err;
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
	return cut_beyond(txn, k, lo - 1, why_of(first));
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
