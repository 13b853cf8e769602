#include <stdlib.h>
#include <string.h>

#include "node/channel.h"

/* Passthrough until node/link plugs in (see channel.h). */
struct node_channel {
	node *n;
	bool initiator;
};

int
node_channel_new(node_channel **out, node *n, bool initiator)
{
	node_channel *ch = calloc(1, sizeof(*ch));

	if (ch == NULL)
		return QIAO_ENOMEM;
	ch->n = n;
	ch->initiator = initiator;
	*out = ch;
	return QIAO_OK;
}

void
node_channel_free(node_channel *ch)
{
	free(ch);
}

bool
node_channel_established(const node_channel *ch)
{
	(void)ch;
	return true;
}

int
node_channel_pop(node_channel *ch, uint8_t **frame, size_t *len)
{
	(void)ch;
	(void)frame;
	(void)len;
	return QIAO_ENOTFOUND;
}

static int
copy(const uint8_t *in, size_t len, uint8_t **out, size_t *olen)
{
	uint8_t *b = malloc(len ? len : 1);

	if (b == NULL)
		return QIAO_ENOMEM;
	memcpy(b, in, len);
	*out = b;
	*olen = len;
	return QIAO_OK;
}

int
node_channel_open(node_channel *ch, const uint8_t *frame, size_t len,
    uint8_t **plain, size_t *plen)
{
	(void)ch;
	return copy(frame, len, plain, plen);
}

int
node_channel_seal(node_channel *ch, const uint8_t *plain, size_t len,
    uint8_t **frame, size_t *flen)
{
	(void)ch;
	return copy(plain, len, frame, flen);
}

const uint8_t *
node_channel_peer(const node_channel *ch)
{
	(void)ch;
	return NULL;
}
