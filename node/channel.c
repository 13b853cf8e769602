#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "node/channel.h"
#include "node/link.h"
#include "node/trust.h"

/* A sync message of the largest size the config admits must fit in one
 * sealed frame. */
_Static_assert(QIAO_NET_MAX_MESSAGE_MAX <= NODE_LINK_PLAIN_MAX,
    "max_message beyond what one link frame carries");

struct node_channel {
	node_link *link;
	/* The handshake frame waiting for node_channel_pop: the handshake
	 * alternates, so there is never more than one. */
	uint8_t hs[NODE_LINK_HS_MAX];
	size_t hslen;
	/* The proven key, kept past a later failure for the log line. */
	bool has_peer;
	uint8_t peer[QIAO_KEY_LEN];
};

int
node_channel_new(node_channel **out, node *n, bool initiator)
{
	node_channel *ch;
	const char *why = NULL;
	int rc;

	if ((rc = node_load_key(n)) != QIAO_OK)
		return rc;
	if ((ch = calloc(1, sizeof(*ch))) == NULL)
		return QIAO_ENOMEM;
	/* node_trust_link_verify reads the node's own trust store at the
	 * node's clock: ctx is the node. */
	if ((rc = node_link_new(&ch->link, initiator, node_secret_key(n),
		 node_trust_link_verify, n)) != QIAO_OK) {
		free(ch);
		return rc;
	}
	if (initiator &&
	    (rc = node_link_step(ch->link, NULL, 0, ch->hs, sizeof(ch->hs),
		 &ch->hslen, &why)) != QIAO_OK) {
		node_channel_free(ch);
		return rc;
	}
	*out = ch;
	return QIAO_OK;
}

void
node_channel_free(node_channel *ch)
{
	if (ch == NULL)
		return;
	node_link_free(ch->link); /* wipes */
	free(ch);
}

bool
node_channel_established(const node_channel *ch)
{
	return node_link_established(ch->link);
}

int
node_channel_pop(node_channel *ch, uint8_t **frame, size_t *len)
{
	uint8_t *b;

	if (ch->hslen == 0)
		return QIAO_ENOTFOUND;
	if ((b = malloc(ch->hslen)) == NULL)
		return QIAO_ENOMEM;
	memcpy(b, ch->hs, ch->hslen);
	*frame = b;
	*len = ch->hslen;
	ch->hslen = 0;
	return QIAO_OK;
}

int
node_channel_open(node_channel *ch, const uint8_t *frame, size_t len,
    uint8_t **plain, size_t *plen, const char **why)
{
	uint8_t *b;
	size_t n;
	int rc;

	if (why != NULL)
		*why = NULL;
	if (!node_link_established(ch->link)) {
		/* The caller pops each answer before the next frame; a frame
		 * left over would be lost, so say so rather than overwrite. */
		if (ch->hslen != 0)
			return QIAO_ESTATE;
		rc = node_link_step(ch->link, frame, len, ch->hs,
		    sizeof(ch->hs), &ch->hslen, why);
		if (rc != QIAO_OK)
			return rc;
		if (node_link_established(ch->link)) {
			memcpy(ch->peer, node_link_peer(ch->link),
			    QIAO_KEY_LEN);
			ch->has_peer = true;
		}
		*plain = NULL;
		*plen = 0;
		return QIAO_OK;
	}
	/* node_link_open checks the size before it writes; a frame shorter
	 * than the overhead fails there, so any length is safe to size. */
	n = len > NODE_LINK_OVERHEAD ? len - NODE_LINK_OVERHEAD : 0;
	if ((b = malloc(n ? n : 1)) == NULL)
		return QIAO_ENOMEM;
	if ((rc = node_link_open(ch->link, frame, len, b, n, &n, why)) !=
	    QIAO_OK) {
		free(b);
		return rc;
	}
	*plain = b;
	*plen = n;
	return QIAO_OK;
}

int
node_channel_seal(node_channel *ch, const uint8_t *plain, size_t len,
    uint8_t **frame, size_t *flen)
{
	uint8_t *b;
	int rc;

	if (len > NODE_LINK_PLAIN_MAX)
		return QIAO_ETOOBIG;
	if ((b = malloc(len + NODE_LINK_OVERHEAD)) == NULL)
		return QIAO_ENOMEM;
	if ((rc = node_link_seal(ch->link, plain, len, b,
		 len + NODE_LINK_OVERHEAD, flen)) != QIAO_OK) {
		free(b);
		return rc;
	}
	*frame = b;
	return QIAO_OK;
}

const uint8_t *
node_channel_peer(const node_channel *ch)
{
	return ch->has_peer ? ch->peer : NULL;
}
