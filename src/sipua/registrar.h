/* Built-in registrar (RFC 3261 §10) for the configured domains. */
#ifndef CPMD_SIPUA_REGISTRAR_H
#define CPMD_SIPUA_REGISTRAR_H

#include <sofia-sip/nua.h>
#include <sofia-sip/sip.h>

#include "cpmd/options.h"
#include "sipua/location.h"

/* Answers one REGISTER (nua_i_register) on handle nh. */
void registrar_handle(nua_t *nua, nua_handle_t *nh, sip_t const *sip, const struct cpmd_options *opts,
		      struct location *loc);

#endif
