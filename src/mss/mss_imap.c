/* The MSS client over IMAP (mss_imap.h), with libcurl: it streams an APPEND
 * from a read callback at constant memory (../shared/dovecot.md measured
 * 11 MiB RSS for 100 MiB). Per store: CREATE the folder (an existing one is
 * answered NO, which is fine), UID SEARCH for the Message-ID (libcurl SELECTs
 * the folder of the URL first), APPEND only if it is not there. libcurl 7.88
 * has no APPENDUID and no keywords at APPEND; we need neither. */
#include "mss/mss_imap.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "mss/mss_resp.h"

#define CAPTURE_MAX 8192
#define LINE_MAX_ 512

struct call {
	CURL *h;
	char out[CAPTURE_MAX];  /* untagged responses of a custom command */
	size_t outlen;
	char last[LINE_MAX_];   /* the last tagged response line (for NO/BAD codes) */
	size_t lastlen;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
/* One easy handle per thread, kept between calls: libcurl keeps its connection (and its login:
 * the IMAP session of that user) open, so consecutive objects of one user cost no new
 * connection, login and server process (measured: 4 vs 53 objects/s... docs/BENCHMARKS.md
 * issue 11). curl_easy_reset between calls clears the options, not the connections. Freed when
 * the thread exits (the key's destructor). */
static pthread_key_t handle_key;
static void handle_free(void *h) { curl_easy_cleanup(h); }
static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
	if (curl_init_rc == CURLE_OK && pthread_key_create(&handle_key, handle_free))
		curl_init_rc = CURLE_FAILED_INIT;
}

static size_t on_write(char *p, size_t sz, size_t n, void *ud)
{
	struct call *c = ud;
	size_t k = sz * n, room = sizeof c->out - c->outlen;

	/* more than CAPTURE_MAX of SEARCH output: the first UIDs are enough */
	memcpy(c->out + c->outlen, p, k < room ? k : room);
	c->outlen += k < room ? k : room;
	return k;
}

/* libcurl shows server lines only through the debug callback: keep the last
 * tagged NO or BAD (not "* " untagged, not "+ " continuation, not OK: after a
 * failure libcurl logs out, and LOGOUT's OK would hide the reason). */
static int on_debug(CURL *h, curl_infotype t, char *p, size_t n, void *ud)
{
	struct call *c = ud;
	const char *sp;

	(void)h;
	if (t != CURLINFO_HEADER_IN || n < 2 || p[0] == '*' || p[0] == '+')
		return 0;
	sp = memchr(p, ' ', n);
	if (!sp || (size_t)(sp - p) + 3 > n || strncmp(sp + 1, "OK", 2) == 0)
		return 0;
	c->lastlen = n < sizeof c->last ? n : sizeof c->last - 1;
	memcpy(c->last, p, c->lastlen);
	while (c->lastlen && (c->last[c->lastlen - 1] == '\n' || c->last[c->lastlen - 1] == '\r'))
		c->lastlen--;
	c->last[c->lastlen] = '\0';
	return 0;
}

static size_t on_read(char *buf, size_t sz, size_t n, void *ud)
{
	ssize_t k = mss_reader_read(ud, buf, sz * n);
	return k < 0 ? CURL_READFUNC_ABORT : (size_t)k;
}

static void say(char *why, size_t whylen, const char *what, const struct call *c, CURLcode rc)
{
	if (why && whylen)
		snprintf(why, whylen, "%s: %s%s%s", what, curl_easy_strerror(rc),
			 c->lastlen ? ": " : "", c->last);
	/* the server's line may hold anything: keep the log line one line */
	for (char *p = why; p && *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
}

static enum mss_result classify(CURLcode rc, const struct call *c)
{
	switch (rc) {
	case CURLE_OK:
		return MSS_STORED;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_ABORTED_BY_CALLBACK: /* our reader failed: the file changed */
	case CURLE_READ_ERROR:
		return MSS_PERMANENT;
	case CURLE_UPLOAD_FAILED: /* APPEND refused before the literal */
	case CURLE_QUOTE_ERROR:   /* a custom command answered NO/BAD */
		return c->lastlen ? (enum mss_result)mss_resp_class(c->last, c->lastlen) : MSS_TRANSIENT;
	default:
		/* connect, timeouts, TLS, a dropped connection, refused login
		 * (the operator fixes credentials; the item waits) */
		return MSS_TRANSIENT;
	}
}

static bool safe_name(const char *s, size_t max, const char *extra)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr(extra, c)) || !c)
			return false;
	}
	return true;
}

static CURL *open_handle(const struct mss_imap_cfg *cfg, struct call *c, const char *login)
{
	CURL *h;

	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK)
		return NULL;
	h = pthread_getspecific(handle_key);
	if (h) {
		curl_easy_reset(h);
	} else {
		if (!(h = curl_easy_init()))
			return NULL;
		pthread_setspecific(handle_key, h);
	}
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for DNS timeouts */
	curl_easy_setopt(h, CURLOPT_USERNAME, login);
	curl_easy_setopt(h, CURLOPT_PASSWORD, cfg->master_password ? cfg->master_password : "");
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : 10000L);
	curl_easy_setopt(h, CURLOPT_SERVER_RESPONSE_TIMEOUT, cfg->response_timeout_s > 0 ? cfg->response_timeout_s : 30L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, cfg->low_speed_time_s > 0 ? cfg->low_speed_time_s : 60L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "imap,imaps");
	if (cfg->ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, cfg->ca_file);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, on_debug);
	curl_easy_setopt(h, CURLOPT_DEBUGDATA, c);
	curl_easy_setopt(h, CURLOPT_VERBOSE, 1L); /* the debug callback runs only then */
	c->h = h;
	return h;
}

/* Drops the thread's handle and its connections (the next call opens afresh). */
static void close_handle(CURL *h)
{
	pthread_setspecific(handle_key, NULL);
	curl_easy_cleanup(h);
}

static CURLcode custom(struct call *c, const char *url, const char *cmd)
{
	c->outlen = c->lastlen = 0;
	c->last[0] = '\0';
	curl_easy_setopt(c->h, CURLOPT_URL, url);
	curl_easy_setopt(c->h, CURLOPT_CUSTOMREQUEST, cmd);
	return curl_easy_perform(c->h);
}

enum mss_result mss_imap_store(const struct mss_imap_cfg *cfg, const char *user, const char *folder,
			       struct mss_reader *r, char *why, size_t whylen)
{
	struct call c = {0};
	char login[512], url[1024], cmd[512];
	CURLcode rc;
	uint32_t uid;
	int n;
	enum mss_result res;

	if (why && whylen)
		why[0] = '\0';
	/* user and folder go into the login and the command line: no quoting,
	 * so only characters that need none */
	if (!safe_name(user, 255, "._-@+") || !safe_name(folder, MSS_FOLDER_MAX, "._-/") || !cfg->url ||
	    strlen(cfg->url) > 256 || !cfg->master_user || strchr(cfg->master_user, '*')) {
		if (why && whylen)
			snprintf(why, whylen, "invalid user, folder or configuration");
		return MSS_PERMANENT;
	}
	snprintf(login, sizeof login, "%s*%s", user, cfg->master_user);
	if (!open_handle(cfg, &c, login)) {
		snprintf(why, whylen, "libcurl initialisation failed");
		return MSS_TRANSIENT;
	}
	snprintf(url, sizeof url, "%s/", cfg->url);
	snprintf(cmd, sizeof cmd, "CREATE \"%s\"", folder);
	rc = custom(&c, url, cmd);
	if (rc != CURLE_OK && rc != CURLE_QUOTE_ERROR) { /* QUOTE_ERROR: NO, it exists */
		say(why, whylen, "CREATE", &c, rc);
		res = classify(rc, &c);
		goto out;
	}
	snprintf(url, sizeof url, "%s/%s", cfg->url, folder);
	snprintf(cmd, sizeof cmd, "UID SEARCH HEADER Message-ID \"%s\"", mss_reader_message_id(r));
	rc = custom(&c, url, cmd);
	if (rc != CURLE_OK) {
		say(why, whylen, "UID SEARCH", &c, rc);
		res = rc == CURLE_QUOTE_ERROR ? MSS_TRANSIENT : classify(rc, &c);
		goto out;
	}
	n = mss_search_parse(c.out, c.outlen, &uid);
	if (n != 0) {
		if (why && whylen)
			snprintf(why, whylen, n > 0 ? "already stored (UID %u)" : "unreadable SEARCH response", uid);
		res = n > 0 ? MSS_ALREADY : MSS_TRANSIENT;
		goto out;
	}
	mss_reader_rewind(r);
	c.lastlen = 0;
	c.last[0] = '\0';
	curl_easy_setopt(c.h, CURLOPT_CUSTOMREQUEST, NULL);
	curl_easy_setopt(c.h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c.h, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(c.h, CURLOPT_READDATA, r);
	curl_easy_setopt(c.h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)mss_reader_size(r));
	rc = curl_easy_perform(c.h);
	res = classify(rc, &c);
	if (rc != CURLE_OK)
		say(why, whylen, "APPEND", &c, rc);
out:
	if (res == MSS_TRANSIENT) /* a connection in doubt is not reused */
		close_handle(c.h);
	return res;
}

enum mss_result mss_imap_check(const struct mss_imap_cfg *cfg, char *why, size_t whylen)
{
	struct call c = {0};
	char url[300], login[512];
	CURLcode rc;
	enum mss_result res;

	if (!cfg->url || strlen(cfg->url) > 256 || !cfg->master_user ||
	    (cfg->check_user && !safe_name(cfg->check_user, 255, "._-@+"))) {
		snprintf(why, whylen, "invalid configuration");
		return MSS_PERMANENT;
	}
	if (cfg->check_user)
		snprintf(login, sizeof login, "%s*%s", cfg->check_user, cfg->master_user);
	else
		snprintf(login, sizeof login, "%s", cfg->master_user);
	if (!open_handle(cfg, &c, login)) {
		snprintf(why, whylen, "libcurl initialisation failed");
		return MSS_TRANSIENT;
	}
	snprintf(url, sizeof url, "%s/", cfg->url);
	rc = custom(&c, url, "NOOP");
	res = classify(rc, &c);
	if (rc != CURLE_OK)
		say(why, whylen, "login", &c, rc);
	close_handle(c.h); /* a check: nothing to reuse it for */
	return res;
}
