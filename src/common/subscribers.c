/* The subscriber list (subscribers.h): a bounded line parser and a sorted array searched by
 * key. */
#include "common/subscribers.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/domains.h"

struct subscribers {
	struct subscriber *v; /* sorted by key */
	size_t n;
};

static int cmp_sub(const void *a, const void *b)
{
	return strcmp(((const struct subscriber *)a)->key, ((const struct subscriber *)b)->key);
}

static bool is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* A user part: printable, no space, no '@', no ':' (it is joined with ':' into HA1), no '"'
 * (it is quoted in the username= parameter). */
static bool user_valid(const char *s, size_t n)
{
	if (!n || n > SUBSCRIBER_USER_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= ' ' || c >= 0x7f || c == '@' || c == ':' || c == '"' || c == '\\')
			return false;
	}
	return true;
}

/* One line without its end: 0 (entry filled), 1 (blank or comment), -1 (why set). */
static int parse_line(const char *p, size_t n, struct subscriber *out, const char **why)
{
	size_t i = 0;
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	if (i == n || p[i] == '#')
		return 1;
	size_t k0 = i;
	while (i < n && p[i] != ' ' && p[i] != '\t')
		i++;
	size_t k1 = i;
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	size_t s0 = i;
	while (i < n && p[i] != ' ' && p[i] != '\t')
		i++;
	size_t s1 = i;
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	if (s0 == s1 || i != n) {
		*why = "expected USER@DOMAIN SECRET";
		return -1;
	}
	const char *at = memchr(p + k0, '@', k1 - k0);
	if (!at || !user_valid(p + k0, (size_t)(at - (p + k0)))) {
		*why = "bad USER@DOMAIN (user: 1-64 printable bytes without @ : \" \\)";
		return -1;
	}
	size_t ulen = (size_t)(at - (p + k0)), dlen = k1 - k0 - ulen - 1;
	if (!domain_name_valid(at + 1, dlen) || dlen > DOMAIN_NAME_MAX) {
		*why = "bad domain";
		return -1;
	}
	memcpy(out->key, p + k0, k1 - k0);
	out->key[k1 - k0] = '\0';
	for (size_t j = ulen + 1; j < k1 - k0; j++)
		out->key[j] = (char)tolower((unsigned char)out->key[j]);
	out->user_len = ulen;

	const char *s = p + s0;
	size_t slen = s1 - s0;
	out->kind = SUB_PLAIN;
	if (slen > 4 && !strncmp(s, "md5:", 4)) {
		out->kind = SUB_HA1_MD5, s += 4, slen -= 4;
		if (slen != 32 || !is_hex(s, slen)) {
			*why = "md5:HA1 needs 32 hex digits";
			return -1;
		}
	} else if (slen > 7 && !strncmp(s, "sha256:", 7)) {
		out->kind = SUB_HA1_SHA256, s += 7, slen -= 7;
		if (slen != 64 || !is_hex(s, slen)) {
			*why = "sha256:HA1 needs 64 hex digits";
			return -1;
		}
	} else if (slen > SUBSCRIBER_SECRET_MAX) {
		*why = "secret longer than 128 bytes";
		return -1;
	}
	for (size_t j = 0; j < slen; j++)
		out->secret[j] = out->kind == SUB_PLAIN ? s[j] : (char)tolower((unsigned char)s[j]);
	out->secret[slen] = '\0';
	return 0;
}

int subscribers_parse(struct subscribers **sp, const char *buf, size_t len, char *err, size_t errcap)
{
	struct subscribers *s = calloc(1, sizeof *s);
	size_t cap = 0, line = 0;
	const char *why = NULL;

	*sp = NULL;
	if (!s) {
		snprintf(err, errcap, "out of memory");
		return -1;
	}
	if (len > SUBSCRIBERS_FILE_MAX) {
		why = "file larger than 64 MiB";
		goto fail;
	}
	for (size_t off = 0; off < len;) {
		const char *nl = memchr(buf + off, '\n', len - off);
		size_t end = nl ? (size_t)(nl - buf) : len, n = end - off;
		line++;
		if (n && buf[off + n - 1] == '\r')
			n--;
		if (n > SUBSCRIBER_LINE_MAX || memchr(buf + off, '\0', n)) {
			why = n > SUBSCRIBER_LINE_MAX ? "line longer than 512 bytes" : "NUL byte";
			goto fail;
		}
		struct subscriber u;
		int rc = parse_line(buf + off, n, &u, &why);
		off = end + 1;
		if (rc < 0)
			goto fail;
		if (rc > 0)
			continue;
		if (s->n == SUBSCRIBERS_MAX) {
			why = "more than 1,000,000 subscribers";
			goto fail;
		}
		if (s->n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct subscriber *v = realloc(s->v, ncap * sizeof *v);
			if (!v) {
				why = "out of memory";
				goto fail;
			}
			s->v = v, cap = ncap;
		}
		s->v[s->n++] = u;
	}
	if (s->n) /* qsort(NULL, 0) is undefined: an empty list is legal (nobody may log in yet) */
		qsort(s->v, s->n, sizeof *s->v, cmp_sub);
	for (size_t i = 1; i < s->n; i++)
		if (!strcmp(s->v[i].key, s->v[i - 1].key)) {
			snprintf(err, errcap, "%s listed twice", s->v[i].key);
			subscribers_free(s);
			return -1;
		}
	*sp = s;
	return 0;
fail:
	snprintf(err, errcap, "line %zu: %s", line, why);
	subscribers_free(s);
	return -1;
}

int subscribers_load(struct subscribers **sp, const char *path, char *err, size_t errcap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	int rc = -1;

	*sp = NULL;
	if (fd < 0 || fstat(fd, &st)) {
		snprintf(err, errcap, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (st.st_size > (off_t)SUBSCRIBERS_FILE_MAX) {
		snprintf(err, errcap, "%s: larger than 64 MiB", path);
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		snprintf(err, errcap, "out of memory");
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	char why[200];
	rc = subscribers_parse(sp, buf, got, why, sizeof why);
	if (rc)
		snprintf(err, errcap, "%s: %s", path, why);
out:
	if (buf) /* the secrets it held do not linger in freed memory */
		explicit_bzero(buf, got);
	free(buf);
	if (fd >= 0)
		close(fd);
	return rc;
}

void subscribers_free(struct subscribers *s)
{
	if (!s)
		return;
	if (s->v)
		explicit_bzero(s->v, s->n * sizeof *s->v);
	free(s->v);
	free(s);
}

size_t subscribers_count(const struct subscribers *s)
{
	return s ? s->n : 0;
}

const struct subscriber *subscribers_find(const struct subscribers *s, const char *user, const char *domain)
{
	struct subscriber k;
	size_t ul = strlen(user), dl = strlen(domain);
	if (!s || !s->n || !ul || ul + 1 + dl > SUBSCRIBER_KEY_MAX) /* bsearch(NULL) is undefined */
		return NULL;
	memcpy(k.key, user, ul);
	k.key[ul] = '@';
	for (size_t i = 0; i < dl; i++)
		k.key[ul + 1 + i] = (char)tolower((unsigned char)domain[i]);
	k.key[ul + 1 + dl] = '\0';
	return bsearch(&k, s->v, s->n, sizeof *s->v, cmp_sub);
}

int subscriber_ha1(const struct subscriber *u, enum digest_alg a, char *out)
{
	if (u->kind == SUB_PLAIN) {
		char user[SUBSCRIBER_USER_MAX + 1];
		memcpy(user, u->key, u->user_len);
		user[u->user_len] = '\0';
		return digest_ha1(a, user, u->key + u->user_len + 1, u->secret, out);
	}
	if ((u->kind == SUB_HA1_MD5) != (a == DIGEST_MD5))
		return -1;
	memcpy(out, u->secret, strlen(u->secret) + 1);
	return 0;
}
