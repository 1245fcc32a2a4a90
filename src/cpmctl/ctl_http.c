/* ctl.h: one HTTP request to the admin API with libcurl, its answer parsed by jansson; the
 * error cases become the exit codes an operator's script can test. */
#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpmctl/ctl.h"

/* The admin API's answers are small; a listing page of 1000 items is ~400 KB. */
#define CTL_ANSWER_MAX (16 * 1024 * 1024)

struct buf {
	char *p;
	size_t len;
	int overflow;
};

static size_t on_data(char *d, size_t sz, size_t n, void *arg)
{
	struct buf *b = arg;
	size_t add = sz * n;
	if (b->len + add > CTL_ANSWER_MAX) {
		b->overflow = 1;
		return 0;
	}
	char *np = realloc(b->p, b->len + add + 1);
	if (!np)
		return 0;
	memcpy(np + b->len, d, add);
	b->p = np;
	b->len += add;
	b->p[b->len] = 0;
	return add;
}

char *ctl_escape(const char *s)
{
	char *e = curl_easy_escape(NULL, s, 0);
	char *out = e ? strdup(e) : NULL;
	curl_free(e);
	return out;
}

int ctl_request(const struct ctl *c, const char *method, const char *path, const char *body, json_t **out,
		char **raw)
{
	char url[1024], auth[512];
	struct buf b = {0};
	struct curl_slist *h = NULL;
	long status = 0;
	int rc = CTL_ERR_SERVER;
	*out = NULL;
	*raw = NULL;
	/* a bare ADDR:PORT is http, as it always was; https only when the operator says so */
	bool scheme = !strncmp(c->admin, "http://", 7) || !strncmp(c->admin, "https://", 8);
	const char *hostport = scheme ? strstr(c->admin, "//") + 2 : c->admin;
	if (snprintf(url, sizeof url, "%s%s%s", scheme ? "" : "http://", c->admin, path) >= (int)sizeof url) {
		fprintf(stderr, "cpmctl: request too long\n");
		return CTL_ERR_USAGE;
	}
	CURL *cu = curl_easy_init();
	if (!cu)
		return CTL_ERR_SERVER;
	if (c->token) {
		snprintf(auth, sizeof auth, "Authorization: Bearer %s", c->token);
		h = curl_slist_append(h, auth);
	}
	if (body)
		h = curl_slist_append(h, "Content-Type: application/json");
	curl_easy_setopt(cu, CURLOPT_URL, url);
	curl_easy_setopt(cu, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(cu, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(cu, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(cu, CURLOPT_TIMEOUT, c->timeout_s);
	curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(cu, CURLOPT_PROTOCOLS_STR, "http,https");
	if (c->cacert)
		curl_easy_setopt(cu, CURLOPT_CAINFO, c->cacert);
	if (c->cert)
		curl_easy_setopt(cu, CURLOPT_SSLCERT, c->cert);
	if (c->key)
		curl_easy_setopt(cu, CURLOPT_SSLKEY, c->key);
	if (body)
		curl_easy_setopt(cu, CURLOPT_POSTFIELDS, body);
	CURLcode cr = curl_easy_perform(cu);
	if (cr != CURLE_OK) {
		fprintf(stderr, "cpmctl: cpmd is not reachable at %s (%s); is it running with --admin %s?\n", c->admin,
			b.overflow ? "answer too large" : curl_easy_strerror(cr), hostport);
		rc = CTL_ERR_UNREACHABLE;
		goto out;
	}
	curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &status);
	json_error_t je;
	json_t *j = b.p ? json_loadb(b.p, b.len, 0, &je) : NULL;
	if (status >= 200 && status < 300) {
		if (!j && strncmp(path, "/metrics", 8)) {
			fprintf(stderr, "cpmctl: cpmd's answer is not JSON: %s\n", je.text);
			goto out;
		}
		*out = j;
		*raw = b.p;
		b.p = NULL;
		rc = CTL_OK;
		goto out;
	}
	const char *why = j && json_is_string(json_object_get(j, "error")) ? json_string_value(json_object_get(j, "error"))
									   : "";
	if (status == 401) {
		fprintf(stderr, "cpmctl: unauthorized (401): %s token%s\n", c->token ? "wrong" : "cpmd requires a",
			c->token ? "" : ": give it with --token or CPMCTL_TOKEN");
		rc = CTL_ERR_AUTH;
	} else if (status == 403) {
		fprintf(stderr, "cpmctl: forbidden (403): %s%s\n", why,
			c->cert ? "" : ": give a client certificate with --cert FILE --key FILE");
		rc = CTL_ERR_AUTH;
	} else {
		fprintf(stderr, "cpmctl: %s %s: %ld %s\n", method, path, status, why);
		rc = status == 404 ? CTL_ERR_NOT_FOUND : CTL_ERR_SERVER;
	}
	json_decref(j);
out:
	free(b.p);
	curl_slist_free_all(h);
	curl_easy_cleanup(cu);
	return rc;
}
