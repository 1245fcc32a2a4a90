/* Pull delivery of stored items (RFC 5547 §6.2; docs/internals/store-and-forward.md §4): a
 * device sends a recvonly INVITE naming the item (Cpm-Item-Id, or its sha-1 selector); cpmd
 * answers sendonly and sends the stored file from the requested byte. When the device has
 * every byte the item is finished like a push delivery (pf_deliver.c). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "pf/pf_dlv.h"


struct pull_match {
	const struct sdp_file_selector *sel;
	struct store_item it;
	bool found;
};

static bool sel_matches(const struct sdp_file_selector *s, const struct store_item *it)
{
	if (s->has_name && strcmp(s->name, it->sel.name))
		return false;
	if (s->has_size && s->size != it->sel.size)
		return false;
	if (s->has_type && strcasecmp(s->type, it->sel.type))
		return false;
	if (s->has_hash && (!it->sel.has_hash || s->hash_len != 20 || memcmp(s->hash, it->sel.sha1, 20)))
		return false;
	return true;
}

static int pull_collect(void *arg, const struct store_item *it)
{
	struct pull_match *m = arg;
	if (!sel_matches(m->sel, it))
		return 0;
	m->it = *it;
	m->found = true;
	return 1;
}

static void pull_reject(struct sip_leg *leg, int status, const char *phrase)
{
	sip_leg_respond(leg, status, phrase, NULL); /* sipua releases the unbound leg */
}

void pf_pull_invite(struct pf *pf, struct sip_leg *leg, const struct sip_msg *msg, const struct sdp_ft *o)
{
	char key[LOC_MAX_AOR], rkey[LOC_MAX_AOR], id[STORE_ID_MAX + 8];
	struct sip_addr from, ru;
	struct store_item it;

	if (pf_identity(msg, &from) || sip_msg_request_uri(msg, &ru) ||
	    location_aor_key(key, sizeof key, from.user, from.host) ||
	    location_aor_key(rkey, sizeof rkey, ru.user, ru.host)) {
		pull_reject(leg, 400, "Bad From Or Request-URI");
		return;
	}
	if (strcmp(key, rkey)) {
		/* A pull fetches one's own stored items, addressed to oneself. */
		pull_reject(leg, 403, "A Pull Must Be Addressed To Your Own Address");
		return;
	}
	if (o->port == 0 || o->setup == SDP_SETUP_PASSIVE || o->setup == SDP_SETUP_HOLDCONN) {
		pull_reject(leg, 488, "MSRP Offerer Must Be Active (a=setup)");
		return;
	}
	int hr = sip_msg_header(msg, "Cpm-Item-Id", id, sizeof id);
	if ((hr != 0 && hr != -ENOENT) || (hr == 0 && !store_id_valid(id))) {
		pull_reject(leg, 404, "No Such Item");
		return;
	}
	if (hr == 0) {
		/* Same answer for "not yours" as for "does not exist": no leak. */
		if (store_item_get(pf->st, id, &it) || strcmp(it.recipient, key) ||
		    (it.state != STORE_ITEM_STORED && it.state != STORE_ITEM_DELIVERING)) {
			log_info("pull from %s for item %s: no such item of theirs", key, id);
			pull_reject(leg, 404, "No Such Item");
			return;
		}
		if (!sel_matches(&o->sel, &it)) {
			pull_reject(leg, 488, "File Selector Does Not Match The Item");
			return;
		}
	} else {
		struct pull_match m = {.sel = &o->sel};
		if (!o->sel.has_hash) {
			pull_reject(leg, 488, "Pull Needs Cpm-Item-Id Or A sha-1 File Selector");
			return;
		}
		store_items_for_recipient(pf->st, key, 0, pull_collect, &m);
		if (!m.found) {
			pull_reject(leg, 404, "No Such Item");
			return;
		}
		it = m.it;
	}
	uint64_t offset = 0;
	if (o->has_file_range) {
		if (o->range_start < 1 || o->range_start > it.sel.size + (it.sel.size == 0) ||
		    (o->range_stop && o->range_stop != it.sel.size)) {
			pull_reject(leg, 488, "File Range Outside The File");
			return;
		}
		offset = o->range_start - 1;
	}
	if (pf_item_busy(pf, it.id)) {
		pull_reject(leg, 486, "Item Is Being Delivered");
		return;
	}
	struct dlv *d = dlv_new(pf, &it, true);
	if (!d) {
		pull_reject(leg, 500, "Out Of Memory");
		return;
	}
	d->offset = offset;
	d->leg = leg;
	sip_leg_bind(leg, dlv_leg_event, d);
	PF_COPY(d->device, key);
	if (dlv_create_source(d) || ft_relay_set_peer_path(d->relay, FT_LEG_DOWN, o->path)) {
		d->leg_answered = true;
		sip_leg_respond(leg, 500, "Cannot Open The Item", NULL);
		d->aborted = true;
		d->state = DLV_ENDING;
		return; /* freed when the leg terminates */
	}
	/* a device that offered msrps fetches over TLS; never in clear (docs/security.md) */
	if (pf_path_msrps(o->path) && ft_relay_leg_secure(d->relay, FT_LEG_DOWN)) {
		d->leg_answered = true;
		sip_leg_respond(leg, 488, "msrps (TLS) offered but cpmd has no --msrp-tls", NULL);
		d->aborted = true;
		d->state = DLV_ENDING;
		return;
	}
	char *sdp = cpm_arena_alloc_raw(&d->arena, SDP_MAX_BYTES);
	struct sdp_ft *s = cpm_arena_alloc(&d->arena, sizeof *s);
	if (!sdp || !s) {
		dlv_end(d);
		return;
	}
	dlv_item_sdp(d, s, SDP_DIR_SENDONLY, o->file_transfer_id[0] ? o->file_transfer_id : NULL);
	int n = sdp_build_ft(sdp, SDP_MAX_BYTES, s);
	if (n < 0) {
		dlv_end(d);
		return;
	}
	d->leg_answered = true;
	d->state = DLV_RELAYING;
	struct sip_body body = {.content_type = "application/sdp", .data = sdp, .len = (size_t)n};
	struct sip_respond_opts ro = {.body = &body, .contact = true};
	sip_leg_respond(leg, 200, NULL, &ro);
	log_info("dlv %s: %s pulls item %s (%s, %" PRIu64 " bytes, from byte %" PRIu64 ")", d->id, key, it.id,
		 it.sel.name, it.sel.size, offset);
}

