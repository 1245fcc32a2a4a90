/* cpm_str: a read-only slice (pointer + length) into a buffer someone else owns.
 * Parsers hand these out instead of copying; the owner of the buffer decides
 * how long they stay valid (documented on each function that returns one). */
#ifndef CPM_STR_H
#define CPM_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct cpm_str {
	const char *p;
	size_t len;
};

#define CPM_STR_NULL ((struct cpm_str){NULL, 0})
#define CPM_STR_LIT(s) ((struct cpm_str){(s), sizeof(s) - 1})

static inline struct cpm_str cpm_str_c(const char *s)
{
	return (struct cpm_str){s, s ? strlen(s) : 0};
}

static inline bool cpm_str_eq(struct cpm_str a, const char *lit)
{
	size_t n = strlen(lit);
	return a.len == n && (n == 0 || memcmp(a.p, lit, n) == 0);
}

/* ASCII case-insensitive comparison with a C string. */
bool cpm_str_caseeq(struct cpm_str a, const char *lit);

/* Copy into a NUL-terminated fixed buffer; returns false (and writes "")
 * when it does not fit, so truncation is never silent. */
bool cpm_str_copy(char *dst, size_t cap, struct cpm_str s);

/* Trim spaces and tabs on both ends. */
struct cpm_str cpm_str_trim(struct cpm_str s);

#include <stdint.h>
/* Parse an unsigned decimal: digits only (no sign, no spaces), value <= max.
 * Bounded by value, not by digit count, so leading zeros are harmless and an
 * overflow is refused. Returns false on anything else. */
bool cpm_str_to_u64_max(struct cpm_str s, uint64_t max, uint64_t *out);
static inline bool cpm_str_to_u64(struct cpm_str s, uint64_t *out)
{
	return cpm_str_to_u64_max(s, UINT64_MAX, out);
}

#endif
