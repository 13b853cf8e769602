/*
 * Fuzz target: the configuration parser (inih and our directive checks).
 * Whatever the text, it answers OK or an error message naming a line; it
 * never crashes and never writes past its buffers.
 */
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	qiao_conf c;
	char err[512];
	char *text = malloc(size + 1);

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	conf_defaults(&c);
	if (conf_load_string(&c, text, "fuzz.conf", err, sizeof(err)) !=
	    QIAO_OK && err[0] == '\0')
		__builtin_trap(); /* an error must say what is wrong */
	free(text);
	return 0;
}
