/* TEMPORARY (replaced by the AS-mode identity accessors of sip_msg.c): standalone rules. */
#include "sipua/sip_leg.h"

int sip_msg_identity(const struct sip_msg *m, struct sip_addr *out)
{
	return sip_msg_from(m, out);
}

bool sip_msg_is_orig(const struct sip_msg *m)
{
	(void)m;
	return false;
}
