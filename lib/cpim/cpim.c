/* CPIM (RFC 3862) parser: two header blocks then the content, as slices.
 * One pass over at most 2 * CPIM_MAX_HEADERS lines of at most CPIM_MAX_LINE
 * bytes each; the content itself is never scanned. */
#include "cpm/cpim.h"

#include <string.h>
#include <strings.h>

const char *cpim_strerror(int e)
{
	switch (e) {
	case CPIM_OK: return "ok";
	case CPIM_E_SYNTAX: return "bad CPIM header line";
	case CPIM_E_TRUNCATED: return "CPIM message ends inside its headers";
	case CPIM_E_TOO_MANY_HEADERS: return "too many CPIM headers";
	case CPIM_E_LINE_TOO_LONG: return "CPIM header line too long";
	case CPIM_E_DUPLICATE: return "duplicate CPIM header";
	case CPIM_E_LENGTH: return "bad Content-Length in CPIM content headers";
	case CPIM_E_NS: return "bad CPIM NS declaration";
	}
	return "unknown CPIM error";
}

struct ns_bind {
	struct cpm_str prefix;
	struct cpm_str urn;
};

/* Next line of buf starting at *pos: its text without the line end. Returns
 * 1 with a line, 0 when the input ends without a line end (truncated), or a
 * negative error. A line ends with LF, optionally preceded by CR. */
static int next_line(const char *buf, size_t len, size_t *pos, struct cpm_str *line)
{
	size_t start = *pos, max = len - start;
	const char *nl;

	if (max > CPIM_MAX_LINE + 2)
		max = CPIM_MAX_LINE + 2;
	nl = memchr(buf + start, '\n', max);
	if (!nl)
		return max == len - start ? 0 : CPIM_E_LINE_TOO_LONG;
	line->p = buf + start;
	line->len = (size_t)(nl - line->p);
	*pos = start + line->len + 1;
	if (line->len && line->p[line->len - 1] == '\r')
		line->len--;
	if (line->len > CPIM_MAX_LINE)
		return CPIM_E_LINE_TOO_LONG;
	return 1;
}

/* RFC 3862 §3.1 header name: token characters; '.' separates the prefix. */
static bool name_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != ':';
}

/* "Name: value" -> name and trimmed value. Controls other than HT refused. */
static int split_header(struct cpm_str line, struct cpm_str *name, struct cpm_str *value)
{
	size_t i = 0;

	for (size_t k = 0; k < line.len; k++) {
		unsigned char c = (unsigned char)line.p[k];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return CPIM_E_SYNTAX;
	}
	while (i < line.len && name_char((unsigned char)line.p[i]))
		i++;
	if (i == 0 || i == line.len || line.p[i] != ':')
		return CPIM_E_SYNTAX; /* also catches folding: a line starting with SP/HT */
	*name = (struct cpm_str){line.p, i};
	*value = cpm_str_trim((struct cpm_str){line.p + i + 1, line.len - i - 1});
	return 0;
}

/* Store v into *slot unless it is already set. */
static int set_once(struct cpm_str *slot, struct cpm_str v)
{
	if (slot->p)
		return CPIM_E_DUPLICATE;
	*slot = v;
	if (!slot->p)
		slot->p = "";  /* keep "present but empty" distinguishable */
	return 0;
}

/* "NS: prefix <urn>" (a bare "<urn>" redefines the default namespace; we
 * do not need that one and ignore it). */
static int parse_ns(struct cpm_str v, struct ns_bind *ns, size_t *nns)
{
	const char *lt = memchr(v.p, '<', v.len);
	struct cpm_str prefix;

	if (!lt || v.p[v.len - 1] != '>')
		return CPIM_E_NS;
	prefix = cpm_str_trim((struct cpm_str){v.p, (size_t)(lt - v.p)});
	if (prefix.len == 0)
		return 0;
	for (size_t i = 0; i < prefix.len; i++)
		if (!name_char((unsigned char)prefix.p[i]) || prefix.p[i] == '.')
			return CPIM_E_NS;
	if (*nns == CPIM_MAX_NS)
		return CPIM_E_NS;
	ns[*nns].prefix = prefix;
	ns[*nns].urn = (struct cpm_str){lt + 1, (size_t)(v.p + v.len - 1 - (lt + 1))};
	(*nns)++;
	return 0;
}

/* Is "prefix" bound to the IMDN URN? The latest declaration of a prefix wins. */
static bool is_imdn_prefix(struct cpm_str prefix, const struct ns_bind *ns, size_t nns)
{
	for (size_t i = nns; i-- > 0;) {
		if (ns[i].prefix.len == prefix.len &&
		    strncasecmp(ns[i].prefix.p, prefix.p, prefix.len) == 0)
			return cpm_str_caseeq(cpm_str_trim(ns[i].urn), CPIM_IMDN_URN);
	}
	return false;
}

static int cpim_header(struct cpim_msg *m, struct cpm_str name, struct cpm_str v,
		       struct ns_bind *ns, size_t *nns)
{
	const char *dot;

	if (cpm_str_caseeq(name, "From"))
		return set_once(&m->from, v);
	if (cpm_str_caseeq(name, "To")) {
		m->n_to++;
		return m->to.p ? 0 : set_once(&m->to, v);
	}
	if (cpm_str_caseeq(name, "DateTime"))
		return set_once(&m->datetime, v);
	if (cpm_str_caseeq(name, "NS"))
		return parse_ns(v, ns, nns);
	dot = memchr(name.p, '.', name.len);
	if (dot) {
		struct cpm_str prefix = {name.p, (size_t)(dot - name.p)};
		struct cpm_str local = {dot + 1, name.len - prefix.len - 1};

		if (!is_imdn_prefix(prefix, ns, *nns))
			return 0; /* undeclared or foreign namespace: not ours */
		if (cpm_str_caseeq(local, "Message-ID"))
			return set_once(&m->imdn_message_id, v);
		if (cpm_str_caseeq(local, "Disposition-Notification"))
			return set_once(&m->imdn_disposition_notification, v);
	}
	return 0; /* Subject, cc, Require, extensions: not needed here */
}

static int content_header(struct cpim_msg *m, struct cpm_str name, struct cpm_str v)
{
	if (cpm_str_caseeq(name, "Content-Type"))
		return set_once(&m->content_type, v);
	if (cpm_str_caseeq(name, "Content-Disposition"))
		return set_once(&m->content_disposition, v);
	if (cpm_str_caseeq(name, "Content-Length"))
		return set_once(&m->content_length, v);
	return 0;
}

/* Reads one header block up to and including its blank line. On an error about one header
 * line, *bad is its name. */
static int read_block(const char *buf, size_t len, size_t *pos, struct cpim_msg *m, bool cpim,
		      struct ns_bind *ns, size_t *nns, struct cpm_str *bad)
{
	size_t *count = cpim ? &m->n_cpim_headers : &m->n_content_headers;

	for (;;) {
		struct cpm_str line, name, value;
		int rc = next_line(buf, len, pos, &line);

		if (rc == 0)
			return CPIM_E_TRUNCATED;
		if (rc < 0)
			return rc;
		if (line.len == 0)
			return 0;
		if (*count == CPIM_MAX_HEADERS)
			return CPIM_E_TOO_MANY_HEADERS;
		(*count)++;
		if ((rc = split_header(line, &name, &value)) < 0)
			return rc;
		rc = cpim ? cpim_header(m, name, value, ns, nns) : content_header(m, name, value);
		if (rc < 0) {
			*bad = name;
			return rc;
		}
	}
}

int cpim_parse(const char *buf, size_t len, struct cpim_msg *out)
{
	struct ns_bind ns[CPIM_MAX_NS];
	size_t nns = 0, pos = 0;
	struct cpm_str bad = CPM_STR_NULL;
	uint64_t clen;
	int rc;

	memset(out, 0, sizeof *out);
	if (!buf)
		return CPIM_E_TRUNCATED;
	if ((rc = read_block(buf, len, &pos, out, true, ns, &nns, &bad)) < 0 ||
	    (rc = read_block(buf, len, &pos, out, false, ns, &nns, &bad)) < 0)
		goto fail;
	out->body = (struct cpm_str){buf + pos, len - pos};
	if (out->content_length.p) {
		/* The outer framing (MSRP, SIP) already delimits the content, and
		 * real senders get Content-Length wrong (the RFC 5438 §7.2 example
		 * says 301 for 393 bytes), so the content is the rest of the input.
		 * A length beyond the input does mean the message was cut. */
		if (!cpm_str_to_u64(out->content_length, &clen) || clen > len - pos) {
			rc = CPIM_E_LENGTH;
			bad = cpm_str_c("Content-Length");
			goto fail;
		}
	}
	return CPIM_OK;
fail:
	memset(out, 0, sizeof *out);
	out->error_header = bad;
	return rc;
}

struct cpm_str cpim_addr_uri(struct cpm_str v)
{
	const char *lt, *gt;

	if (!v.p || !(lt = memchr(v.p, '<', v.len)))
		return CPM_STR_NULL;
	gt = memchr(lt, '>', (size_t)(v.p + v.len - lt));
	if (!gt)
		return CPM_STR_NULL;
	return (struct cpm_str){lt + 1, (size_t)(gt - lt - 1)};
}
