/* URI helpers for the layers above sipua, over sofia's URL parser (one parser of URIs). */
#include <sofia-sip/su_alloc.h>
#include <sofia-sip/url.h>

#include "sipua/location.h"
#include "sipua/sip_leg.h"

int sip_uri_aor_key(const char *uri, char *out, size_t cap)
{
	if (cap)
		out[0] = '\0';
	if (!uri)
		return -1;
	su_home_t home[1] = {SU_HOME_INIT(home)};
	url_t *u = url_make(home, uri);
	/* any scheme with a user and a host, as pf_aor_key_of_uri accepted */
	int rc = (u && u->url_user && u->url_host) ? location_aor_key(out, cap, u->url_user, u->url_host) : -1;
	su_home_deinit(home);
	if (rc && cap)
		out[0] = '\0'; /* never a cut key */
	return rc;
}
