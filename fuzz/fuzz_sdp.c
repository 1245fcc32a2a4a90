/* libFuzzer driver for the RFC 5547 SDP codec: parse; whatever parses must
 * build, and the built SDP must parse back to the same key fields (the
 * B2BUA rebuilds every SDP it relays, so a lossy round trip is a bug). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpm/sdp.h"

static void check_same(const struct sdp_ft *a, const struct sdp_ft *b)
{
	const struct sdp_file_selector *x = &a->sel, *y = &b->sel;

	if (a->port != b->port || strcmp(a->proto, b->proto) || strcmp(a->path, b->path) ||
	    strcmp(a->conn_addr, b->conn_addr) || a->conn_ipv6 != b->conn_ipv6 ||
	    strcmp(a->origin_addr, b->origin_addr) || a->origin_sess_id != b->origin_sess_id ||
	    a->dir != b->dir || a->setup != b->setup || a->cema != b->cema ||
	    strcmp(a->accept_types, b->accept_types) ||
	    a->has_max_size != b->has_max_size || a->max_size != b->max_size ||
	    strcmp(a->file_transfer_id, b->file_transfer_id) ||
	    a->has_file_range != b->has_file_range || a->range_start != b->range_start ||
	    a->range_stop != b->range_stop || a->has_selector != b->has_selector)
		abort();
	if (x->has_name != y->has_name || x->name_len != y->name_len ||
	    memcmp(x->name, y->name, x->name_len) || x->has_size != y->has_size ||
	    x->size != y->size || x->has_type != y->has_type || strcmp(x->type, y->type) ||
	    x->has_hash != y->has_hash || x->hash_len != y->hash_len ||
	    memcmp(x->hash, y->hash, x->hash_len) || !sdp_selector_match(x, y))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char out[SDP_MAX_BYTES * 2];
	struct sdp_ft ft, again;
	struct sdp_file_selector sel;
	int n;

	/* The selector parser alone sees byte strings the line splitter would
	 * never hand it (CR, LF, NUL). */
	if (sdp_selector_parse((struct cpm_str){(const char *)data, size}, &sel) == SDP_OK &&
	    sel.has_name && (sel.name_len > SDP_MAX_FILENAME || memchr(sel.name, '\0', sel.name_len)))
		abort();

	if (sdp_parse_ft((const char *)data, size, &ft) != SDP_OK)
		return 0;
	if (ft.range_stop && ft.range_stop < ft.range_start)
		abort();
	n = sdp_build_ft(out, sizeof out, &ft);
	if (n <= 0 || (size_t)n != strlen(out))
		abort();
	if (sdp_parse_ft(out, (size_t)n, &again) != SDP_OK)
		abort();
	check_same(&ft, &again);
	return 0;
}
