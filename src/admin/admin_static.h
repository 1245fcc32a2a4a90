/* admin_static — serves the operator console (web/console: index.html, app.js, style.css) at
 * "/" on the admin port, next to the API. Only the fixed list of console_files.h is served,
 * each file opened by its own name under a directory opened once at start-up, so no request
 * path reaches the file system. The files are public (the page must load to ask for the
 * token): the admin dispatcher calls this BEFORE its token check, for paths
 * console_file_lookup() knows, and the API keeps its bearer check.
 *
 * THREADING: admin_static_answer runs on the HTTP server's threads; the struct is read-only
 * after admin_static_open (one directory descriptor, openat per request). */
#ifndef CPMD_ADMIN_STATIC_H
#define CPMD_ADMIN_STATIC_H

#include <stdbool.h>

#include <microhttpd.h>

struct admin_static;

/* Opens the console directory and checks it holds every console file (regular files). 0, or
 * -errno with a log line naming the directory or the missing file: an error when required (the
 * operator named it: the caller stops), else a warning (a default directory: the caller goes on
 * without a console). */
int admin_static_open(struct admin_static **out, const char *dir, bool required);
void admin_static_close(struct admin_static *s); /* NULL is fine */

/* Answers a request for a console path (console_file_lookup(url) != NULL): GET/HEAD get the
 * file with its type, no-cache and a Content-Security-Policy that allows only same-origin
 * scripts, styles and calls; other methods 405. s NULL (no console): 404. */
enum MHD_Result admin_static_answer(const struct admin_static *s, struct MHD_Connection *c, const char *method,
				    const char *url);

#endif
