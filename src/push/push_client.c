/* Push gateway client (see push_client.h). */
#include "push/push_client.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

/* "name":"value" with JSON string escaping; false when out of room */
static int put_str(char *out, size_t cap, size_t *o, const char *name, const char *v, int first)
{
	int n = snprintf(out + *o, cap - *o, "%s\"%s\":\"", first ? "" : ",", name);
	if (n < 0 || (size_t)n >= cap - *o)
		return -1;
	*o += (size_t)n;
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		char esc[8];
		if (*p == '"' || *p == '\\')
			snprintf(esc, sizeof esc, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			snprintf(esc, sizeof esc, "\\u%04x", *p);
		else
			esc[0] = (char)*p, esc[1] = '\0';
		size_t el = strlen(esc);
		if (*o + el + 1 >= cap)
			return -1;
		memcpy(out + *o, esc, el);
		*o += el;
	}
	out[(*o)++] = '"';
	out[*o] = '\0';
	return 0;
}

int push_body(const struct push_wake *w, char *out, size_t cap)
{
	size_t o = 0;
	if (cap < 3)
		return -1;
	out[o++] = '{';
	out[o] = '\0';
	if (put_str(out, cap, &o, "aor", w->aor, 1) || put_str(out, cap, &o, "pn-provider", w->provider, 0) ||
	    put_str(out, cap, &o, "pn-prid", w->prid, 0) || put_str(out, cap, &o, "pn-param", w->param, 0) ||
	    put_str(out, cap, &o, "item", w->item, 0) || put_str(out, cap, &o, "kind", w->kind, 0) ||
	    put_str(out, cap, &o, "from", w->from, 0) || o + 2 > cap)
		return -1;
	out[o++] = '}';
	out[o] = '\0';
	return (int)o;
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n; /* the gateway's answer is its status; a body is not read */
}

int push_post(const char *url, const char *body, unsigned timeout_ms, char *why, size_t why_cap)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	CURL *h = curl_easy_init();
	if (!h) {
		snprintf(why, why_cap, "curl_easy_init failed");
		return -1;
	}
	struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(timeout_ms < 2000 ? timeout_ms : 2000));
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	long status = -1;
	CURLcode rc = curl_easy_perform(h);
	if (rc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	else
		snprintf(why, why_cap, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
	curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
	return rc == CURLE_OK ? (int)status : -1;
}
