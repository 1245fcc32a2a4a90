/* CPM service identifiers (IMS Communication Service Identifiers, 3GPP TS 24.229; OMA CPM):
 * the URNs as written in P-Preferred-Service / P-Asserted-Service, and as feature tags for
 * Contact and Accept-Contact, where the URN is percent-encoded (../shared/standards.md §5.1;
 * the values were checked against RCS client code: rcsjta, MediaTek, Samsung, Google stacks).
 * docs/internals/messaging.md says which request carries which. */
#ifndef CPM_ICSI_H
#define CPM_ICSI_H

#define CPM_ICSI_PREFIX "urn:urn-7:3gpp-service.ims.icsi.oma.cpm."
#define CPM_ICSI_TAG_PREFIX "+g.3gpp.icsi-ref=\"urn%3Aurn-7%3A3gpp-service.ims.icsi.oma.cpm."

/* File transfer (RFC 5547 over MSRP). */
#define CPM_ICSI_FT CPM_ICSI_PREFIX "filetransfer"
#ifndef CPM_FT_ICSI_TAG
#define CPM_FT_ICSI_TAG CPM_ICSI_TAG_PREFIX "filetransfer\""
#endif
/* Standalone message, pager mode (SIP MESSAGE, RFC 3428). */
#define CPM_ICSI_MSG CPM_ICSI_PREFIX "msg"
#define CPM_MSG_ICSI_TAG CPM_ICSI_TAG_PREFIX "msg\""
/* Standalone message, large message mode (INVITE + one MSRP SEND). */
#define CPM_ICSI_LARGEMSG CPM_ICSI_PREFIX "largemsg"
#define CPM_LARGEMSG_ICSI_TAG CPM_ICSI_TAG_PREFIX "largemsg\""
/* Delivery of a deferred standalone message (large-mode style INVITE from the PF). */
#define CPM_ICSI_DEFERRED CPM_ICSI_PREFIX "deferred"
#define CPM_DEFERRED_ICSI_TAG CPM_ICSI_TAG_PREFIX "deferred\""
/* 1-1 CPM session (chat). */
#define CPM_ICSI_SESSION CPM_ICSI_PREFIX "session"
#define CPM_SESSION_ICSI_TAG CPM_ICSI_TAG_PREFIX "session\""

#include <stdbool.h>
#include <stddef.h>

/* Does text[0..len) (a header value: P-Preferred-Service, P-Asserted-Service or an
 * Accept-Contact / Contact with +g.3gpp.icsi-ref) name the CPM ICSI whose last label is
 * `name` ("largemsg", "deferred", "session"...)? The URN and its percent-encoded feature-tag
 * form differ only before "3gpp-service.", so one search serves both; case-insensitive; the
 * label must end there ("msg" does not match "msgx" or "largemsg"). Bounded by len, no
 * allocation (lib/util/icsi.c; fuzzed by fuzz/fuzz_icsi.c). */
bool cpm_icsi_in(const char *text, size_t len, const char *name);

#endif
