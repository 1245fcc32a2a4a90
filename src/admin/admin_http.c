/* admin.h: the HTTP side. libmicrohttpd runs one internal polling thread (HTTPS with
 * admin_tls.h); each request is authenticated (client certificate, bearer token), its body
 * gathered up to ADMIN_BODY_MAX (413 beyond), its route and method checked (404, 405 + Allow),
 * then handed to its endpoint (admin_api.c). */
#include "admin/admin.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin_int.h"
#include "admin/admin_static.h"
#include "admin/console_files.h"
#include "common/log.h"
#include "common/metrics.h"
#include "net/loop_call.h"
#include "store/store_reader.h"

/* The largest request body: the only body is {"expires": N}; anything bigger is not ours. */
#define ADMIN_BODY_MAX 4096
/* Calls waiting for the loop at once (one HTTP thread: 1 would do; a margin for bursts). */
#define ADMIN_INBOX_MAX 64

struct req_ctx {
	char body[ADMIN_BODY_MAX];
	size_t len;
	bool too_big;
};

void admin_error(struct admin_resp *r, int status, const char *why)
{
	r->status = status;
	json_decref(r->json);
	r->json = json_pack("{s:s}", "error", why);
}

const char *admin_query(const struct admin_req *q, const char *name)
{
	return MHD_lookup_connection_value(q->conn, MHD_GET_ARGUMENT_KIND, name);
}

static enum MHD_Result send_resp(struct MHD_Connection *conn, struct admin_resp *r, const char *allow, bool head)
{
	char *text = r->text;
	size_t len = r->text_len;
	const char *ctype = r->ctype ? r->ctype : "application/json";
	if (r->json) {
		text = json_dumps(r->json, JSON_COMPACT);
		len = text ? strlen(text) : 0;
		json_decref(r->json);
		r->json = NULL;
		free(r->text);
		if (!text)
			return MHD_NO;
	}
	struct MHD_Response *resp;
	if (head) {
		free(text);
		resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	} else {
		resp = MHD_create_response_from_buffer(len, text ? text : (void *)"", text ? MHD_RESPMEM_MUST_FREE
											 : MHD_RESPMEM_PERSISTENT);
	}
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	if (r->status == 401)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"cpmd\"");
	enum MHD_Result ret = MHD_queue_response(conn, (unsigned)r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* 403 to a client without a valid certificate, and one log line (who, what, why) */
static enum MHD_Result refuse_client(struct MHD_Connection *conn, const char *method, const char *url, const char *why)
{
	char peer[INET6_ADDRSTRLEN] = "?";
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, peer, sizeof peer);
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, peer, sizeof peer);
	log_warn("admin: %s %s from %s refused: %s", method, url, peer, why);
	struct admin_resp r = {.status = 403};
	char msg[400];
	snprintf(msg, sizeof msg, "a client certificate signed by the admin client CA is required (%s)", why);
	admin_error(&r, 403, msg);
	return send_resp(conn, &r, NULL, !strcmp(method, MHD_HTTP_METHOD_HEAD));
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload, size_t *upload_len, void **con_cls)
{
	struct admin *a = cls;
	struct req_ctx *ctx = *con_cls;
	if (!ctx) {
		/* first call: headers only; the body (if any) comes in the next calls */
		if (!(ctx = calloc(1, sizeof *ctx)))
			return MHD_NO;
		*con_cls = ctx;
		return MHD_YES;
	}
	if (*upload_len) {
		if (ctx->len + *upload_len > ADMIN_BODY_MAX)
			ctx->too_big = true; /* read on and discarded, answered 413 at the end */
		else {
			memcpy(ctx->body + ctx->len, upload, *upload_len);
			ctx->len += *upload_len;
		}
		*upload_len = 0;
		return MHD_YES;
	}
	char why[300];
	/* the certificate before everything, the console included: it is the connection's, and a
	 * browser shows it in the handshake before it loads the page (unlike the token) */
	if (a->tls.ca && !admin_tls_client_ok(conn, why, sizeof why))
		return refuse_client(conn, method, url, why);
	if (console_file_lookup(url)) /* the console's public page, before the token (admin_static.h) */
		return admin_static_answer(a->console, conn, method, url);
	struct admin_resp r = {.status = 200};
	struct admin_req q = {.a = a, .conn = conn, .method = admin_method_bit(method), .body = ctx->body,
			      .body_len = ctx->len};
	admin_route_parse(url, &q.path);
	const char *allow = NULL;
	if (a->token[0] &&
	    !admin_token_ok(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION), a->token))
		admin_error(&r, 401, "a valid bearer token is required (Authorization: Bearer TOKEN)");
	else if (q.path.route == AR_NONE)
		admin_error(&r, 404, "no such resource");
	else if (!(admin_route_methods(q.path.route) & q.method)) {
		admin_error(&r, 405, "method not allowed here");
		allow = admin_route_allow(q.path.route);
	} else if (ctx->too_big)
		admin_error(&r, 413, "request body too large");
	else
		admin_api_dispatch(&q, &r);
	if (r.status >= 500)
		metrics_error(ME_ADMIN);
	return send_resp(conn, &r, allow, q.method == AM_HEAD);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode t)
{
	free(*con_cls);
	*con_cls = NULL;
}

/* libmicrohttpd's own messages through our logger (one line each, peer bytes escaped); its
 * format strings end with a newline, which the logger's escaping would show as \n */
__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	vsnprintf(line, sizeof line, fmt, ap);
	size_t n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = 0;
	log_warn("admin: libmicrohttpd: %s", line);
}

static bool is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
	return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

int admin_start(struct admin **out, const struct admin_config *cfg, struct loop *loop, struct pf *pf)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	/* epoll (MHD_USE_AUTO picks it on Linux), never select(): cpmd holds thousands of MSRP
	 * sockets, and a connection whose fd is over FD_SETSIZE would fail with select */
	unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
	if (inet_pton(AF_INET, cfg->host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(cfg->port);
	} else if (inet_pton(AF_INET6, cfg->host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(cfg->port);
		flags |= MHD_USE_IPv6;
	} else {
		log_error("admin: %s is not an IP address", cfg->host);
		return -EINVAL;
	}
	bool has_token = cfg->token && *cfg->token, https = cfg->tls_cert && *cfg->tls_cert;
	bool client_ca = https && cfg->tls_ca && *cfg->tls_ca;
	if (!is_loopback(&ss) && !has_token && !client_ca) {
		/* anyone who reaches the port could purge the queue: never open without a secret */
		log_error("admin: %s is not a loopback address: --admin-token or --admin-tls-ca (client certificates) "
			  "is required", cfg->host);
		return -EPERM;
	}
	struct admin *a = calloc(1, sizeof *a);
	if (!a)
		return -ENOMEM;
	a->pf = pf;
	a->console = cfg->console;
	if (has_token)
		snprintf(a->token, sizeof a->token, "%s", cfg->token);
	/* libmicrohttpd's TLS options, a list that ends at once without TLS */
	struct MHD_OptionItem tls_opts[4] = {{MHD_OPTION_END, 0, NULL}};
	if (https) {
		if (admin_tls_load(&a->tls, cfg->tls_cert, cfg->tls_key, client_ca ? cfg->tls_ca : NULL)) {
			admin_destroy(a);
			return -EINVAL;
		}
		flags |= MHD_USE_TLS;
		int i = 0;
		tls_opts[i++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, a->tls.cert};
		tls_opts[i++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, a->tls.key};
		/* a trust list makes libmicrohttpd ask for (not require) a client certificate */
		if (a->tls.ca)
			tls_opts[i++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, a->tls.ca};
		tls_opts[i] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
	}
	int err = loop_inbox_create(&a->inbox, loop, ADMIN_INBOX_MAX);
	if (!err)
		err = store_reader_open(&a->reader, cfg->data_dir);
	if (err) {
		admin_destroy(a);
		return err;
	}
	/* the logger first: libmicrohttpd reports the options before it to stderr, and warns that it
	 * was not first (a start-up line that was logged at every start before) */
	a->d = MHD_start_daemon(flags, cfg->port, NULL, NULL, on_request, a, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
				MHD_OPTION_SOCK_ADDR, &ss, MHD_OPTION_NOTIFY_COMPLETED, on_completed, a,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)64, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
				MHD_OPTION_ARRAY, tls_opts, MHD_OPTION_END);
	if (!a->d) {
		log_error("admin: cannot listen on %s:%u", cfg->host, cfg->port);
		admin_destroy(a);
		return -EADDRINUSE;
	}
	log_info("admin: listening on http%s://%s%s%s:%u%s%s", https ? "s" : "", s6->sin6_family == AF_INET6 ? "[" : "",
		 cfg->host, s6->sin6_family == AF_INET6 ? "]" : "", cfg->port, has_token ? " (bearer token required)" : "",
		 client_ca ? " (client certificate required)" : "");
	*out = a;
	return 0;
}

void admin_close(struct admin *a)
{
	if (!a)
		return;
	/* first the waiting calls (the HTTP thread may be in one), then the thread */
	loop_inbox_close(a->inbox);
	if (a->d)
		MHD_stop_daemon(a->d);
	a->d = NULL;
}

void admin_destroy(struct admin *a)
{
	if (!a)
		return;
	admin_close(a);
	store_reader_close(a->reader);
	loop_inbox_destroy(a->inbox);
	admin_tls_free(&a->tls); /* libmicrohttpd kept pointers to the texts until it stopped */
	free(a);
}
