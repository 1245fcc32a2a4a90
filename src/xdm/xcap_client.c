/* XCAP GET of one user's preferences document (see xcap_client.h). One curl easy handle per
 * call: refreshes are minutes apart per user, so a kept connection would save little and a
 * shared handle would need a lock; the cost is one TCP (and TLS) handshake per fetch. */
#include "xdm/xcap_client.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "cpm/hex.h"
#include "cpm/prefs_doc.h"
#include "cpm/wbuf.h"

const char *xcap_result_name(enum xcap_result r)
{
	switch (r) {
	case XCAP_FETCHED: return "fetched";
	case XCAP_NOT_MODIFIED: return "not-modified";
	case XCAP_NO_DOC: return "no-doc";
	case XCAP_ERROR: return "error";
	}
	return "?";
}

/* RFC 3986 pchar minus '%' (which we write ourselves): what a path segment may hold as is.
 * "sip:alice@example.com" stays readable; '/', '?', '#', spaces and non-ASCII are encoded. */
static bool pchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       strchr("-._~!$&'()*+,;=:@", c);
}

static void put_segment(struct cpm_wbuf *w, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (pchar(*p)) {
			cpm_wbuf_putc(w, (char)*p);
		} else {
			char hx[3] = {'%'};
			cpm_hex_byte(hx + 1, *p, CPM_HEX_UPPER);
			cpm_wbuf_put(w, hx, 3);
		}
	}
}

int xcap_doc_url(const struct xcap_cfg *cfg, const char *aor, char *url, size_t size)
{
	size_t n = aor ? strlen(aor) : 0, rlen = cfg->root ? strlen(cfg->root) : 0;
	struct cpm_wbuf w = cpm_wbuf_text(url, size);

	if (!n || n > XCAP_AOR_MAX || !rlen)
		return -1;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)aor[i] < 0x20 || aor[i] == 0x7f)
			return -1;
	cpm_wbuf_put(&w, cfg->root, cfg->root[rlen - 1] == '/' ? rlen - 1 : rlen);
	cpm_wbuf_putc(&w, '/');
	put_segment(&w, cfg->auid ? cfg->auid : PREFS_AUID);
	cpm_wbuf_puts(&w, "/users/");
	put_segment(&w, aor);
	cpm_wbuf_putc(&w, '/');
	put_segment(&w, cfg->filename ? cfg->filename : PREFS_FILENAME);
	return cpm_wbuf_finish(&w) < 0 ? -1 : 0;
}

struct fetch {
	char *out;
	size_t cap, len;
	bool too_big;
	char *etag;          /* XCAP_ETAG_MAX + 1 */
};

static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct fetch *f = arg;
	size_t n = size * nmemb;

	if (n > f->cap - f->len) {
		f->too_big = true;
		return 0; /* curl stops with CURLE_WRITE_ERROR */
	}
	memcpy(f->out + f->len, p, n);
	f->len += n;
	return n;
}

/* Keeps the ETag of the last response (a 401 before the 200 has its own headers). */
static size_t on_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct fetch *f = arg;
	size_t n = size * nmemb;

	if (n >= 5 && !memcmp(p, "HTTP/", 5)) {
		f->etag[0] = '\0'; /* a new response begins */
		return n;
	}
	if (n < 5 || strncasecmp(p, "etag:", 5))
		return n;
	const char *v = p + 5, *end = p + n;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
		end--;
	size_t len = (size_t)(end - v);
	f->etag[0] = '\0';
	if (!len || len > XCAP_ETAG_MAX)
		return n; /* none we could send back: the next fetch is unconditional */
	for (const char *c = v; c < end; c++)
		if ((unsigned char)*c < 0x21 || *c == 0x7f)
			return n;
	memcpy(f->etag, v, len);
	f->etag[len] = '\0';
	return n;
}

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static enum xcap_result fail(char *why, const char *msg)
{
	snprintf(why, XCAP_WHY_MAX, "%s", msg);
	return XCAP_ERROR;
}

enum xcap_result xcap_fetch(const struct xcap_cfg *cfg, const char *aor, const char *etag_in,
			    char *out, size_t cap, size_t *len, char *etag_out, char *why)
{
	char url[XCAP_URL_MAX + 1], inm[XCAP_ETAG_MAX + 32], errbuf[CURL_ERROR_SIZE] = "";
	struct fetch f = {.out = out, .cap = cap, .etag = etag_out};
	struct curl_slist *hdrs = NULL;
	enum xcap_result r;
	long status = 0;
	CURLcode rc;
	CURL *h;

	*len = 0;
	etag_out[0] = why[0] = '\0';
	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK)
		return fail(why, curl_easy_strerror(global_rc));
	if (xcap_doc_url(cfg, aor, url, sizeof url))
		return fail(why, "bad XCAP root or AOR");
	if (etag_in && etag_in[0]) {
		if (strlen(etag_in) > XCAP_ETAG_MAX || strpbrk(etag_in, "\r\n"))
			return fail(why, "bad ETag to send");
		snprintf(inm, sizeof inm, "If-None-Match: %s", etag_in);
		hdrs = curl_slist_append(hdrs, inm);
		if (!hdrs)
			return fail(why, "out of memory");
	}
	if (!(h = curl_easy_init())) {
		curl_slist_free_all(hdrs);
		return fail(why, "curl_easy_init failed");
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	/* a worker thread: no SIGALRM for DNS timeouts (the process's signals are the loop's) */
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)(cfg->connect_timeout_ms ? cfg->connect_timeout_ms : 2000));
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(cfg->timeout_ms ? cfg->timeout_ms : 5000));
	/* a Content-Length over cap fails before any body is read */
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)cap);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &f);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &f);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (cfg->ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, cfg->ca_file);
	if (cfg->user) {
		curl_easy_setopt(h, CURLOPT_USERNAME, cfg->user);
		curl_easy_setopt(h, CURLOPT_PASSWORD, cfg->password ? cfg->password : "");
		/* curl asks without credentials first and answers the scheme the XDMS challenges
		 * with: digest where it offers it, basic otherwise */
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)(CURLAUTH_BASIC | CURLAUTH_DIGEST));
	}
	rc = curl_easy_perform(h);
	if (rc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);

	if (rc != CURLE_OK) {
		etag_out[0] = '\0';
		*len = 0;
		if (f.too_big || rc == CURLE_FILESIZE_EXCEEDED)
			snprintf(why, XCAP_WHY_MAX, "document over %zu bytes", cap);
		else
			snprintf(why, XCAP_WHY_MAX, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
		return XCAP_ERROR;
	}
	if (status == 200) {
		*len = f.len;
		return XCAP_FETCHED;
	}
	r = status == 304 && etag_in && etag_in[0] ? XCAP_NOT_MODIFIED
	    : status == 404                        ? XCAP_NO_DOC
	                                           : XCAP_ERROR;
	etag_out[0] = '\0';
	*len = 0;
	if (r == XCAP_ERROR)
		snprintf(why, XCAP_WHY_MAX, "XDMS answered HTTP %ld", status);
	return r;
}
