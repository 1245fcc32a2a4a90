/* libFuzzer driver for the configuration file parser. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cpm/conf.h"

static int count_kv(void *arg, const char *key, const char *value, int line)
{
	size_t *n = arg;
	/* Keys and values are NUL-terminated, bounded copies. */
	if (strlen(key) > CONF_MAX_KEY || strlen(value) > CONF_MAX_VALUE || line <= 0)
		__builtin_trap();
	(*n)++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf_error err;
	size_t n = 0;
	conf_parse((const char *)data, size, count_kv, &n, &err);
	return 0;
}
