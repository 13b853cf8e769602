/*
 * err — the one error vocabulary of qiao.
 *
 * Every fallible function in crdt/, node/ and conf/ returns one of these
 * codes; results travel through out-parameters written only on success.
 * Foreign codes (LMDB, nng, errno) are translated by the single file that
 * wraps the library, which logs the original text once.
 */
#ifndef QIAO_CRDT_ERR_H
#define QIAO_CRDT_ERR_H

#define QIAO_MUST_USE __attribute__((warn_unused_result))

enum qiao_err {
	QIAO_OK = 0,
	QIAO_ENOMEM,    /* allocation failed */
	QIAO_EINVAL,    /* a caller passed something out of range */
	QIAO_EMALFORMED,/* bytes are not the strict encoding we accept */
	QIAO_ETOOBIG,   /* a size limit was exceeded */
	QIAO_EBADSIG,   /* an Ed25519 signature does not verify */
	QIAO_EBADHASH,  /* a body does not match the hash its header commits to */
	QIAO_EGAP,      /* an entry's seq is beyond head+1: entries are missing */
	QIAO_EPREV,     /* seq is head+1 but prev is not the head's hash */
	QIAO_EFORK,     /* the author signed two different entries at one seq */
	QIAO_EDUP,      /* the entry is already held (not an error to a sync) */
	QIAO_EUNKNOWN,  /* the author is not enrolled (yet) */
	QIAO_EREVOKED,  /* the author's key was revoked before this entry */
	QIAO_EEXPIRED,  /* the author's enrolment had expired */
	QIAO_EUNAUTH,   /* the author may not write this record */
	QIAO_ENOTFOUND, /* no such record, entry, key or file */
	QIAO_EEXIST,    /* it already exists */
	QIAO_ESTATE,    /* the operation does not fit the current state */
	QIAO_ESTORE,    /* the LMDB store failed (details in the log) */
	QIAO_EFULL,     /* the store or the disk is full */
	QIAO_EIO,       /* a file could not be read or written */
	QIAO_ENET,      /* a network operation failed */
	QIAO_EPROTO,    /* a peer broke the sync protocol */
	QIAO_ECRYPTO,   /* a sealed message failed to open */
	QIAO_ETIMEDOUT, /* a bounded wait ran out */
	QIAO_ECLOSED,   /* the object was closed under us */
	QIAO_ECONFIG,   /* a configuration file is wrong */
	QIAO_ESKEW,     /* a clock is further ahead than the allowed skew */
	QIAO_EPERM,     /* a file has unsafe permissions */
	QIAO_ERRMAX
};

/* A short English description of code; never NULL. */
const char *qiao_strerror(int code);

/* A stable lower-case identifier of code ("bad-signature"), for --json. */
const char *qiao_errname(int code);

#endif
