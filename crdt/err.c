#include <stddef.h>

#include "crdt/err.h"

static const struct {
	const char *name;
	const char *text;
} errs[QIAO_ERRMAX] = {
	[QIAO_OK] = { "ok", "success" },
	[QIAO_ENOMEM] = { "no-memory", "out of memory" },
	[QIAO_EINVAL] = { "invalid", "invalid argument" },
	[QIAO_EMALFORMED] = { "malformed", "malformed encoding" },
	[QIAO_ETOOBIG] = { "too-big", "size limit exceeded" },
	[QIAO_EBADSIG] = { "bad-signature", "bad signature" },
	[QIAO_EBADHASH] = { "bad-body-hash", "body does not match its hash" },
	[QIAO_EGAP] = { "gap", "entries missing before this one" },
	[QIAO_EPREV] = { "wrong-prev", "prev does not match the author's head" },
	[QIAO_EFORK] = { "fork", "author signed two entries at one seq" },
	[QIAO_EDUP] = { "duplicate", "entry already held" },
	[QIAO_EUNKNOWN] = { "unknown-author", "author not enrolled" },
	[QIAO_EREVOKED] = { "revoked", "author's key revoked" },
	[QIAO_EEXPIRED] = { "expired", "author's enrolment expired" },
	[QIAO_EUNAUTH] = { "unauthorised", "author may not write this" },
	[QIAO_ENOTFOUND] = { "not-found", "not found" },
	[QIAO_EEXIST] = { "exists", "already exists" },
	[QIAO_ESTATE] = { "wrong-state", "not allowed in the current state" },
	[QIAO_ESTORE] = { "store", "store error" },
	[QIAO_EFULL] = { "full", "store or disk full" },
	[QIAO_EIO] = { "io", "input/output error" },
	[QIAO_ENET] = { "network", "network error" },
	[QIAO_EPROTO] = { "protocol", "protocol violation" },
	[QIAO_ECRYPTO] = { "crypto", "message authentication failed" },
	[QIAO_ETIMEDOUT] = { "timeout", "timed out" },
	[QIAO_ECLOSED] = { "closed", "closed" },
	[QIAO_ECONFIG] = { "config", "bad configuration" },
	[QIAO_ESKEW] = { "clock-skew", "clock too far ahead" },
	[QIAO_EPERM] = { "permissions", "unsafe file permissions" },
};

const char *
qiao_strerror(int code)
{
	if (code < 0 || code >= QIAO_ERRMAX || errs[code].text == NULL)
		return "unknown error";
	return errs[code].text;
}

const char *
qiao_errname(int code)
{
	if (code < 0 || code >= QIAO_ERRMAX || errs[code].name == NULL)
		return "unknown";
	return errs[code].name;
}
