/*
 * Fuzz target: the audit bundle (crdt/audit.h) and its verifier
 * (crdt/auditor.h), `qiao audit verify` — a file from anyone.
 *
 * Two properties beyond "no crash, no leak, no read out of bounds":
 *   - one encoding: a bundle that decodes encodes back to the very same
 *     bytes (the canonical order and strict codec leave no freedom);
 *   - the verifier's report is consistent: failures and findings count
 *     its issues, and a bundle that does not decode fails.
 * The seed corpus holds genuine bundles; to get past their signatures the
 * verifier is run with each key that signs a trust entry or the statement
 * as the root, so mutations that keep entries whole (dropped, repeated,
 * reordered, from another bundle) reach the checks behind them.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "crdt/audit.h"
#include "crdt/auditor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
run(const uint8_t *data, size_t size, const uint8_t *root)
{
	crdt_audit_report *r;
	size_t fails = 0, finds = 0;

	if (crdt_auditor_verify(data, size, root, &r) != QIAO_OK)
		return; /* out of memory only */
	for (size_t i = 0; i < r->nissues; i++) {
		if (r->issues[i].finding)
			finds++;
		else
			fails++;
		if (r->issues[i].case_index >= (long)r->ncases)
			__builtin_trap();
	}
	if (r->dropped == 0 && (fails != r->failures || finds != r->findings))
		__builtin_trap();
	if (!r->decoded && r->failures == 0)
		__builtin_trap();
	crdt_audit_report_free(r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t zero[QIAO_KEY_LEN];
	crdt_audit_bundle b;
	char err[200];
	uint8_t *enc, roots[4][QIAO_KEY_LEN];
	size_t len, nroots = 0;

	if (crdt_audit_decode(&b, data, size, err, sizeof(err)) != QIAO_OK) {
		run(data, size, zero);
		return 0;
	}
	if (crdt_audit_encode(&b, &enc, &len) == QIAO_OK) {
		if (len != size || memcmp(enc, data, size) != 0)
			__builtin_trap(); /* two encodings of one bundle */
		free(enc);
	}
	memcpy(roots[nroots++], b.statement.e.author, QIAO_KEY_LEN);
	for (size_t i = 0; i < b.ntrust && nroots < 4; i++) {
		bool seen = false;

		for (size_t j = 0; j < nroots; j++)
			seen |= memcmp(roots[j], b.trust[i].e.author,
			    QIAO_KEY_LEN) == 0;
		if (!seen)
			memcpy(roots[nroots++], b.trust[i].e.author,
			    QIAO_KEY_LEN);
	}
	crdt_audit_fini(&b);
	for (size_t i = 0; i < nroots; i++)
		run(data, size, roots[i]);
	return 0;
}
