/* RFC 8599 push parameters of a registered Contact URI: pn-provider, pn-prid, pn-param, as URI
 * parameters ("sip:dev@host;transport=tcp;pn-provider=apns;pn-prid=TOKEN;pn-param=TOPIC").
 * A pure parser over a device's Contact (untrusted): bounded, no allocation
 * (fuzz/fuzz_pn_params.c). cpmd's push wake-up keeps them with the binding
 * (docs/internals/push.md). */
#ifndef CPM_PN_PARAMS_H
#define CPM_PN_PARAMS_H

#include <stdbool.h>
#include <stddef.h>

#define PN_PROVIDER_MAX 63
#define PN_PRID_MAX 255
#define PN_PARAM_MAX 255

struct pn_params {
	char provider[PN_PROVIDER_MAX + 1]; /* "" = none */
	char prid[PN_PRID_MAX + 1];
	char param[PN_PARAM_MAX + 1];       /* optional (RFC 8599 §4.1.2) */
};

/* Reads the parameters of uri[0..len) (after the first ';', up to a '?' of headers). Returns
 * true when pn-provider and pn-prid are both there with a value: the device asks to be woken.
 * A value too long for its field, given twice, or holding a character outside the URI
 * parameter set (RFC 3261 paramchar: unreserved, escaped %XX, "[]/:&+$") makes it false, as
 * does a pn-prid without pn-provider; out is then all "". Values are kept as written
 * (escapes included): the gateway gets what the device registered. */
bool pn_params_parse(const char *uri, size_t len, struct pn_params *out);

#endif
