/* console_files — which files of the operator console (web/console) the admin port serves, by
 * request path. A fixed list, so no part of a request path is ever joined to a directory: "..",
 * "%2e%2e", a NUL, a symlink name or an absolute path can only fail to match (the static-file
 * handler, admin_static.c, opens the list's own names). Pure, no I/O: fuzzed
 * (fuzz/fuzz_console_files.c). */
#ifndef CPMD_ADMIN_CONSOLE_FILES_H
#define CPMD_ADMIN_CONSOLE_FILES_H

#include <stddef.h>

struct console_file {
	const char *path; /* the request path ("/" for the page itself) */
	const char *name; /* the file in the console directory */
	const char *type; /* its Content-Type */
};

/* The console file served at path (a request path as the HTTP server gives it, query string
 * removed), or NULL when path is not one of the console's. */
const struct console_file *console_file_lookup(const char *path);

/* The whole list (n entries), for the start-up check that the directory holds every file. */
const struct console_file *console_files(size_t *n);

#endif
