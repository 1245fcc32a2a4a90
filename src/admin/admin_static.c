/* admin_static — the operator console's files on the admin port (see admin_static.h). */
#include "admin/admin_static.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin/console_files.h"
#include "common/log.h"

struct admin_static {
	int dirfd;
};

int admin_static_open(struct admin_static **out, const char *dir, bool required)
{
	*out = NULL;
	/* an error only when it stops cpmd; a default directory that is missing leaves the API up */
	enum log_level lvl = required ? LOG_ERROR : LOG_WARN;
	const char *then = required ? "" : " (no console: / answers 404, the API works)";
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		log_msg(lvl, "admin console: %s: %s%s", dir, strerror(e), then);
		return -e;
	}
	size_t n;
	const struct console_file *f = console_files(&n);
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		int e = fstatat(fd, f[i].name, &st, 0) != 0 ? errno : S_ISREG(st.st_mode) ? 0 : EINVAL;
		if (e) {
			log_msg(lvl, "admin console: %s/%s: %s%s", dir, f[i].name, strerror(e), then);
			close(fd);
			return -e;
		}
	}
	struct admin_static *s = calloc(1, sizeof *s);
	if (!s) {
		close(fd);
		return -ENOMEM;
	}
	s->dirfd = fd;
	*out = s;
	log_info("admin console: serving %s at /", dir);
	return 0;
}

void admin_static_close(struct admin_static *s)
{
	if (!s)
		return;
	close(s->dirfd);
	free(s);
}

static enum MHD_Result plain(struct MHD_Connection *c, unsigned code, const char *text, const char *allow)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	enum MHD_Result ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

enum MHD_Result admin_static_answer(const struct admin_static *s, struct MHD_Connection *c, const char *method,
				    const char *url)
{
	const struct console_file *f = console_file_lookup(url);
	if (!f || !s)
		return plain(c, MHD_HTTP_NOT_FOUND, "not found\n", NULL);
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return plain(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n", "GET, HEAD");
	/* f->name is ours (console_files.c), never the request's. Opened per request so that an
	 * operator who updates the files sees them without a restart. */
	int fd = openat(s->dirfd, f->name, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		log_warn("admin console: %s: %s", f->name, fd < 0 ? strerror(errno) : "not a regular file");
		if (fd >= 0)
			close(fd);
		return plain(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "console file unreadable\n", NULL);
	}
	struct MHD_Response *r = MHD_create_response_from_fd((size_t)st.st_size, fd); /* owns fd */
	if (!r) {
		close(fd);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, f->type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	/* The page shows names and addresses chosen by remote senders: even if one slipped into
	 * the DOM as markup, no inline script or foreign resource may run or load, and no other
	 * site may frame the page (clickjacking of the purge button). */
	MHD_add_response_header(r, "Content-Security-Policy",
				"default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
				"img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}
