/* cpm_arena: one malloc per allocation, chained, freed together. Arena users allocate a
 * handful of objects per transfer (offer, bodies, header lines), so a bump allocator over
 * big blocks would save little and waste memory per idle transfer. */
#include "cpm/arena.h"

#include <stdalign.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cpm_arena_block {
	struct cpm_arena_block *next;
	alignas(max_align_t) unsigned char data[];
};

static void *arena_block(struct cpm_arena *a, size_t n, bool zero)
{
	if (n > SIZE_MAX - sizeof(struct cpm_arena_block))
		return NULL;
	size_t sz = sizeof(struct cpm_arena_block) + (n ? n : 1);
	struct cpm_arena_block *b = zero ? calloc(1, sz) : malloc(sz);
	if (!b)
		return NULL;
	b->next = a->blocks;
	a->blocks = b;
	return b->data;
}

void *cpm_arena_alloc(struct cpm_arena *a, size_t n)
{
	return arena_block(a, n, true);
}

void *cpm_arena_alloc_raw(struct cpm_arena *a, size_t n)
{
	return arena_block(a, n, false);
}

char *cpm_arena_strndup(struct cpm_arena *a, const char *s, size_t n)
{
	if (!s)
		return NULL;
	char *d = cpm_arena_alloc(a, n + 1);
	if (d)
		memcpy(d, s, n);
	return d;
}

char *cpm_arena_strdup(struct cpm_arena *a, const char *s)
{
	return s ? cpm_arena_strndup(a, s, strlen(s)) : NULL;
}

char *cpm_arena_printf(struct cpm_arena *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	char *d = cpm_arena_alloc(a, (size_t)n + 1);
	if (!d)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(d, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return d;
}

void cpm_arena_free(struct cpm_arena *a)
{
	while (a->blocks) {
		struct cpm_arena_block *b = a->blocks;
		a->blocks = b->next;
		free(b);
	}
}
