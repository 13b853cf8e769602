/*
 * audit — exporting audit bundles from a node's store: `qiao audit
 * export` (the format: crdt/audit.h; the verifier: crdt/auditor.h; what
 * it proves: docs/AUDIT.md).
 *
 * From one read snapshot of the store the exporter gathers each case's
 * ops (entries and bodies) and the hash of its state; the view: for every
 * key that may write one of the cases (the root, and every key whose
 * certificate's region covers a case's code), the head of its log held
 * here; the enrolments and revocations of those keys and of their issuers
 * up to the root; the fork proofs held for any of them. It then signs the
 * statement (QIAO_T_AUDIT: the cases' digest and the view's) as the
 * node's next entry, so the claim "these are all the steps of these
 * cases in the logs up to these heads" is in its own log for every node
 * to see, and writes the bundle.
 */
#ifndef QIAO_NODE_AUDIT_H
#define QIAO_NODE_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crdt/entry.h"
#include "crdt/err.h"
#include "node/node.h"

typedef struct node_audit_result {
	uint64_t cases, ops;      /* exported */
	uint64_t bytes;           /* the file's size */
	size_t view, trust, forks; /* heads, trust entries, fork proofs */
	crdt_entry statement;     /* the statement entry signed */
	/* The bundle verified again here, against this node's trust anchor
	 * (crdt/auditor.h): a divergence shows at once. */
	size_t failures, findings;
	char first_failure[400];  /* "" when none */
} node_audit_result;

/*
 * Exports the nids cases named by their ids, or with ids NULL every case
 * whose grid code starts with under ("" or NULL: all), to path (mode 0600,
 * through a temporary file synced and renamed). Signs the statement as
 * the node's next entry (the node's key is loaded). *res gets what was
 * done. On failure err gets a one-line reason: QIAO_ENOTFOUND (a case not
 * held, none under the code), QIAO_EINVAL (too many cases or keys for one
 * bundle), QIAO_EUNAUTH etc. when the node may not sign, QIAO_EIO,
 * QIAO_ESTORE, QIAO_ENOMEM, QIAO_EFULL.
 */
int node_audit_export(node *n, const uint8_t (*ids)[QIAO_HASH_LEN],
    size_t nids, const char *under, const char *path,
    node_audit_result *res, char *err, size_t errlen) QIAO_MUST_USE;

/*
 * A step the exporter left out: held here, of a case in the bundle (or of
 * a case under the bundle's code the bundle lacks), signed by a key at or
 * before the head of its log the exporter stated it held (or by a key the
 * exporter's view leaves out, though it wrote the case). With the
 * exporter's signed statement and the author's signed entry, it proves the
 * exporter's claim false.
 */
typedef struct node_audit_omission {
	uint8_t case_id[QIAO_HASH_LEN];
	crdt_entry e;     /* the step left out, or the missing case's open */
	uint64_t view_seq; /* the head the exporter stated for its author */
	bool whole_case;   /* the bundle lacks the case itself */
	bool unstated;     /* the exporter's view leaves its author out
			      altogether, though it wrote the case */
} node_audit_omission;

/*
 * Reconciles a bundle (the file's bytes) with this node's store: the
 * exporter's claim is that no other step of its cases, and under its code
 * no other case, exists in the logs up to the heads it stated. Only steps
 * of keys whose log here agrees with the stated head (the same entry at
 * that seq) are weighed, so a fork is never mistaken for an omission; such
 * disagreements are counted in *forks. *out (free() it) gets the
 * omissions, *nout their number. QIAO_EMALFORMED (err says why: the file
 * does not decode, or its statement's signature does not hold),
 * QIAO_ESTORE, QIAO_ENOMEM.
 */
int node_audit_reconcile(node *n, const uint8_t *buf, size_t len,
    node_audit_omission **out, size_t *nout, size_t *forks, char *err,
    size_t errlen) QIAO_MUST_USE;

#endif
