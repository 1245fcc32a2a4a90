/* cpmctl's pieces: ctl_http.c talks to cpmd's admin API (libcurl, jansson), main.c reads the
 * command line and prints (tables for people, the server's JSON with --json). */
#ifndef CPMCTL_CTL_H
#define CPMCTL_CTL_H

#include <jansson.h>

/* Exit codes (cpmctl --help lists them). */
enum {
	CTL_OK = 0,
	CTL_ERR_SERVER = 1,      /* cpmd answered an error (400, 409, 5xx) */
	CTL_ERR_USAGE = 2,
	CTL_ERR_UNREACHABLE = 3, /* no answer from --admin */
	CTL_ERR_AUTH = 4,        /* 401: missing or wrong --token; 403: no valid client certificate */
	CTL_ERR_NOT_FOUND = 5,   /* 404 */
};

struct ctl {
	const char *admin; /* ADDR:PORT (http), http://ADDR:PORT or https://ADDR:PORT */
	const char *token; /* NULL: none */
	/* https: the CAs cpmd's certificate is checked with (NULL: the system's), and the client
	 * certificate and key cpmd asks with --admin-tls-ca (NULL: none) */
	const char *cacert, *cert, *key;
	long timeout_s;
};

/* One request: method, path (with its query, already escaped), an optional JSON body. On 2xx
 * *out is the parsed answer (the caller decrefs) and *raw its text (freed by the caller); the
 * return is a CTL_* code, with a message on stderr when it is not CTL_OK. */
int ctl_request(const struct ctl *c, const char *method, const char *path, const char *body, json_t **out,
		char **raw);
/* A query value, percent-escaped (malloc'ed). */
char *ctl_escape(const char *s);

#endif
