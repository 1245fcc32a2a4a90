/* Configuration file syntax: one "key = value" per line, blank lines ignored.
 * Comments: '#' starts a comment at the start of a line (after optional
 * blanks) or after a blank (space or tab) in a value; the comment and the
 * blanks before it are dropped:   max-file-size = 1048576   # 1 MiB
 * A '#' inside an unquoted value with no blank before it (a#b) is an error,
 * never silently part of the value: quote the value to keep it. A value may
 * be wrapped in double quotes; then it may contain '#' and leading/trailing
 * blanks, and only blanks and a comment may follow the closing quote.
 * Keys are the long option names of the command line (so every option is
 * also a config key). Pure parser: no I/O. The file is read by the caller
 * (bounded size). Errors carry the 1-based line number. */
#ifndef CPM_CONF_H
#define CPM_CONF_H

#include <stddef.h>

#include "cpm/str.h"

#define CONF_MAX_BYTES (256 * 1024)
#define CONF_MAX_LINE 4096
#define CONF_MAX_KEY 64
#define CONF_MAX_VALUE 2048

/* Called once per setting, with NUL-terminated copies; return 0 to go on, or
 * non-zero to stop (the parse then returns that value). */
typedef int conf_kv_f(void *arg, const char *key, const char *value, int line);

struct conf_error {
	int line;        /* 1-based line of the error */
	const char *what; /* static text */
};

/* Returns 0, the callback's non-zero value, or -1 with *err filled. */
int conf_parse(const char *text, size_t len, conf_kv_f *cb, void *arg, struct conf_error *err);

#endif
