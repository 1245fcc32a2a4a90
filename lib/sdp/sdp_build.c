/* SDP builder for MSRP file transfer: the inverse of sdp_parse_ft, so that
 * build -> parse gives back the same struct. CRLF line ends. */
#include "cpm/sdp.h"

#include "cpm/wbuf.h"

#include <string.h>

/* "a=<name>:<value>" when value is non-empty. */
static void w_attr(struct cpm_wbuf *w, const char *name, const char *value)
{
	if (value[0])
		cpm_wbuf_printf(w, "a=%s:%s\r\n", name, value);
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
		in->file_disposition, in->file_date, in->file_icon, in->fingerprint,
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
static void w_session(struct cpm_wbuf *w, const struct sdp_ft *in)
{
	const char *oaddr = in->origin_addr[0] ? in->origin_addr : in->conn_addr;
	bool ov6 = in->origin_addr[0] ? strchr(oaddr, ':') != NULL : in->conn_ipv6;

	cpm_wbuf_puts(w, "v=0\r\n");
	cpm_wbuf_printf(w, "o=%s %llu %llu IN %s %s\r\n", in->origin_user[0] ? in->origin_user : "-",
			(unsigned long long)in->origin_sess_id, (unsigned long long)in->origin_sess_version,
			ov6 ? "IP6" : "IP4", oaddr);
	cpm_wbuf_puts(w, "s=-\r\n");
	if (in->conn_addr[0])
		cpm_wbuf_printf(w, "c=IN %s %s\r\n", in->conn_ipv6 ? "IP6" : "IP4", in->conn_addr);
	cpm_wbuf_puts(w, "t=0 0\r\n");
	cpm_wbuf_printf(w, "m=message %u %s *\r\n", (unsigned)in->port, in->proto[0] ? in->proto : "TCP/MSRP");
}

static void w_selector(struct cpm_wbuf *w, const struct sdp_file_selector *sel)
{
	size_t room;
	char *t;

	cpm_wbuf_puts(w, "a=file-selector");
	if (!(sel->has_name || sel->has_size || sel->has_type || sel->has_hash)) {
		cpm_wbuf_puts(w, "\r\n");
		return;
	}
	cpm_wbuf_putc(w, ':');
	t = cpm_wbuf_tail(w, &room);
	cpm_wbuf_commit(w, t ? sdp_selector_format(t, room, sel) : -1);
	cpm_wbuf_puts(w, "\r\n");
}

static void w_media(struct cpm_wbuf *w, const struct sdp_ft *in)
{
	const char *s;

	w_attr(w, "path", in->path);
	w_attr(w, "accept-types", in->accept_types);
	w_attr(w, "accept-wrapped-types", in->accept_wrapped_types);
	if (in->has_max_size)
		cpm_wbuf_printf(w, "a=max-size:%llu\r\n", (unsigned long long)in->max_size);
	if ((s = setup_name(in->setup)))
		cpm_wbuf_printf(w, "a=setup:%s\r\n", s);
	if ((s = dir_name(in->dir)))
		cpm_wbuf_printf(w, "a=%s\r\n", s);
	if (in->cema)
		cpm_wbuf_puts(w, "a=msrp-cema\r\n");
	w_attr(w, "fingerprint", in->fingerprint);
	if (in->has_selector)
		w_selector(w, &in->sel);
	w_attr(w, "file-transfer-id", in->file_transfer_id);
	w_attr(w, "file-disposition", in->file_disposition);
	w_attr(w, "file-date", in->file_date);
	w_attr(w, "file-icon", in->file_icon);
	if (in->has_file_range && in->range_stop)
		cpm_wbuf_printf(w, "a=file-range:%llu-%llu\r\n", (unsigned long long)in->range_start,
				(unsigned long long)in->range_stop);
	else if (in->has_file_range)
		cpm_wbuf_printf(w, "a=file-range:%llu-*\r\n", (unsigned long long)in->range_start);
}

int sdp_build_ft(char *buf, size_t cap, const struct sdp_ft *in)
{
	struct cpm_wbuf w = cpm_wbuf_text(buf, cap);

	if (cap == 0)
		return -1;
	if (!input_valid(in) || (!in->origin_addr[0] && !in->conn_addr[0]))
		return -1;
	w_session(&w, in);
	w_media(&w, in);
	return cpm_wbuf_finish(&w);
}
