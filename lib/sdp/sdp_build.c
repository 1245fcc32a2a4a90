/* SDP builder for MSRP file transfer: the inverse of sdp_parse_ft, so that
 * build -> parse gives back the same struct. CRLF line ends. */
#include "cpm/sdp.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Bounded appender: remembers overflow so callers check once at the end. */
struct sdp_wbuf {
	char *p;
	size_t cap, len;
	bool err;
};

static void w_fmt(struct sdp_wbuf *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void w_fmt(struct sdp_wbuf *w, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (w->err)
		return;
	va_start(ap, fmt);
	n = vsnprintf(w->p + w->len, w->cap - w->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= w->cap - w->len) {
		w->err = true;
		w->p[w->len] = '\0';
		return;
	}
	w->len += (size_t)n;
}

/* "a=<name>:<value>" when value is non-empty. */
static void w_attr(struct sdp_wbuf *w, const char *name, const char *value)
{
	if (value[0])
		w_fmt(w, "a=%s:%s\r\n", name, value);
}

/* A value we copy onto a line must not end the line early (injection of
 * extra SDP lines through a peer-supplied string). */
static bool line_safe(const char *s)
{
	return strpbrk(s, "\r\n") == NULL;
}

/* o=, c= fields: non-empty, no spaces, no control bytes. */
static bool field_safe(const char *s)
{
	if (!s[0])
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return false;
	return true;
}

static bool input_valid(const struct sdp_ft *in)
{
	const char *strs[] = {
		in->path, in->accept_types, in->accept_wrapped_types, in->file_transfer_id,
		in->file_disposition, in->file_date, in->file_icon,
	};

	for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
		if (!line_safe(strs[i]))
			return false;
	if (in->origin_user[0] && !field_safe(in->origin_user))
		return false;
	if (in->conn_addr[0] && !field_safe(in->conn_addr))
		return false;
	if (in->origin_addr[0] && !field_safe(in->origin_addr))
		return false;
	if (in->proto[0] && strcmp(in->proto, "TCP/MSRP") != 0 && strcmp(in->proto, "TCP/TLS/MSRP") != 0)
		return false;
	return true;
}

static const char *dir_name(enum sdp_dir d)
{
	switch (d) {
	case SDP_DIR_SENDRECV: return "sendrecv";
	case SDP_DIR_SENDONLY: return "sendonly";
	case SDP_DIR_RECVONLY: return "recvonly";
	case SDP_DIR_INACTIVE: return "inactive";
	default: return NULL;
	}
}

static const char *setup_name(enum sdp_setup s)
{
	switch (s) {
	case SDP_SETUP_ACTIVE: return "active";
	case SDP_SETUP_PASSIVE: return "passive";
	case SDP_SETUP_ACTPASS: return "actpass";
	case SDP_SETUP_HOLDCONN: return "holdconn";
	default: return NULL;
	}
}

/* v= o= s= c= t= m=. o= needs an address: origin_addr, else conn_addr. */
static void w_session(struct sdp_wbuf *w, const struct sdp_ft *in)
{
	const char *oaddr = in->origin_addr[0] ? in->origin_addr : in->conn_addr;
	bool ov6 = in->origin_addr[0] ? strchr(oaddr, ':') != NULL : in->conn_ipv6;

	w_fmt(w, "v=0\r\n");
	w_fmt(w, "o=%s %llu %llu IN %s %s\r\n", in->origin_user[0] ? in->origin_user : "-",
	      (unsigned long long)in->origin_sess_id, (unsigned long long)in->origin_sess_version,
	      ov6 ? "IP6" : "IP4", oaddr);
	w_fmt(w, "s=-\r\n");
	if (in->conn_addr[0])
		w_fmt(w, "c=IN %s %s\r\n", in->conn_ipv6 ? "IP6" : "IP4", in->conn_addr);
	w_fmt(w, "t=0 0\r\n");
	w_fmt(w, "m=message %u %s *\r\n", (unsigned)in->port, in->proto[0] ? in->proto : "TCP/MSRP");
}

static void w_selector(struct sdp_wbuf *w, const struct sdp_file_selector *sel)
{
	int n;

	if (w->err)
		return;
	w_fmt(w, "a=file-selector");
	if (!(sel->has_name || sel->has_size || sel->has_type || sel->has_hash)) {
		w_fmt(w, "\r\n");
		return;
	}
	w_fmt(w, ":");
	if (w->err)
		return;
	n = sdp_selector_format(w->p + w->len, w->cap - w->len, sel);
	if (n < 0) {
		w->err = true;
		return;
	}
	w->len += (size_t)n;
	w_fmt(w, "\r\n");
}

static void w_media(struct sdp_wbuf *w, const struct sdp_ft *in)
{
	const char *s;

	w_attr(w, "path", in->path);
	w_attr(w, "accept-types", in->accept_types);
	w_attr(w, "accept-wrapped-types", in->accept_wrapped_types);
	if (in->has_max_size)
		w_fmt(w, "a=max-size:%llu\r\n", (unsigned long long)in->max_size);
	if ((s = setup_name(in->setup)))
		w_fmt(w, "a=setup:%s\r\n", s);
	if ((s = dir_name(in->dir)))
		w_fmt(w, "a=%s\r\n", s);
	if (in->cema)
		w_fmt(w, "a=msrp-cema\r\n");
	if (in->has_selector)
		w_selector(w, &in->sel);
	w_attr(w, "file-transfer-id", in->file_transfer_id);
	w_attr(w, "file-disposition", in->file_disposition);
	w_attr(w, "file-date", in->file_date);
	w_attr(w, "file-icon", in->file_icon);
	if (in->has_file_range && in->range_stop)
		w_fmt(w, "a=file-range:%llu-%llu\r\n", (unsigned long long)in->range_start,
		      (unsigned long long)in->range_stop);
	else if (in->has_file_range)
		w_fmt(w, "a=file-range:%llu-*\r\n", (unsigned long long)in->range_start);
}

int sdp_build_ft(char *buf, size_t cap, const struct sdp_ft *in)
{
	struct sdp_wbuf w = { buf, cap > INT_MAX ? INT_MAX : cap, 0, false };

	if (cap == 0)
		return -1;
	buf[0] = '\0';
	if (!input_valid(in) || (!in->origin_addr[0] && !in->conn_addr[0]))
		return -1;
	w_session(&w, in);
	w_media(&w, in);
	return w.err ? -1 : (int)w.len;
}
