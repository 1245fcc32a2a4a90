/* Policy decisions (see policy.h). */
#include "pf/policy.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static void set(struct pf_verdict *v, int status, const char *phrase)
{
	v->status = status;
	snprintf(v->phrase, sizeof v->phrase, "%s", phrase);
	v->warning[0] = '\0';
}

void policy_check_offer(const struct cpmd_options *opts, const struct sdp_ft *o, struct pf_verdict *v)
{
	memset(v, 0, sizeof *v);
	if (!o->has_selector) {
		set(v, 488, "No File Selector");
		return;
	}
	if (o->port == 0) {
		set(v, 488, "MSRP Stream Rejected In Offer");
		return;
	}
	if (o->dir == SDP_DIR_RECVONLY) {
		/* RFC 5547 pull: retrieving stored files arrives with store-and-forward. */
		set(v, 488, "File Pull Not Available");
		return;
	}
	if (o->dir != SDP_DIR_SENDONLY) {
		set(v, 488, "File Transfer Offer Must Be sendonly");
		return;
	}
	if (!o->sel.has_name || !o->sel.has_size || !o->sel.has_type) {
		set(v, 488, "Incomplete File Selector (name, size and type required)");
		return;
	}
	if (o->sel.has_hash && (strcmp(o->sel.hash_alg, "sha-1") != 0 || o->sel.hash_len != 20)) {
		set(v, 488, "Unsupported File Hash (sha-1 only)");
		return;
	}
	if (o->setup == SDP_SETUP_PASSIVE || o->setup == SDP_SETUP_HOLDCONN) {
		/* cpmd is always the passive MSRP end (it has the public address). */
		set(v, 488, "MSRP Offerer Must Be Active (a=setup)");
		return;
	}
	if (o->has_file_range) {
		/* A resumed upload (RFC 5547 §6, standards.md §2.4): the rest of
		 * the file, from a byte inside it to its end; the hash proves it
		 * is the same file. pf_defer.c matches it to a kept partial. */
		if (o->range_start < 1 || o->range_start > o->sel.size ||
		    (o->range_stop != 0 && o->range_stop != o->sel.size)) {
			set(v, 488, "File Range Outside The File (must be START-SIZE)");
			return;
		}
		if (o->range_start > 1 && !o->sel.has_hash) {
			set(v, 488, "Resume Needs The sha-1 Of The File");
			return;
		}
	}
	/* 488 rather than 413: 413 is about the SIP body, and RFC 4975 §8.6
	 * points to 488 for media the answerer will not accept. The phrase and
	 * a Warning name the limit so a human sees why. */
	if (opts->max_file_size && o->sel.size > opts->max_file_size) {
		v->status = 488;
		snprintf(v->phrase, sizeof v->phrase, "File Too Large (max %" PRIu64 " bytes)", opts->max_file_size);
		snprintf(v->warning, sizeof v->warning,
			 "399 cpmd \"file size %" PRIu64 " exceeds the maximum of %" PRIu64 " bytes\"", o->sel.size,
			 opts->max_file_size);
		return;
	}
}

void policy_unreachable(const struct cpmd_options *opts, enum pf_unreachable_why why, struct pf_verdict *v)
{
	(void)opts;
	switch (why) {
	case PF_NO_DEVICE:
		set(v, 480, "Temporarily Unavailable (no device registered)");
		break;
	case PF_NO_ANSWER:
		set(v, 480, "Temporarily Unavailable (no answer)");
		break;
	case PF_ALL_UNAVAILABLE:
		set(v, 480, "Temporarily Unavailable");
		break;
	}
}

int policy_is_unavailable_status(int status)
{
	/* 408/480: RFC 3261 "not there"; 503 and 5xx from our own stack mean
	 * the flow to the device is gone; 487 here is our own no-answer CANCEL. */
	return status == 408 || status == 480 || status == 487 || status == 404 || status >= 500;
}
