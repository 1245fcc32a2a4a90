/* Small helpers of the cpm client: UUIDs, MIME types, dates, addresses,
 * hashing, and the two output channels (results on stdout,
 * diagnostics on stderr). */
#include "cpm.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/sha.h>

double now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 8-4-4-4-12 lower-case hex digits (RFC 4122 §3). */
static void uuid_format(char out[37], const uint8_t u[16])
{
	static const uint8_t group[] = {4, 2, 2, 2, 6};
	size_t o = 0;

	for (size_t g = 0, i = 0; g < sizeof group; i += group[g++]) {
		if (g)
			out[o++] = '-';
		o += cpm_hex_write(out + o, u + i, group[g], CPM_HEX_LOWER, '\0');
	}
	out[o] = '\0';
}

void uuid_v4(char out[37])
{
	uint8_t u[16];
	cpm_random_bytes(u, sizeof u);
	u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);
	u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
	uuid_format(out, u);
}

/* RFC 4122 §4.3 name-based UUID (SHA-1, version 5) in the URL namespace. */
void uuid_v5(char out[37], const char *name)
{
	static const uint8_t ns_url[16] = {0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1,
					   0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8};
	uint8_t md[SHA_DIGEST_LENGTH];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned mdlen = 0;
	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) ||
	    !EVP_DigestUpdate(ctx, ns_url, sizeof ns_url) ||
	    !EVP_DigestUpdate(ctx, name, strlen(name)) || !EVP_DigestFinal_ex(ctx, md, &mdlen))
		abort();
	EVP_MD_CTX_free(ctx);
	md[6] = (uint8_t)((md[6] & 0x0f) | 0x50);
	md[8] = (uint8_t)((md[8] & 0x3f) | 0x80);
	uuid_format(out, md);
}

static const struct {
	const char *ext;
	const char *type;
} mime_table[] = {
	{"jpg", "image/jpeg"},      {"jpeg", "image/jpeg"},      {"png", "image/png"},
	{"gif", "image/gif"},       {"webp", "image/webp"},      {"bmp", "image/bmp"},
	{"heic", "image/heic"},     {"svg", "image/svg+xml"},    {"txt", "text/plain"},
	{"html", "text/html"},      {"htm", "text/html"},        {"vcf", "text/vcard"},
	{"csv", "text/csv"},        {"pdf", "application/pdf"},  {"zip", "application/zip"},
	{"json", "application/json"}, {"xml", "application/xml"}, {"mp4", "video/mp4"},
	{"3gp", "video/3gpp"},      {"mov", "video/quicktime"},  {"mp3", "audio/mpeg"},
	{"amr", "audio/amr"},       {"m4a", "audio/mp4"},        {"ogg", "audio/ogg"},
	{"wav", "audio/wav"},       {"gz", "application/gzip"},  {"bin", "application/octet-stream"},
};

const char *mime_guess(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	const char *dot = strrchr(base, '.');
	if (dot && dot != base) {
		for (size_t i = 0; i < sizeof mime_table / sizeof mime_table[0]; i++)
			if (strcasecmp(dot + 1, mime_table[i].ext) == 0)
				return mime_table[i].type;
	}
	return "application/octet-stream";
}

const char *mime_ext(const char *ctype)
{
	size_t n = strcspn(ctype, "; \t");
	for (size_t i = 0; i < sizeof mime_table / sizeof mime_table[0]; i++)
		if (strlen(mime_table[i].type) == n && strncasecmp(ctype, mime_table[i].type, n) == 0)
			return mime_table[i].ext;
	return "bin";
}

void cpm_request_headers(const struct cpm_opts *o, const char *service, bool expires, char contrib[37], char *out,
			 size_t cap)
{
	char conv[37];
	uuid_v4(contrib);
	uuid_v4(conv);
	struct cpm_wbuf w = cpm_wbuf_text(out, cap);
	cpm_wbuf_printf(&w, "Contribution-ID: %s\r\nConversation-ID: %s\r\nP-Preferred-Service: %s", contrib,
			o->conversation_id ? o->conversation_id : conv, service);
	if (o->in_reply_to)
		cpm_wbuf_printf(&w, "\r\nInReplyTo-Contribution-ID: %s", o->in_reply_to);
	if (expires && o->expires)
		cpm_wbuf_printf(&w, "\r\nCpm-Expires: %llu", o->expires);
	cpm_wbuf_finish(&w); /* our own values, checked by main.c: they fit */
}

void rfc3339_now(char *out, size_t cap)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		 tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

void rfc5322_date(char *out, size_t cap, long t)
{
	static const char *const wd[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const mo[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	/* locale-independent on purpose: RFC 5322 wants English names */
	snprintf(out, cap, "%s, %02d %s %04d %02d:%02d:%02d +0000", wd[tm.tm_wday % 7], tm.tm_mday,
		 mo[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* The local address the kernel would use to reach host:port (a connected
 * UDP socket sends nothing). */
int local_ip_for(const char *host, uint16_t port, char *out, size_t cap)
{
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_DGRAM;
	char ps[8];
	snprintf(ps, sizeof ps, "%u", (unsigned)port);
	if (getaddrinfo(host, ps, &hints, &res) != 0 || !res)
		return -1;
	int fd = socket(res->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int rc = -1;
	if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) == 0) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0 &&
		    getnameinfo((struct sockaddr *)&ss, sl, out, (socklen_t)cap, NULL, 0, NI_NUMERICHOST) == 0)
			rc = 0;
	}
	if (fd >= 0)
		close(fd);
	freeaddrinfo(res);
	return rc;
}

/* Dashes at the end of p[0, n), counted on from `run` dashes before p when p is all dashes;
 * capped at MSRP_END_DASHES (only whether seven are reached matters). */
static size_t dash_run_after(const char *p, size_t n, size_t run)
{
	size_t k = 0;
	while (k < n && k < MSRP_END_DASHES && p[n - 1 - k] == '-')
		k++;
	if (k == n)
		k += run;
	return k < MSRP_END_DASHES ? k : MSRP_END_DASHES;
}

int sha1_fd(int fd, uint8_t out[20], uint64_t *size, bool *dashes)
{
	static char buf[1024 * 1024]; /* few syscalls per GiB; still small next to the page cache */
	static const char seven[MSRP_END_DASHES] = "-------";
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint64_t total = 0;
	off_t off = 0;
	size_t run = 0; /* dashes at the end of what was read so far */
	bool found = false;
	int rc = -1;
	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha1(), NULL))
		goto out;
	for (;;) {
		ssize_t n = pread(fd, buf, sizeof buf, off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto out;
		}
		if (n == 0)
			break;
		if (!EVP_DigestUpdate(ctx, buf, (size_t)n))
			goto out;
		if (dashes && !found) {
			/* a run that began in the last read, then the run's whole length in this one */
			size_t lead = 0;
			while (lead < (size_t)n && lead < MSRP_END_DASHES && buf[lead] == '-')
				lead++;
			found = run + lead >= MSRP_END_DASHES || memmem(buf, (size_t)n, seven, sizeof seven) != NULL;
			run = dash_run_after(buf, (size_t)n, run);
		}
		off += n;
		total += (uint64_t)n;
	}
	unsigned l = 0;
	if (!EVP_DigestFinal_ex(ctx, out, &l) || l != 20)
		goto out;
	if (size)
		*size = total;
	if (dashes)
		*dashes = found;
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}

/* A result line on stdout: flushed at once, so a script (or a test) reading
 * our output sees it even if we are killed right after. */
void out_line(struct cpm_app *app, const char *fmt, ...)
{
	progress_clear(app);
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

void vlog(const struct cpm_app *app, const char *fmt, ...)
{
	if (!app->o->verbose)
		return;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	fprintf(stderr, "%02d:%02d:%02d.%03ld cpm: ", tm.tm_hour, tm.tm_min, tm.tm_sec,
		ts.tv_nsec / 1000000);
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void errlog(struct cpm_app *app, const char *fmt, ...)
{
	progress_clear(app);
	fputs("cpm: ", stderr);
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

