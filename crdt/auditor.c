#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "crdt/auditor.h"
#include "crdt/body.h"
#include "crdt/codec.h"
#include "crdt/hex.h"
#include "crdt/hlc.h"
#include "crdt/op.h"
#include "crdt/types.h"

/* qsort, but never handed a NULL base (an empty list may have none). */
static void
sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}

const char *const crdt_audit_sla_names[3] = { "response", "arrival",
	"feedback" };
const uint64_t crdt_audit_sla_targets[3] = { QIAO_SLA_RESPONSE_MS,
	QIAO_SLA_ARRIVAL_MS, QIAO_SLA_FEEDBACK_MS };

uint64_t
crdt_audit_sla_got(const crdt_rec_summary *s, int i)
{
	return i == 0 ? s->response_ms : i == 1 ? s->arrival_ms : s->feedback_ms;
}

/* The trust answer last given for a key: reused, like ingest does, for
 * its later entries within the same certificate's cut-off and expiry. */
struct tcache {
	bool ok;
	uint64_t revoked_after, until;
};

struct ctx {
	crdt_audit_report *r;
	crdt_audit_bundle b;
	crdt_trustset *ts;
	const uint8_t *root;
	crdt_audit_claim claim;
	bool stmt_sig;  /* the statement's signature and body hold */
	bool claim_ok;  /* ... and its claim was read */
	size_t capissues;
	bool *op_sig;   /* per opsbuf item: signature and body hold */
	bool *tr_sig;   /* per trust item */
	bool *view_sig; /* per view head */
	struct tcache *tc; /* parallel to r->keys */
	int err;           /* ENOMEM sticks */
};

/* Issues. */

static void
add_issue(struct ctx *c, const char *code, bool finding, long ci,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void
add_issue(struct ctx *c, const char *code, bool finding, long ci,
    const char *fmt, ...)
{
	crdt_audit_report *r = c->r;
	crdt_audit_issue *is;
	va_list ap;

	if (finding)
		r->findings++;
	else
		r->failures++;
	if (ci >= 0) {
		if (finding)
			r->cases[ci].findings++;
		else
			r->cases[ci].failures++;
	}
	if (r->nissues == QIAO_AUDIT_ISSUES_MAX) {
		r->dropped++;
		return;
	}
	if (r->nissues == c->capissues) {
		size_t cap = c->capissues ? 2 * c->capissues : 8;
		crdt_audit_issue *v = realloc(r->issues, cap * sizeof(*v));

		if (v == NULL) {
			c->err = QIAO_ENOMEM;
			r->dropped++;
			return;
		}
		r->issues = v;
		c->capissues = cap;
	}
	is = &r->issues[r->nissues++];
	snprintf(is->code, sizeof(is->code), "%s", code);
	is->finding = finding;
	is->case_index = ci;
	va_start(ap, fmt);
	vsnprintf(is->msg, sizeof(is->msg), fmt, ap);
	va_end(ap);
}

/* Words for people. */

static const char *
hex12(char *buf, const uint8_t *bin)
{
	char full[2 * QIAO_HASH_LEN + 1];

	crdt_hex_encode(full, bin, QIAO_HASH_LEN);
	memcpy(buf, full, 12);
	buf[12] = '\0';
	return buf;
}

static const char *
utc(char *buf, size_t cap, uint64_t hlc)
{
	time_t s = (time_t)(crdt_hlc_ms(hlc) / 1000);
	struct tm tm;

	if (gmtime_r(&s, &tm) == NULL ||
	    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, cap, "hlc %llu", (unsigned long long)hlc);
	return buf;
}

static const char *
dur(char *buf, size_t cap, uint64_t ms)
{
	uint64_t s = ms / 1000;

	if (s >= 86400)
		snprintf(buf, cap, "%llud %02llu:%02llu:%02llu",
		    (unsigned long long)(s / 86400),
		    (unsigned long long)(s % 86400 / 3600),
		    (unsigned long long)(s % 3600 / 60),
		    (unsigned long long)(s % 60));
	else if (s >= 3600)
		snprintf(buf, cap, "%llu:%02llu:%02llu",
		    (unsigned long long)(s / 3600),
		    (unsigned long long)(s % 3600 / 60),
		    (unsigned long long)(s % 60));
	else
		snprintf(buf, cap, "%llu:%02llu", (unsigned long long)(s / 60),
		    (unsigned long long)(s % 60));
	return buf;
}

static const char *
type_name(uint64_t type)
{
	const char *n = crdt_type_name(type);

	return n ? n : "?";
}

static long
key_index(const crdt_audit_report *r, const uint8_t *key)
{
	size_t lo = 0, hi = r->nkeys;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = memcmp(r->keys[mid].key, key, QIAO_KEY_LEN);

		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

const crdt_audit_who *
crdt_audit_report_who(const crdt_audit_report *r,
    const uint8_t key[QIAO_KEY_LEN])
{
	long i = key_index(r, key);

	return i < 0 ? NULL : &r->keys[i];
}

/* "village 500116001201 石桥村 (key 3fa9c2b17e4d)" */
static const char *
who(const struct ctx *c, const uint8_t *key, char *buf, size_t cap)
{
	const crdt_audit_who *w = crdt_audit_report_who(c->r, key);
	char h[13];

	hex12(h, key);
	if (w == NULL || !w->known)
		snprintf(buf, cap, "key %s (not enrolled by this bundle)", h);
	else if (w->id.role == CRDT_ROLE_ROOT)
		snprintf(buf, cap, "the root (key %s)", h);
	else
		snprintf(buf, cap, "%s %s %.60s (key %s)",
		    crdt_role_name(w->id.role), w->id.region, w->id.name, h);
	return buf;
}

/* Keys: every author and every view key, by key. */

static int
key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, QIAO_KEY_LEN);
}

static int
build_keys(struct ctx *c)
{
	crdt_audit_bundle *b = &c->b;
	crdt_audit_report *r = c->r;
	size_t n = 0, cap = 1 + b->nview + b->ntrust + 2 * b->nforks + b->nops;
	uint8_t (*k)[QIAO_KEY_LEN] = malloc(cap * QIAO_KEY_LEN);

	if (k == NULL)
		return QIAO_ENOMEM;
	memcpy(k[n++], b->statement.e.author, QIAO_KEY_LEN);
	for (size_t i = 0; i < b->nview; i++)
		memcpy(k[n++], b->view[i].key, QIAO_KEY_LEN);
	for (size_t i = 0; i < b->ntrust; i++)
		memcpy(k[n++], b->trust[i].e.author, QIAO_KEY_LEN);
	for (size_t i = 0; i < b->nforks; i++) {
		memcpy(k[n++], b->forks[i].a.author, QIAO_KEY_LEN);
		memcpy(k[n++], b->forks[i].b.author, QIAO_KEY_LEN);
	}
	for (size_t i = 0; i < b->nops; i++)
		memcpy(k[n++], b->opsbuf[i].e.author, QIAO_KEY_LEN);
	sort(k, n, QIAO_KEY_LEN, key_cmp);
	r->keys = calloc(n, sizeof(*r->keys));
	c->tc = calloc(n, sizeof(*c->tc));
	if (r->keys == NULL || c->tc == NULL) {
		free(k);
		return QIAO_ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		if (r->nkeys == 0 ||
		    memcmp(r->keys[r->nkeys - 1].key, k[i], QIAO_KEY_LEN) != 0)
			memcpy(r->keys[r->nkeys++].key, k[i], QIAO_KEY_LEN);
	free(k);
	for (size_t i = 0; i < b->nview; i++) {
		crdt_audit_who *w = &r->keys[key_index(r, b->view[i].key)];

		w->in_view = true;
		w->has_head = b->view[i].has;
		if (w->has_head) {
			w->head_seq = b->view[i].e.seq;
			w->head_hlc = b->view[i].e.hlc;
		}
	}
	for (size_t i = 0; i < b->nops; i++)
		r->keys[key_index(r, b->opsbuf[i].e.author)].ops++;
	return QIAO_OK;
}

/* Step 2: signatures and bodies. */

static bool
sig_ok(struct ctx *c, const crdt_entry *e)
{
	c->r->signatures++;
	return crdt_entry_verify(e) == QIAO_OK;
}

static bool
item_ok(struct ctx *c, const crdt_audit_item *it, long ci, const char *what)
{
	char h[13], w[200];
	const char *why = NULL;
	int rc;

	if (!sig_ok(c, &it->e)) {
		add_issue(c, "bad-signature", false, ci,
		    "%s (seq %llu of %s): the signature does not verify: "
		    "the entry was altered or forged", what,
		    (unsigned long long)it->e.seq,
		    who(c, it->e.author, w, sizeof(w)));
		return false;
	}
	if ((rc = crdt_entry_check_body(&it->e, it->body, it->blen, &why)) !=
	    QIAO_OK) {
		add_issue(c, "bad-body", false, ci,
		    "%s %s (seq %llu of %s): %s", what, hex12(h, it->e.hash),
		    (unsigned long long)it->e.seq,
		    who(c, it->e.author, w, sizeof(w)),
		    why ? why : qiao_strerror(rc));
		return false;
	}
	return true;
}

static int
check_signatures(struct ctx *c)
{
	crdt_audit_bundle *b = &c->b;
	char w[200];

	c->op_sig = calloc(b->nops ? b->nops : 1, sizeof(bool));
	c->tr_sig = calloc(b->ntrust ? b->ntrust : 1, sizeof(bool));
	c->view_sig = calloc(b->nview ? b->nview : 1, sizeof(bool));
	if (!c->op_sig || !c->tr_sig || !c->view_sig)
		return QIAO_ENOMEM;
	c->stmt_sig = item_ok(c, &b->statement, -1, "the statement");
	c->claim_ok = c->stmt_sig;
	for (size_t i = 0; i < b->ntrust; i++)
		c->tr_sig[i] = item_ok(c, &b->trust[i], -1, "trust entry");
	for (size_t i = 0; i < b->nview; i++) {
		if (!b->view[i].has) {
			c->view_sig[i] = true;
			continue;
		}
		if (!(c->view_sig[i] = sig_ok(c, &b->view[i].e)))
			add_issue(c, "bad-signature", false, -1,
			    "view head (seq %llu of %s): the signature does "
			    "not verify",
			    (unsigned long long)b->view[i].e.seq,
			    who(c, b->view[i].key, w, sizeof(w)));
	}
	for (size_t i = 0; i < b->nforks; i++)
		if (!sig_ok(c, &b->forks[i].a) || !sig_ok(c, &b->forks[i].b))
			add_issue(c, "bad-signature", false, -1,
			    "fork proof (seq %llu of %s): a signature does "
			    "not verify",
			    (unsigned long long)b->forks[i].a.seq,
			    who(c, b->forks[i].a.author, w, sizeof(w)));
	for (size_t ci = 0; ci < b->ncases; ci++) {
		const crdt_audit_case *k = &b->cases[ci];

		for (size_t j = 0; j < k->nops; j++) {
			size_t at = (size_t)(k->ops + j - b->opsbuf);

			c->op_sig[at] = item_ok(c, &k->ops[j], (long)ci, "step");
		}
	}
	return c->err;
}

/* Step 3: trust. */

static int
load_trust(struct ctx *c)
{
	crdt_audit_bundle *b = &c->b;
	char w[200];
	int rc;

	for (size_t i = 0; i < b->ntrust; i++) {
		const crdt_audit_item *it = &b->trust[i];
		const char *why = NULL;

		if (!c->tr_sig[i])
			continue;
		if (it->e.type != QIAO_T_ENROL && it->e.type != QIAO_T_REVOKE) {
			add_issue(c, "malformed", false, -1,
			    "trust entry seq %llu of %s is a %s, not an "
			    "enrolment or revocation",
			    (unsigned long long)it->e.seq,
			    who(c, it->e.author, w, sizeof(w)),
			    type_name(it->e.type));
			continue;
		}
		rc = crdt_trustset_add(c->ts, &it->e, it->body, it->blen, &why);
		/* An entry that makes no rows makes none on a node either. */
		if (rc == QIAO_ENOMEM)
			return rc;
	}
	for (size_t i = 0; i < c->r->nkeys; i++) {
		crdt_audit_who *k = &c->r->keys[i];

		rc = crdt_trustset_lookup(c->ts, k->key, &k->id);
		if (rc == QIAO_ENOMEM)
			return rc;
		k->known = rc == QIAO_OK;
	}
	return QIAO_OK;
}

/* May key sign its entry (seq, hlc)? Reuses the last positive answer
 * within its certificate's cut-off and expiry. */
static int
trust_check(struct ctx *c, const crdt_entry *e, const char **why)
{
	long i = key_index(c->r, e->author);
	uint64_t ms = crdt_hlc_ms(e->hlc);
	struct tcache *t = i >= 0 ? &c->tc[i] : NULL;
	crdt_trust_id id;
	int rc;

	if (t != NULL && t->ok && e->seq <= t->revoked_after &&
	    (t->until == 0 || ms <= t->until))
		return QIAO_OK;
	rc = crdt_trustset_check(c->ts, e->author, e->seq, ms, &id, why);
	if (t != NULL && rc == QIAO_OK) {
		t->ok = true;
		t->revoked_after = id.revoked_after;
		t->until = id.until;
	}
	return rc;
}

static const char *
trust_code(int rc)
{
	switch (rc) {
	case QIAO_EREVOKED:
		return "revoked";
	case QIAO_EEXPIRED:
		return "expired";
	default:
		return "unknown-author";
	}
}

/* Step 4: the statement. */

static void
check_statement(struct ctx *c)
{
	const crdt_audit_item *st = &c->b.statement;
	crdt_audit_report *r = c->r;
	const char *why = NULL;
	char w[200], ex[300];
	int rc;

	memcpy(r->exporter, st->e.author, QIAO_KEY_LEN);
	r->statement_seq = st->e.seq;
	r->statement_hlc = st->e.hlc;
	if (!c->claim_ok)
		return;
	if (st->e.type != QIAO_T_AUDIT) {
		add_issue(c, "statement", false, -1,
		    "the statement is a %s entry, not an audit statement",
		    type_name(st->e.type));
		c->claim_ok = false;
		return;
	}
	if (crdt_audit_claim_decode(&c->claim, st->body, st->blen, &why) !=
	    QIAO_OK) {
		add_issue(c, "statement", false, -1, "%s", why);
		c->claim_ok = false;
		return;
	}
	snprintf(r->under, sizeof(r->under), "%s", c->claim.under);
	r->all = c->claim.all;
	rc = trust_check(c, &st->e, &why);
	if (rc == QIAO_ENOMEM) {
		c->err = rc;
		return;
	}
	if (rc != QIAO_OK) {
		crdt_trustset_explain(c->ts, st->e.author, ex, sizeof(ex));
		add_issue(c, "exporter", false, -1,
		    "the exporter, %s, may not sign its statement (seq %llu): "
		    "%s; %s", who(c, st->e.author, w, sizeof(w)),
		    (unsigned long long)st->e.seq, why, ex);
	}
}

/* Step 5: each key's entries in seq order. */

struct kent {
	const crdt_entry *e;
	const char *what;
	long ci;
};

static int
kent_cmp(const void *a, const void *b)
{
	const crdt_entry *x = ((const struct kent *)a)->e;
	const crdt_entry *y = ((const struct kent *)b)->e;
	int k = memcmp(x->author, y->author, QIAO_KEY_LEN);

	if (k != 0)
		return k;
	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return memcmp(x->hash, y->hash, QIAO_HASH_LEN);
}

static void
check_logs(struct ctx *c)
{
	crdt_audit_bundle *b = &c->b;
	size_t n = 0, cap = 1 + b->ntrust + b->nview + 2 * b->nforks + b->nops;
	struct kent *v = malloc(cap * sizeof(*v));
	char w[200], t1[32], t2[32], h1[13], h2[13];

	if (v == NULL) {
		c->err = QIAO_ENOMEM;
		return;
	}
	/* Only entries whose signatures hold: an altered one is not its
	 * author's, and was reported already. */
	if (c->stmt_sig)
		v[n++] = (struct kent) { &b->statement.e, "the statement", -1 };
	for (size_t i = 0; i < b->ntrust; i++)
		if (c->tr_sig[i])
			v[n++] = (struct kent) { &b->trust[i].e, "trust entry",
				-1 };
	for (size_t i = 0; i < b->nview; i++)
		if (b->view[i].has && c->view_sig[i])
			v[n++] = (struct kent) { &b->view[i].e, "view head",
				-1 };
	for (size_t i = 0; i < b->nforks; i++) {
		v[n++] = (struct kent) { &b->forks[i].a, "fork proof", -1 };
		v[n++] = (struct kent) { &b->forks[i].b, "fork proof", -1 };
	}
	for (size_t ci = 0; ci < b->ncases; ci++)
		for (size_t j = 0; j < b->cases[ci].nops; j++) {
			size_t at = (size_t)(b->cases[ci].ops + j - b->opsbuf);

			if (c->op_sig[at])
				v[n++] = (struct kent) { &b->opsbuf[at].e,
					type_name(b->opsbuf[at].e.type),
					(long)ci };
		}
	sort(v, n, sizeof(*v), kent_cmp);
	for (size_t i = 0; i < n; i++) {
		const crdt_entry *e = v[i].e;
		const crdt_audit_who *k = crdt_audit_report_who(c->r, e->author);
		const crdt_entry *p = i > 0 ? v[i - 1].e : NULL;
		bool same = p && memcmp(p->author, e->author, QIAO_KEY_LEN) == 0;

		if (same && p->seq == e->seq) {
			if (memcmp(p->hash, e->hash, QIAO_HASH_LEN) == 0)
				continue; /* one entry, listed twice */
			add_issue(c, "fork", false, v[i].ci,
			    "%s signed two different entries at seq %llu "
			    "(%s and %s): its log forked, so what it signed "
			    "on the other branch cannot be known",
			    who(c, e->author, w, sizeof(w)),
			    (unsigned long long)e->seq, hex12(h1, p->hash),
			    hex12(h2, e->hash));
			continue;
		}
		if (same && p->seq + 1 == e->seq &&
		    (!e->has_prev ||
			memcmp(e->prev, p->hash, QIAO_HASH_LEN) != 0))
			add_issue(c, "fork", false, v[i].ci,
			    "%s: its entry at seq %llu (%s) does not follow "
			    "its entry at seq %llu (%s): two branches of a "
			    "forked log", who(c, e->author, w, sizeof(w)),
			    (unsigned long long)e->seq, v[i].what,
			    (unsigned long long)p->seq, v[i - 1].what);
		if (same && e->hlc <= p->hlc)
			add_issue(c, "time", false, v[i].ci,
			    "%s: its entry at seq %llu (%s, %s) is stamped no "
			    "later than its entry at seq %llu (%s, %s): "
			    "times must increase along a log, so one was "
			    "back-dated", who(c, e->author, w, sizeof(w)),
			    (unsigned long long)e->seq, v[i].what,
			    utc(t1, sizeof(t1), e->hlc),
			    (unsigned long long)p->seq, v[i - 1].what,
			    utc(t2, sizeof(t2), p->hlc));
		/* The statement follows the view by definition. */
		if (k != NULL && k->in_view && e != &b->statement.e &&
		    (!k->has_head || e->seq > k->head_seq))
			add_issue(c, "view", false, v[i].ci,
			    "%s: its entry at seq %llu (%s) lies beyond the "
			    "head of its log the exporter states (%s%llu)",
			    who(c, e->author, w, sizeof(w)),
			    (unsigned long long)e->seq, v[i].what,
			    k->has_head ? "seq " : "none held, ",
			    (unsigned long long)k->head_seq);
	}
	free(v);
}

/* Step 4, continued: the view against the statement and the trust. */

struct coded {
	char code[QIAO_CODE_MAX];
};

static int
coded_cmp(const void *a, const void *b)
{
	return strcmp(((const struct coded *)a)->code,
	    ((const struct coded *)b)->code);
}

/* Does some case's code start with region? codes sorted. */
static bool
covers_any(const struct coded *codes, size_t n, const char *region)
{
	size_t lo = 0, hi = n, rl = strlen(region);

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (strcmp(codes[mid].code, region) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && strncmp(codes[lo].code, region, rl) == 0;
}

static void
check_view(struct ctx *c)
{
	crdt_audit_bundle *b = &c->b;
	crdt_audit_report *r = c->r;
	const crdt_entry *st = &b->statement.e;
	const crdt_audit_who *ex = crdt_audit_report_who(r, st->author);
	uint8_t d[QIAO_HASH_LEN];
	struct coded *codes;
	size_t nc = 0, ns;
	char w[200];

	if (c->claim_ok) {
		if (crdt_audit_view_digest(d, b->view, b->nview) != QIAO_OK) {
			c->err = QIAO_ENOMEM;
			return;
		}
		if (sodium_memcmp(d, c->claim.view, QIAO_HASH_LEN) != 0)
			add_issue(c, "statement", false, -1,
			    "the view (the heads of the logs the bundle is "
			    "complete up to) is not the one the exporter "
			    "signed");
	}
	/* The exporter cannot understate its own log: its statement's prev
	 * is its head. */
	if (ex != NULL && ex->in_view &&
	    (st->seq == 1 ? ex->has_head
			  : (!ex->has_head || ex->head_seq + 1 != st->seq)))
		add_issue(c, "view", false, -1,
		    "the exporter's own head in the view (%s%llu) is not the "
		    "entry before its statement (seq %llu)",
		    ex->has_head ? "seq " : "none held, ",
		    (unsigned long long)ex->head_seq,
		    (unsigned long long)st->seq);
	if (b->ncases == 0)
		return;
	/* Every key that may write one of the cases has a head in the view:
	 * the root, and each key whose certificate's region covers a case's
	 * code. */
	if ((codes = malloc(b->ncases * sizeof(*codes))) == NULL) {
		c->err = QIAO_ENOMEM;
		return;
	}
	for (size_t i = 0; i < r->ncases; i++)
		if (r->cases[i].code[0] != '\0')
			snprintf(codes[nc++].code, QIAO_CODE_MAX, "%s",
			    r->cases[i].code);
	sort(codes, nc, sizeof(*codes), coded_cmp);
	{
		const crdt_audit_who *rw = crdt_audit_report_who(r, c->root);
		crdt_trust_id id;

		if (nc > 0 && (rw == NULL || !rw->in_view))
			add_issue(c, "view", false, -1,
			    "the root may write every case, but the exporter's "
			    "view states no head of its log");
		ns = crdt_trustset_subjects(c->ts);
		for (size_t i = 0; i < ns; i++) {
			const uint8_t *k = crdt_trustset_subject(c->ts, i);
			const crdt_audit_who *kw;

			if (k == NULL ||
			    crdt_trustset_lookup(c->ts, k, &id) != QIAO_OK ||
			    !covers_any(codes, nc, id.region))
				continue;
			kw = crdt_audit_report_who(r, k);
			if (kw == NULL || !kw->in_view)
				add_issue(c, "view", false, -1,
				    "%s may write cases under %s, but the "
				    "exporter's view states no head of its log "
				    "(its steps could be left out unseen)",
				    who(c, k, w, sizeof(w)), id.region);
		}
	}
	free(codes);
}

/* Step 6: each case. */

struct byhash {
	const uint8_t *h;
	size_t i;
};

static int
byhash_cmp(const void *a, const void *b)
{
	return memcmp(((const struct byhash *)a)->h,
	    ((const struct byhash *)b)->h, QIAO_HASH_LEN);
}

/* The index of the op with hash h among the sorted v, or -1. */
static long
op_index(const struct byhash *v, size_t n, const uint8_t *h)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int cmp = memcmp(v[mid].h, h, QIAO_HASH_LEN);

		if (cmp == 0)
			return (long)v[mid].i;
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* The case's code, from its open entry (the op whose hash is its id). */
static void
find_codes(struct ctx *c)
{
	crdt_audit_bundle *b = &c->b;

	for (size_t ci = 0; ci < b->ncases; ci++) {
		const crdt_audit_case *k = &b->cases[ci];
		crdt_audit_result *res = &c->r->cases[ci];

		memcpy(res->id, k->id, QIAO_HASH_LEN);
		res->nops = k->nops;
		for (size_t j = 0; j < k->nops; j++) {
			const crdt_audit_item *it = &k->ops[j];
			crdt_op_target t;
			const char *why;

			if (memcmp(it->e.hash, k->id, QIAO_HASH_LEN) != 0 ||
			    !c->op_sig[it - b->opsbuf])
				continue;
			if (it->e.type == QIAO_T_CASE_OPEN &&
			    crdt_op_check(it->e.type, it->body, it->blen,
				it->e.hash, &t, &why) == QIAO_OK)
				snprintf(res->code, sizeof(res->code), "%s",
				    t.code);
		}
	}
}

struct step {
	bool sig;    /* signature and body hold */
	bool parsed; /* the body is a case op of this case */
	bool admit;  /* a node would fold it: trusted, in scope */
	crdt_trust_id id;
	uint8_t deps[QIAO_DEPS_MAX][QIAO_HASH_LEN];
	size_t ndeps;
};

static const char *
step_str(struct ctx *c, const crdt_audit_item *it, char *buf, size_t cap)
{
	char w[200], t[32];

	snprintf(buf, cap, "step %s (seq %llu of %s, %s)",
	    type_name(it->e.type), (unsigned long long)it->e.seq,
	    who(c, it->e.author, w, sizeof(w)), utc(t, sizeof(t), it->e.hlc));
	return buf;
}

static bool
bit(const uint64_t *set, size_t i)
{
	return (set[i / 64] >> (i % 64)) & 1u;
}

/* Deps closure and times, ancestry, and each author's chain of steps. */
static void
check_dag(struct ctx *c, size_t ci, struct step *s)
{
	const crdt_audit_case *k = &c->b.cases[ci];
	size_t n = k->nops, nh = 0, done = 0;
	size_t n1 = n ? n : 1, words = (n1 + 63) / 64;
	struct byhash *byhash = malloc(n1 * sizeof(*byhash));
	uint64_t *anc = calloc(n1 * words, 8);
	size_t *indeg = calloc(n1, sizeof(size_t));
	size_t *order = malloc(n1 * sizeof(size_t));
	size_t *ready = malloc(n1 * sizeof(size_t));
	long *par = malloc(n1 * QIAO_DEPS_MAX * sizeof(long));
	/* children of j: child[coff[j] .. coff[j + 1]) */
	size_t *coff = calloc(n + 1, sizeof(size_t));
	/* an op whose ancestry lacks a step (its own deps or an ancestor's):
	 * its chain cannot be judged, and missing-dep already says why */
	bool *gap = calloc(n1, sizeof(bool));
	size_t *child = malloc(n1 * QIAO_DEPS_MAX * sizeof(size_t));
	size_t nr = 0;
	char s1[320], s2[320];

	if (!byhash || !anc || !indeg || !order || !ready || !par || !coff ||
	    !child || !gap) {
		c->err = QIAO_ENOMEM;
		goto out;
	}
	for (size_t j = 0; j < n; j++)
		if (s[j].sig)
			byhash[nh++] = (struct byhash) { k->ops[j].e.hash, j };
	sort(byhash, nh, sizeof(*byhash), byhash_cmp);
	for (size_t j = 0; j < n; j++) {
		const crdt_audit_item *it = &k->ops[j];

		for (size_t d = 0; d < s[j].ndeps; d++) {
			long p = op_index(byhash, nh, s[j].deps[d]);
			char h[13];

			par[j * QIAO_DEPS_MAX + d] = p;
			if (p < 0) {
				gap[j] = true;
				add_issue(c, "missing-dep", false, (long)ci,
				    "%s follows step %s, which is not in the "
				    "bundle: a step was left out (or the "
				    "exporter never received it)",
				    step_str(c, it, s1, sizeof(s1)),
				    hex12(h, s[j].deps[d]));
				continue;
			}
			indeg[j]++;
			coff[p + 1]++;
			if (k->ops[p].e.hlc >= it->e.hlc)
				add_issue(c, "time", false, (long)ci,
				    "%s is stamped no later than %s, which its "
				    "author had seen: one of them was back-dated "
				    "or forward-dated",
				    step_str(c, it, s1, sizeof(s1)),
				    step_str(c, &k->ops[p], s2, sizeof(s2)));
		}
	}
	/* Ancestors along deps only (not the fold's implicit edge to the
	 * author's previous op: that one is what is checked here). Kahn's
	 * walk; a cycle would need a hash preimage, and leaves its ops out. */
	for (size_t j = 0; j < n; j++)
		coff[j + 1] += coff[j];
	{
		size_t *fill = calloc(n1, sizeof(size_t));

		if (fill == NULL) {
			c->err = QIAO_ENOMEM;
			goto out;
		}
		for (size_t j = 0; j < n; j++)
			for (size_t d = 0; d < s[j].ndeps; d++) {
				long p = par[j * QIAO_DEPS_MAX + d];

				if (p >= 0)
					child[coff[p] + fill[p]++] = j;
			}
		free(fill);
	}
	for (size_t j = 0; j < n; j++)
		if (indeg[j] == 0)
			ready[nr++] = j;
	while (nr > 0) {
		size_t j = ready[--nr];

		order[done++] = j;
		for (size_t x = coff[j]; x < coff[j + 1]; x++)
			if (--indeg[child[x]] == 0)
				ready[nr++] = child[x];
	}
	for (size_t t = 0; t < done; t++) {
		size_t j = order[t];
		uint64_t *a = anc + j * words;

		for (size_t d = 0; d < s[j].ndeps; d++) {
			long p = par[j * QIAO_DEPS_MAX + d];

			if (p < 0)
				continue;
			for (size_t x = 0; x < words; x++)
				a[x] |= anc[(size_t)p * words + x];
			a[p / 64] |= UINT64_C(1) << (p % 64);
			gap[j] |= gap[p];
		}
	}
	/* Each author's steps on the case, in seq order: each descends from
	 * the one before (an honest author's deps are its heads, and its
	 * own last step is always below one of them). */
	for (size_t j = 0; j < n; j++) {
		const crdt_audit_item *q = &k->ops[j];
		long prev = -1;

		if (!s[j].parsed)
			continue;
		for (size_t i = 0; i < n; i++) {
			const crdt_audit_item *o = &k->ops[i];

			if (i == j || !s[i].parsed ||
			    memcmp(o->e.author, q->e.author, QIAO_KEY_LEN) != 0)
				continue;
			if (o->e.seq >= q->e.seq && bit(anc + j * words, i))
				add_issue(c, "fork", false, (long)ci,
				    "%s follows %s, a later entry of its own "
				    "author: two branches of a forked log",
				    step_str(c, q, s1, sizeof(s1)),
				    step_str(c, o, s2, sizeof(s2)));
			if (o->e.seq < q->e.seq &&
			    (prev < 0 || k->ops[prev].e.seq < o->e.seq))
				prev = (long)i;
		}
		if (prev >= 0 && !gap[j] && !bit(anc + j * words, (size_t)prev))
			add_issue(c, "unchained", false, (long)ci,
			    "%s does not descend from %s, its author's previous "
			    "step on the case: steps of two branches of a "
			    "forked log spliced together%s",
			    step_str(c, q, s1, sizeof(s1)),
			    step_str(c, &k->ops[prev], s2, sizeof(s2)),
			    s[j].ndeps == QIAO_DEPS_MAX
				? " (or its author had more heads than the "
				  "32 a step may name)"
				: "");
	}
out:
	free(byhash);
	free(anc);
	free(indeg);
	free(order);
	free(ready);
	free(par);
	free(coff);
	free(child);
	free(gap);
}

/* Findings of a sound case: targets, conflicts, review. */
static void
findings(struct ctx *c, size_t ci)
{
	crdt_audit_result *res = &c->r->cases[ci];
	uint64_t export_ms = crdt_hlc_ms(c->r->statement_hlc);
	char d1[48], d2[48], list[256];
	crdt_reader rd;
	size_t n;

	if (res->sum.flags & CRDT_SUM_OPENED)
		for (int i = 0; i < 3; i++) {
			uint64_t got = crdt_audit_sla_got(&res->sum, i);
			uint64_t tgt = crdt_audit_sla_targets[i];

			if (got != CRDT_SUM_NONE && got > tgt)
				add_issue(c, "target-missed", true, (long)ci,
				    "%s %s after intake, target %s",
				    crdt_audit_sla_names[i],
				    dur(d1, sizeof(d1), got),
				    dur(d2, sizeof(d2), tgt));
			else if (got == CRDT_SUM_NONE &&
			    export_ms > res->sum.time_ms + tgt)
				add_issue(c, "target-missed", true, (long)ci,
				    "%s: no valid stamp by the export, %s "
				    "after intake (target %s)",
				    crdt_audit_sla_names[i],
				    dur(d1, sizeof(d1),
					export_ms - res->sum.time_ms),
				    dur(d2, sizeof(d2), tgt));
		}
	if (crdt_body_get(res->state, res->slen, "conflicts", &rd) == 0 &&
	    crdt_read_array(&rd, &n) == QIAO_OK && n > 0) {
		size_t o = 0;

		list[0] = '\0';
		for (size_t i = 0; i < n; i++) {
			const uint8_t *m = rd.p;
			char f[32];

			if (crdt_read_skip(&rd) != QIAO_OK)
				break;
			if (crdt_body_get_cstr(m, (size_t)(rd.p - m), "field", f,
				sizeof(f)) == QIAO_OK &&
			    o < sizeof(list))
				o += (size_t)snprintf(list + o, sizeof(list) - o,
				    "%s%s", i ? ", " : "", f);
		}
		add_issue(c, "conflict", true, (long)ci,
		    "concurrent values not settled: %s", list);
	}
	if (crdt_body_get(res->state, res->slen, "review", &rd) == 0 &&
	    crdt_read_array(&rd, &n) == QIAO_OK && n > 0)
		add_issue(c, "review", true, (long)ci,
		    "%zu step%s by a station not holding the case, kept for "
		    "review and not in effect", n, n == 1 ? "" : "s");
}

static void
check_case(struct ctx *c, size_t ci)
{
	const crdt_audit_case *k = &c->b.cases[ci];
	crdt_audit_result *res = &c->r->cases[ci];
	size_t n = k->nops, nf = 0;
	struct step *s = calloc(n ? n : 1, sizeof(*s));
	crdt_rec_op *ops = calloc(n ? n : 1, sizeof(*ops));
	uint64_t stmt = c->r->statement_hlc;
	char s1[320], w[200], ex[300], h[13];
	bool have_open = false;

	if (s == NULL || ops == NULL) {
		c->err = QIAO_ENOMEM;
		goto out;
	}
	for (size_t j = 0; j < n; j++)
		if (memcmp(k->ops[j].e.hash, k->id, QIAO_HASH_LEN) == 0)
			have_open = true;
	if (!have_open || res->code[0] == '\0') {
		add_issue(c, "missing-open", false, (long)ci,
		    "the case's open entry %s (its id) is not in the bundle, "
		    "or is not a valid open", hex12(h, k->id));
	}
	for (size_t j = 0; j < n; j++) {
		const crdt_audit_item *it = &k->ops[j];
		const crdt_audit_who *kw = crdt_audit_report_who(c->r,
		    it->e.author);
		crdt_op_target t;
		const char *why = NULL;
		int rc;

		if (!(s[j].sig = c->op_sig[it - c->b.opsbuf]))
			continue;
		if (crdt_op_check(it->e.type, it->body, it->blen, it->e.hash, &t,
			&why) != QIAO_OK) {
			add_issue(c, "bad-op", false, (long)ci, "%s: %s",
			    step_str(c, it, s1, sizeof(s1)),
			    why ? why : "not a record operation");
			continue;
		}
		if (t.kind != CRDT_REC_CASE ||
		    memcmp(t.id, k->id, QIAO_HASH_LEN) != 0 ||
		    (res->code[0] && strcmp(t.code, res->code) != 0)) {
			add_issue(c, "wrong-case", false, (long)ci,
			    "%s belongs to another record (%s %s %s), not to "
			    "this case", step_str(c, it, s1, sizeof(s1)),
			    t.kind == CRDT_REC_CASE ? "case" : "record",
			    hex12(h, t.id), t.code);
			continue;
		}
		s[j].parsed = true;
		if (crdt_op_deps(it->body, it->blen, s[j].deps, &s[j].ndeps) !=
		    QIAO_OK)
			s[j].ndeps = 0;
		if (stmt != 0 && it->e.hlc > stmt)
			add_issue(c, "time", false, (long)ci,
			    "%s is stamped after the exporter's statement: a "
			    "clock ahead, or a step forward-dated",
			    step_str(c, it, s1, sizeof(s1)));
		if (kw == NULL || !kw->in_view)
			add_issue(c, "view", false, (long)ci,
			    "%s: the exporter's view states no head of its "
			    "author's log", step_str(c, it, s1, sizeof(s1)));
		rc = trust_check(c, &it->e, &why);
		if (rc == QIAO_ENOMEM) {
			c->err = rc;
			goto out;
		}
		if (rc != QIAO_OK) {
			crdt_trustset_explain(c->ts, it->e.author, ex,
			    sizeof(ex));
			add_issue(c, trust_code(rc), false, (long)ci,
			    "%s: %s%s%s", step_str(c, it, s1, sizeof(s1)), why,
			    rc == QIAO_EUNKNOWN ? "; " : "",
			    rc == QIAO_EUNKNOWN ? ex : "");
			continue;
		}
		s[j].id = kw->id;
		if (!kw->known ||
		    !crdt_trust_covers(kw->id.region, t.code)) {
			add_issue(c, "out-of-scope", false, (long)ci,
			    "%s: the case's grid %s is outside %s's region",
			    step_str(c, it, s1, sizeof(s1)), t.code,
			    who(c, it->e.author, w, sizeof(w)));
			continue;
		}
		s[j].admit = true;
	}
	check_dag(c, ci, s);
	if (c->err != QIAO_OK || res->code[0] == '\0')
		goto out;
	for (size_t j = 0; j < n; j++) {
		const crdt_audit_item *it = &k->ops[j];
		crdt_rec_op *op = &ops[nf];

		if (!s[j].admit)
			continue;
		memcpy(op->hash, it->e.hash, QIAO_HASH_LEN);
		memcpy(op->author, it->e.author, QIAO_KEY_LEN);
		op->hlc = it->e.hlc;
		op->type = it->e.type;
		op->body = it->body;
		op->body_len = it->blen;
		snprintf(op->station, sizeof(op->station), "%s",
		    s[j].id.region);
		op->privileged = s[j].id.role == CRDT_ROLE_DISTRICT ||
		    s[j].id.role == CRDT_ROLE_ROOT;
		nf++;
	}
	res->folded = nf;
	if (crdt_record_fold(CRDT_REC_CASE, res->code, k->id, ops, nf,
		&res->state, &res->slen, &res->sum) != QIAO_OK) {
		c->err = QIAO_ENOMEM;
		goto out;
	}
	if (n > QIAO_REC_OPS_MAX)
		add_issue(c, "truncated", false, (long)ci,
		    "the case has more steps than the fold takes (%d)",
		    QIAO_REC_OPS_MAX);
	if (res->failures > 0)
		goto out;
	{
		uint8_t hs[QIAO_HASH_LEN];

		crypto_generichash(hs, sizeof(hs), res->state, res->slen, NULL,
		    0);
		if (sodium_memcmp(hs, k->state, QIAO_HASH_LEN) != 0)
			add_issue(c, "state", false, (long)ci,
			    "the case as folded here differs from the state "
			    "the exporter's store held for it (its stations, "
			    "custody or fields came out otherwise)");
	}
	if (res->failures == 0)
		findings(c, ci);
out:
	free(s);
	free(ops);
}

static void
check_set(struct ctx *c)
{
	uint8_t d[QIAO_HASH_LEN];

	if (!c->claim_ok)
		return;
	if (c->claim.cases != c->b.ncases)
		add_issue(c, "statement", false, -1,
		    "the bundle holds %zu cases; the exporter signed for %llu",
		    c->b.ncases, (unsigned long long)c->claim.cases);
	crdt_audit_set(d, c->b.cases, c->b.ncases);
	if (sodium_memcmp(d, c->claim.set, QIAO_HASH_LEN) != 0)
		add_issue(c, "statement", false, -1,
		    "the cases and their steps are not those the exporter "
		    "signed for: a step or a case was added, left out or "
		    "replaced after the export");
}

int
crdt_auditor_verify(const uint8_t *buf, size_t len,
    const uint8_t root[QIAO_KEY_LEN], crdt_audit_report **out)
{
	struct ctx c;
	char err[200];
	int rc;

	memset(&c, 0, sizeof(c));
	c.root = root;
	if ((c.r = calloc(1, sizeof(*c.r))) == NULL)
		return QIAO_ENOMEM;
	rc = crdt_audit_decode(&c.b, buf, len, err, sizeof(err));
	if (rc == QIAO_ENOMEM)
		goto fail;
	if (rc != QIAO_OK) {
		add_issue(&c, "malformed", false, -1, "%s", err);
		if ((rc = c.err) != QIAO_OK)
			goto fail;
		*out = c.r;
		return QIAO_OK;
	}
	c.r->decoded = true;
	if ((c.r->cases = calloc(c.b.ncases ? c.b.ncases : 1,
		 sizeof(*c.r->cases))) == NULL ||
	    crdt_trustset_new(&c.ts, root) != QIAO_OK) {
		rc = QIAO_ENOMEM;
		goto fail;
	}
	c.r->ncases = c.b.ncases;
	if ((rc = build_keys(&c)) != QIAO_OK ||
	    (rc = check_signatures(&c)) != QIAO_OK ||
	    (rc = load_trust(&c)) != QIAO_OK)
		goto fail;
	check_statement(&c);
	find_codes(&c);
	if (c.err == QIAO_OK)
		check_logs(&c);
	if (c.err == QIAO_OK)
		check_view(&c);
	for (size_t i = 0; i < c.b.ncases && c.err == QIAO_OK; i++)
		check_case(&c, i);
	if (c.err == QIAO_OK)
		check_set(&c);
	if ((rc = c.err) != QIAO_OK)
		goto fail;
	crdt_trustset_free(c.ts);
	crdt_audit_fini(&c.b);
	free(c.op_sig);
	free(c.tr_sig);
	free(c.view_sig);
	free(c.tc);
	*out = c.r;
	return QIAO_OK;
fail:
	crdt_trustset_free(c.ts);
	crdt_audit_fini(&c.b);
	free(c.op_sig);
	free(c.tr_sig);
	free(c.view_sig);
	free(c.tc);
	crdt_audit_report_free(c.r);
	return rc;
}

void
crdt_audit_report_free(crdt_audit_report *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->ncases; i++)
		free(r->cases[i].state);
	free(r->cases);
	free(r->keys);
	free(r->issues);
	free(r);
}
