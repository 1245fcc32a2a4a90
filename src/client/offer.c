/* SDP offer/answer of the client (RFC 5547 push) and the SIP bodies that
 * carry them: a plain application/sdp, or multipart/mixed with a thumbnail
 * (file-icon). No sofia here: only lib/sdp and lib/mime. */
#include "cpm.h"

#include <stdlib.h>
#include <string.h>

#include "cpm/mime.h"

/* Fill the MSRP bits every SDP of ours has: we are always the active side,
 * so the m= port is 9 and the a=path URI identifies the session only. */
static void sdp_common(const struct cpm_opts *o, const struct xfer *x, struct sdp_ft *s)
{
	uint64_t r = 0;
	for (size_t i = 0; i < 8 && x->local_sid[i]; i++)
		r = r * 62 + (uint64_t)(unsigned char)x->local_sid[i];
	snprintf(s->origin_user, sizeof s->origin_user, "-");
	s->origin_sess_id = r % 4000000000u + 1;
	s->origin_sess_version = s->origin_sess_id;
	snprintf(s->origin_addr, sizeof s->origin_addr, "%s", o->local_ip);
	snprintf(s->conn_addr, sizeof s->conn_addr, "%s", o->local_ip);
	s->conn_ipv6 = strchr(o->local_ip, ':') != NULL;
	s->port = 9;
	snprintf(s->proto, sizeof s->proto, o->tls ? "TCP/TLS/MSRP" : "TCP/MSRP");
	snprintf(s->path, sizeof s->path, "%s", x->local_path);
	snprintf(s->accept_types, sizeof s->accept_types, "*");
	s->setup = SDP_SETUP_ACTIVE;
}

/* The file part of our offer, push (sendonly) or pull (recvonly): the selector, our
 * file-transfer-id, and the range when we resume (RFC 5547 §8.1.3 file-range,
 * store-and-forward §5). */
static void sdp_file(const struct cpm_opts *o, struct xfer *x, struct sdp_ft *s, enum sdp_dir dir)
{
	sdp_common(o, x, s);
	s->dir = dir;
	s->has_selector = true;
	s->sel = x->sel;
	snprintf(s->file_transfer_id, sizeof s->file_transfer_id, "%s", x->ftid);
	if (x->base > 0) {
		s->has_file_range = true;
		s->range_start = x->base + 1;
		s->range_stop = x->sel.size;
	}
}

void xfer_local_path(const struct cpm_opts *o, struct xfer *x)
{
	cpm_random_alnum(x->local_sid, 20);
	bool v6 = strchr(o->local_ip, ':') != NULL;
	/* --transport tls: msrps (RFC 4975 §14), so that the server puts our MSRP on TLS too */
	snprintf(x->local_path, sizeof x->local_path, "%s://%s%s%s:9/%s;tcp", o->tls ? "msrps" : "msrp", v6 ? "[" : "",
		 o->local_ip, v6 ? "]" : "", x->local_sid);
}

/* base64 in lines of 76 characters (RFC 2045 §6.8), CRLF separated. */
static char *base64_lines(const uint8_t *in, size_t len, size_t *outlen)
{
	size_t lines = (len + 56) / 57;
	size_t cap = lines * 78 + 8;
	char *out = malloc(cap);
	if (!out)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < len; i += 57) {
		size_t n = len - i < 57 ? len - i : 57;
		int w = mime_base64_encode(out + o, cap - o, in + i, n);
		if (w < 0) {
			free(out);
			return NULL;
		}
		o += (size_t)w;
		if (i + n < len) {
			out[o++] = '\r';
			out[o++] = '\n';
		}
	}
	out[o] = '\0';
	*outlen = o;
	return out;
}

/* A multipart/mixed body of the parts (a random boundary that no part contains); *body
 * is malloc()ed, NUL-terminated. 0 or -1. */
static int multipart_body(const struct mime_part_out *parts, size_t n, char **body, char *ctype, size_t ctype_cap)
{
	size_t cap = 1024;
	for (size_t i = 0; i < n; i++)
		cap += parts[i].headers.len + parts[i].body.len + 128;
	char *mp = malloc(cap);
	if (!mp)
		return -1;
	char boundary[MIME_MAX_BOUNDARY + 1];
	int w = -1;
	for (int tries = 0; tries < 4 && w < 0; tries++) {
		mime_random_boundary(boundary, 24);
		w = mime_multipart_build(mp, cap, boundary, parts, n);
	}
	if (w < 0 || (size_t)w >= cap) {
		free(mp);
		return -1;
	}
	mp[w] = '\0';
	snprintf(ctype, ctype_cap, "multipart/mixed;boundary=%s", boundary);
	*body = mp;
	return 0;
}

int offer_build(const struct cpm_opts *o, struct xfer *x, long mtime, const uint8_t *thumb,
		size_t thumb_len, const char *thumb_type, char **body, char *ctype, size_t ctype_cap)
{
	struct sdp_ft *s = calloc(1, sizeof *s);
	char *sdp = malloc(SDP_MAX_BYTES);
	char *b64 = NULL;
	int rc = -1;
	*body = NULL;
	if (!s || !sdp)
		goto out;
	if (!x->local_path[0])
		xfer_local_path(o, x);
	if (!x->ftid[0])
		cpm_random_alnum(x->ftid, 24);
	sdp_file(o, x, s, SDP_DIR_SENDONLY);
	snprintf(s->file_disposition, sizeof s->file_disposition, "%s",
		 strncmp(x->sel.type, "image/", 6) == 0 ? "render" : "attachment");
	char date[64];
	rfc5322_date(date, sizeof date, mtime);
	snprintf(s->file_date, sizeof s->file_date, "modification:\"%s\"", date);

	char cid[64] = "";
	if (thumb) {
		char r[17];
		cpm_random_alnum(r, 16);
		snprintf(cid, sizeof cid, "thumb-%s@cpm", r);
		snprintf(s->file_icon, sizeof s->file_icon, "cid:%s", cid);
	}
	int n = sdp_build_ft(sdp, SDP_MAX_BYTES, s);
	if (n < 0)
		goto out;
	if (!thumb) {
		*body = sdp;
		sdp = NULL;
		snprintf(ctype, ctype_cap, "application/sdp");
		rc = 0;
		goto out;
	}

	size_t b64len = 0;
	b64 = base64_lines(thumb, thumb_len, &b64len);
	if (!b64)
		goto out;
	char thdr[256];
	snprintf(thdr, sizeof thdr,
		 "Content-Type: %s\r\nContent-Transfer-Encoding: base64\r\nContent-ID: <%s>\r\n"
		 "Content-Disposition: icon\r\n",
		 thumb_type, cid);
	struct mime_part_out parts[2] = {
		{CPM_STR_LIT("Content-Type: application/sdp\r\n"), {sdp, (size_t)n}},
		{cpm_str_c(thdr), {b64, b64len}},
	};
	rc = multipart_body(parts, 2, body, ctype, ctype_cap);
out:
	free(s);
	free(sdp);
	free(b64);
	return rc;
}

int msg_offer_body(const struct cpm_opts *o, struct xfer *x, const char *head, size_t head_len, char **body,
		   char *ctype, size_t ctype_cap)
{
	char *sdp = malloc(SDP_MAX_BYTES);
	int n = sdp ? msg_sdp_build(o, x, SDP_DIR_SENDONLY, sdp, SDP_MAX_BYTES) : -1;
	*body = NULL;
	if (n < 0) {
		free(sdp);
		return -1;
	}
	if (!head || !head_len) {
		*body = sdp;
		snprintf(ctype, ctype_cap, "application/sdp");
		return 0;
	}
	struct mime_part_out parts[2] = {
		{CPM_STR_LIT("Content-Type: application/sdp\r\n"), {sdp, (size_t)n}},
		{CPM_STR_LIT("Content-Type: message/cpim\r\n"), {head, head_len}},
	};
	int rc = multipart_body(parts, 2, body, ctype, ctype_cap);
	free(sdp);
	return rc;
}

/* Parse a SIP body that should hold our file-transfer SDP. Returns 0, or a
 * SIP status to answer with (415 body type, 488 SDP). When `thumb_into` is
 * given and the SDP names a file-icon part, that part is decoded into it. */
int offer_parse_body(const char *ctype, const char *body, size_t len, struct sdp_ft *sdp,
		     struct xfer *thumb_into, char *err, size_t errcap)
{
	struct cpm_str ct = cpm_str_c(ctype);
	err[0] = '\0';
	if (!body || len == 0) {
		snprintf(err, errcap, "no body");
		return 415;
	}
	if (len > MIME_MAX_BODY) {
		snprintf(err, errcap, "body too big (%zu bytes)", len);
		return 488;
	}
	struct cpm_str sdp_body = {body, len};
	struct mime_part parts[MIME_MAX_PARTS];
	size_t nparts = 0;
	bool multipart = mime_is_multipart(ct);
	if (multipart) {
		char boundary[MIME_MAX_BOUNDARY + 1];
		enum mime_error me = mime_boundary(ct, boundary, sizeof boundary);
		if (me == MIME_OK)
			me = mime_multipart_parse(body, len, boundary, parts, MIME_MAX_PARTS, &nparts);
		if (me != MIME_OK) {
			snprintf(err, errcap, "multipart: %s", mime_strerror(me));
			return 415;
		}
		const struct mime_part *p = mime_find_type(parts, nparts, "application/sdp");
		if (!p) {
			snprintf(err, errcap, "no application/sdp part");
			return 415;
		}
		sdp_body = p->body;
	} else if (!cpm_str_caseeq(mime_type_only(ct), "application/sdp")) {
		snprintf(err, errcap, "body type %s", ctype);
		return 415;
	}
	enum sdp_error se = sdp_parse_ft(sdp_body.p, sdp_body.len, sdp);
	if (se != SDP_OK) {
		snprintf(err, errcap, "SDP: %s", sdp_strerror(se));
		return 488;
	}
	if (thumb_into && multipart && strncmp(sdp->file_icon, "cid:", 4) == 0) {
		const struct mime_part *tp = mime_find_cid(parts, nparts, cpm_str_c(sdp->file_icon));
		if (tp && cpm_str_caseeq(tp->content_transfer_encoding, "base64")) {
			/* bounded by MIME_MAX_BODY above, not by any number the peer sent */
			size_t cap = tp->body.len / 4 * 3 + 3;
			uint8_t *buf = malloc(cap);
			int n = buf ? mime_base64_decode(buf, cap, tp->body) : -1;
			if (n > 0) {
				thumb_into->thumb = buf;
				thumb_into->thumb_len = (size_t)n;
				char t[SDP_MAX_TYPE + 1];
				struct cpm_str ty = mime_type_only(tp->content_type);
				if (!cpm_str_copy(t, sizeof t, ty))
					t[0] = '\0';
				snprintf(thumb_into->thumb_ext, sizeof thumb_into->thumb_ext, "%s", mime_ext(t));
			} else {
				free(buf);
			}
		}
	}
	return 0;
}

int msg_sdp_build(const struct cpm_opts *o, struct xfer *x, enum sdp_dir dir, char *buf, size_t cap)
{
	struct sdp_ft *s = calloc(1, sizeof *s);
	if (!s)
		return -1;
	if (!x->local_path[0])
		xfer_local_path(o, x);
	sdp_common(o, x, s);
	s->dir = dir;
	snprintf(s->accept_types, sizeof s->accept_types, "message/cpim");
	if (dir == SDP_DIR_SENDONLY) {
		/* messaging.md §2: the message's size, so that a server refuses one too big (413)
		 * before a byte moves */
		s->has_max_size = true;
		s->max_size = x->sel.size;
	}
	int n = sdp_build_ft(buf, cap, s);
	free(s);
	return n;
}

int chat_sdp_build(const struct cpm_opts *o, struct xfer *x, char *buf, size_t cap)
{
	struct sdp_ft *s = calloc(1, sizeof *s);
	if (!s)
		return -1;
	if (!x->local_path[0])
		xfer_local_path(o, x);
	sdp_common(o, x, s);
	/* messaging.md §5: messages both ways, CPIM-wrapped text and reports */
	s->dir = SDP_DIR_SENDRECV;
	snprintf(s->accept_types, sizeof s->accept_types, "message/cpim");
	snprintf(s->accept_wrapped_types, sizeof s->accept_wrapped_types, "text/plain message/imdn+xml");
	int n = sdp_build_ft(buf, cap, s);
	free(s);
	return n;
}

int answer_build(const struct cpm_opts *o, struct xfer *x, char *buf, size_t cap)
{
	if (x->chat)
		return chat_sdp_build(o, x, buf, cap);
	if (x->is_msg)
		return msg_sdp_build(o, x, SDP_DIR_RECVONLY, buf, cap);
	struct sdp_ft *s = calloc(1, sizeof *s);
	if (!s)
		return -1;
	if (!x->local_path[0])
		xfer_local_path(o, x);
	sdp_file(o, x, s, SDP_DIR_RECVONLY);
	int n = sdp_build_ft(buf, cap, s);
	free(s);
	return n;
}

/* The offer of a pull (RFC 5547 §8.2, store-and-forward §4): recvonly, a
 * file-selector that may be empty (the item id names the file), and
 * a=file-range when we continue a kept partial (x->base > 0, x->sel). */
int pull_offer_build(const struct cpm_opts *o, struct xfer *x, char *buf, size_t cap)
{
	struct sdp_ft *s = calloc(1, sizeof *s);
	if (!s)
		return -1;
	if (!x->local_path[0])
		xfer_local_path(o, x);
	if (!x->ftid[0])
		cpm_random_alnum(x->ftid, 24);
	sdp_common(o, x, s);
	s->dir = SDP_DIR_RECVONLY;
	s->has_selector = true;
	if (x->base > 0) {
		s->sel = x->sel;
		s->has_file_range = true;
		s->range_start = x->base + 1;
		s->range_stop = x->sel.size;
	}
	snprintf(s->file_transfer_id, sizeof s->file_transfer_id, "%s", x->ftid);
	int n = sdp_build_ft(buf, cap, s);
	free(s);
	return n;
}
