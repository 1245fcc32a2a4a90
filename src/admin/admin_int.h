/* Internals of src/admin: admin_http.c (the server, authentication, dispatch) and admin_api.c
 * (the endpoints). Not a public header. */
#ifndef CPMD_ADMIN_ADMIN_INT_H
#define CPMD_ADMIN_ADMIN_INT_H

#include <jansson.h>
#include <stddef.h>

#include "admin/admin_parse.h"
#include "admin/admin_tls.h"
#include "store/store_reader.h"

struct MHD_Daemon;
struct MHD_Connection;
struct loop_inbox;
struct store_reader;
struct pf;

struct admin {
	struct MHD_Daemon *d;
	struct loop_inbox *inbox;
	struct store_reader *reader; /* used by the HTTP thread only */
	struct pf *pf;               /* loop thread only: reached through inbox calls */
	char token[256];
	struct admin_tls tls;        /* the PEM texts libmicrohttpd serves HTTPS with; tls.ca: client certs */
	/* the store's totals for /metrics, cached (HTTP thread only): see admin_totals */
	struct store_totals totals;
	int64_t totals_at_ms, totals_ttl_ms;
	const struct admin_static *console; /* admin_config.console (owned by cpmd's main) */
};

/* What an endpoint answers: a JSON document (owned), or text (malloc'ed, owned). */
struct admin_resp {
	int status;
	json_t *json;
	char *text;
	size_t text_len;
	const char *ctype;
};

/* The request as the endpoints see it. */
struct admin_req {
	struct admin *a;
	struct MHD_Connection *conn;
	unsigned method; /* AM_* */
	struct admin_path path;
	const char *body;
	size_t body_len;
};

/* A JSON error document {"error": why} with status. */
void admin_error(struct admin_resp *r, int status, const char *why);
/* A query parameter, NULL when absent. */
const char *admin_query(const struct admin_req *q, const char *name);
/* The endpoint of q->path.route (the method is allowed there). */
void admin_api_dispatch(const struct admin_req *q, struct admin_resp *r);

/* How long an HTTP request waits for the loop (a store commit included). */
#define ADMIN_LOOP_TIMEOUT_MS 5000

#endif
