/* src/admin/console_files.c + admin_static.c: the console's path table, the start-up check of
 * the console directory, and the answers over a real libmicrohttpd daemon on loopback (a raw
 * socket client, so the request path reaches the server exactly as written: "..", "//"). */
#include "admin/admin_static.h"
#include "admin/console_files.h"
#include "unit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

/* The console directory of the tests: made before main, removed after it. */
__attribute__((constructor)) static void make_dir(void)
{
	snprintf(dir, sizeof dir, "/tmp/cpm-test-admin-static.XXXXXX");
	if (!mkdtemp(dir))
		abort();
}
__attribute__((destructor)) static void remove_dir(void)
{
	static const char *const names[] = {"index.html", "app.js", "style.css"};
	char p[128];
	for (size_t i = 0; i < 3; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, names[i]);
		unlink(p);
	}
	rmdir(dir);
}

static void put(const char *name, const char *text)
{
	char p[128];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

UNIT_TEST(lookup_only_the_list)
{
	CHECK_STR(console_file_lookup("/")->name, "index.html");
	CHECK_STR(console_file_lookup("/index.html")->name, "index.html");
	CHECK_STR(console_file_lookup("/app.js")->name, "app.js");
	CHECK(strstr(console_file_lookup("/app.js")->type, "javascript") != NULL);
	CHECK_STR(console_file_lookup("/style.css")->type, "text/css; charset=utf-8");
	const char *no[] = {"", "/../app.js", "/%2e%2e/app.js", "//app.js", "/app.js/", "/app.js?x=1", "/APP.JS",
			    "/web/console/app.js", "app.js", "/./app.js", "/favicon.ico", "/api/v1/health"};
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
		CHECK(console_file_lookup(no[i]) == NULL);
	CHECK(console_file_lookup(NULL) == NULL);
}

UNIT_TEST(open_checks_every_file)
{
	struct admin_static *s = (void *)1;
	CHECK_EQ_INT(admin_static_open(&s, "/nonexistent/console", true), -ENOENT);
	/* a default directory: the same answer (only its log line is a warning) */
	CHECK_EQ_INT(admin_static_open(&s, "/nonexistent/console", false), -ENOENT);
	CHECK(s == NULL);
	put("index.html", "<!doctype html>");
	put("app.js", "'use strict';");
	CHECK_EQ_INT(admin_static_open(&s, dir, true), -ENOENT); /* style.css missing */
	char p[128];
	snprintf(p, sizeof p, "%s/style.css", dir);
	CHECK(mkdir(p, 0700) == 0);
	CHECK_EQ_INT(admin_static_open(&s, dir, true), -EINVAL); /* not a regular file */
	CHECK(rmdir(p) == 0);
	put("style.css", "body{}");
	CHECK_EQ_INT(admin_static_open(&s, dir, true), 0);
	admin_static_close(s);
	admin_static_close(NULL);
}

/* --- over HTTP ------------------------------------------------------------------------------ */
static struct admin_static *served;

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
			       const char *version, const char *upload, size_t *upload_len, void **con_cls)
{
	if (console_file_lookup(url)) /* the hook of admin_http.c */
		return admin_static_answer(served, c, method, url);
	static const char nf[] = "api";
	struct MHD_Response *r = MHD_create_response_from_buffer(3, (void *)nf, MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret = MHD_queue_response(c, 418, r); /* "the rest of the admin API" */
	MHD_destroy_response(r);
	return ret;
}

/* One raw request; the whole answer (HTTP/1.0: the server closes) into out. */
static size_t ask(unsigned port, const char *req, char *out, size_t cap)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	size_t n = 0;
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 && write(fd, req, strlen(req)) > 0) {
		ssize_t k;
		while (n < cap - 1 && (k = read(fd, out + n, cap - 1 - n)) > 0)
			n += (size_t)k;
	}
	if (fd >= 0)
		close(fd);
	out[n] = '\0';
	return n;
}

UNIT_TEST(answers_over_http)
{
	CHECK_EQ_INT(admin_static_open(&served, dir, true), 0);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handler, NULL,
						MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_END);
	CHECK(d != NULL);
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	unsigned port = info ? info->port : 0;
	CHECK(port != 0);
	char buf[8192];

	ask(port, "GET / HTTP/1.0\r\n\r\n", buf, sizeof buf);
	CHECK(strncmp(buf, "HTTP/1.0 200", 12) == 0 || strncmp(buf, "HTTP/1.1 200", 12) == 0);
	CHECK(strstr(buf, "Content-Type: text/html; charset=utf-8\r\n") != NULL);
	CHECK(strstr(buf, "Content-Security-Policy: default-src 'none'; script-src 'self';") != NULL);
	CHECK(strstr(buf, "frame-ancestors 'none'") != NULL);
	CHECK(strstr(buf, "X-Content-Type-Options: nosniff\r\n") != NULL);
	CHECK(strstr(buf, "\r\n\r\n<!doctype html>") != NULL);

	/* re-opened per request: an edited file is served at once */
	put("app.js", "'use strict'; // v2");
	ask(port, "GET /app.js HTTP/1.0\r\n\r\n", buf, sizeof buf);
	CHECK(strstr(buf, "\r\n\r\n'use strict'; // v2") != NULL);
	CHECK(strstr(buf, "Content-Type: text/javascript") != NULL);

	ask(port, "HEAD /style.css HTTP/1.0\r\n\r\n", buf, sizeof buf);
	CHECK(strstr(buf, " 200 ") != NULL);
	CHECK(strstr(buf, "body{}") == NULL);

	ask(port, "POST / HTTP/1.0\r\nContent-Length: 0\r\n\r\n", buf, sizeof buf);
	CHECK(strstr(buf, " 405 ") != NULL);
	CHECK(strstr(buf, "Allow: GET, HEAD\r\n") != NULL);
	ask(port, "DELETE /app.js HTTP/1.0\r\n\r\n", buf, sizeof buf);
	CHECK(strstr(buf, " 405 ") != NULL);

	/* anything else is not the console's (here: the API's 418), whatever dot segments it has */
	const char *other[] = {"GET /../index.html HTTP/1.0\r\n\r\n", "GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.0\r\n\r\n",
			       "GET //app.js HTTP/1.0\r\n\r\n", "GET /index.html/.. HTTP/1.0\r\n\r\n",
			       "GET /etc/passwd HTTP/1.0\r\n\r\n"};
	for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
		ask(port, other[i], buf, sizeof buf);
		CHECK(strstr(buf, " 418 ") != NULL);
		CHECK(strstr(buf, "root:") == NULL);
	}

	/* a file removed after start-up: 500, no crash; no console at all: 404 */
	char p[128];
	snprintf(p, sizeof p, "%s/style.css", dir);
	unlink(p);
	ask(port, "GET /style.css HTTP/1.0\r\n\r\n", buf, sizeof buf);
	CHECK(strstr(buf, " 500 ") != NULL);
	admin_static_close(served);
	served = NULL;
	ask(port, "GET / HTTP/1.0\r\n\r\n", buf, sizeof buf);
	CHECK(strstr(buf, " 404 ") != NULL);
	MHD_stop_daemon(d);
	put("style.css", "body{}");
}

UNIT_MAIN(T(lookup_only_the_list), T(open_checks_every_file), T(answers_over_http))
