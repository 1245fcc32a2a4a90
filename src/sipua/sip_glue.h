/* Helpers that read what a peer put in a SIP message (already parsed by
 * sofia-sip) and turn it into what cpmd needs. Everything here handles
 * hostile input: bounded, strict, and fuzzed (fuzz/fuzz_sip.c). No I/O. */
#ifndef CPMD_SIPUA_SIP_GLUE_H
#define CPMD_SIPUA_SIP_GLUE_H

#include <stdbool.h>
#include <stddef.h>

#include <sofia-sip/msg.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/su_alloc.h>

#include "cpm/mime.h"
#include "cpm/str.h"
#include "cpm/icsi.h"

/* The user's REGISTER that a core puts in a third-party REGISTER (message/sip, TS 24.229
 * §5.4.1.7): a real one is 0.5-2 KiB (Via, Contact with feature tags, Authorization,
 * Path); 16 KiB bounds sofia's parse of a hostile body and leaves room for big Path sets. */
#define SIPUA_3PREG_BODY_MAX (16 * 1024)

/* Longest value of a header we carry from one leg to the other. */
#define SIPGLUE_MAX_CARRIED_VALUE 1024

/* Registration lifetime of one Contact: its expires param, else the Expires
 * header, else dflt. Returns 0, or -1 when the value is not a number. */
int sipglue_contact_expires(sip_contact_t const *m, sip_t const *sip, unsigned dflt, unsigned *out);

/* Device key: the +sip.instance value without quotes, else the contact URI
 * string. Returns 0 or -1 (empty or too long). */
int sipglue_device_key(sip_contact_t const *m, const char *contact_uri, char *out, size_t cap);

/* The REGISTER embedded in a third-party REGISTER (sip = the core's request), parsed by
 * sofia's own parser. Returns 0 with *out NULL when there is no body, 0 with *out the parsed
 * REGISTER (msg_destroy it; its To is the outer To's user), or the SIP status to answer
 * with *why as the phrase: 400 wrong Content-Type, malformed, incomplete, not a REGISTER,
 * for another user; 413 over SIPUA_3PREG_BODY_MAX. */
int sipglue_embedded_register(sip_t const *sip, msg_t **out, const char **why);

/* The SDP of a request/response body: application/sdp, or the
 * application/sdp part of multipart/mixed (parts filled, *nparts > 0).
 * Returns 0, or the SIP status to answer: 488 no SDP, 413 body too big,
 * 415 unsupported body type, 400 malformed multipart. */
int sipglue_body_sdp(su_home_t *home, sip_t const *sip, struct cpm_str *sdp, struct mime_part *parts,
		     size_t *nparts);

/* The CPM headers carried unchanged from the sender's INVITE to the forks
 * (Conversation-ID, Contribution-ID, InReplyTo-Contribution-ID,
 * Accept-Contact, P-Preferred-/P-Asserted-Service, Referred-By, Subject),
 * as "Name: value\r\n" lines. Accept-Contact defaults to "*;" icsi_tag, the feature
 * tag of the service (CPM_FT_ICSI_TAG when NULL). Returns NULL only when out of memory. */
char *sipglue_carried_headers(su_home_t *home, sip_t const *sip, const char *icsi_tag);

/* Copy the value of the first extension header `name` (case-insensitive; one
 * sofia does not parse itself, e.g. Cpm-Expires) into out. Returns 0, -ENOENT
 * when absent, -1 when longer than cap - 1 (never truncated). */
int sipglue_header_value(sip_t const *sip, const char *name, char *out, size_t cap);

#endif
