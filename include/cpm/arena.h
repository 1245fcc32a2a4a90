/* cpm_arena: memory that lives as long as one object (a transfer, a delivery, one request
 * being handled) and is freed in one call. Allocations are never freed one by one. It is
 * what sofia's su_home was for pf, without tying pf to the SIP stack.
 *
 * OWNERSHIP: the arena's owner calls cpm_arena_free(); every pointer it handed out dies
 * then. A zeroed struct is an empty arena (CPM_ARENA_INIT). Not thread-safe. */
#ifndef CPM_ARENA_H
#define CPM_ARENA_H

#include <stddef.h>

struct cpm_arena_block;

struct cpm_arena {
	struct cpm_arena_block *blocks;
};

#define CPM_ARENA_INIT {NULL}

/* NULL when out of memory (or n overflows). Memory is zeroed and aligned for any type. */
void *cpm_arena_alloc(struct cpm_arena *a, size_t n);
/* The same, not zeroed: for big buffers that are written before they are read (an SDP or
 * body being built, a thumbnail read from the store), where zeroing would be wasted work. */
void *cpm_arena_alloc_raw(struct cpm_arena *a, size_t n);
/* Copies of a string (NULL in, NULL out) and of n bytes plus a NUL. */
char *cpm_arena_strdup(struct cpm_arena *a, const char *s);
char *cpm_arena_strndup(struct cpm_arena *a, const char *s, size_t n);
char *cpm_arena_printf(struct cpm_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cpm_arena_free(struct cpm_arena *a);

#endif
