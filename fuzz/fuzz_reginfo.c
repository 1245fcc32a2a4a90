/* libFuzzer driver for the reg event codec (lib/reginfo): whatever the input, reginfo_parse
 * returns OK or one of its errors, leaves *out zeroed on error, and on success every string is
 * NUL-terminated within its field, every count within its bound, every contact points at a
 * registration, and every state is one of the enum. libxml2 is initialised once and never
 * cleaned up per input, so LeakSanitizer sees only what one parse leaks. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpm/reginfo.h"
#include "cpm/xml_safe.h"

static void check_str(const char *s, size_t size, bool nonempty)
{
	if (!memchr(s, '\0', size) || (nonempty && !s[0]))
		abort();
	for (; *s; s++)
		if ((unsigned char)*s < 0x20)
			abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	cpm_xml_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct reginfo ri;
	static const struct reginfo zero;

	int rc = reginfo_parse((const char *)data, size, &ri);
	if (rc != REGINFO_OK) {
		if (rc < REGINFO_E_MEMORY || rc > 0 || memcmp(&ri, &zero, sizeof ri))
			abort();
		if (!reginfo_strerror(rc)[0])
			abort();
		return 0;
	}
	if (ri.nregs > REGINFO_MAX_REGS || ri.ncontacts > REGINFO_MAX_CONTACTS)
		abort();
	for (size_t i = 0; i < ri.nregs; i++) {
		const struct reginfo_reg *r = &ri.regs[i];
		check_str(r->aor, sizeof r->aor, true);
		check_str(r->id, sizeof r->id, false);
		if (r->state < REGINFO_INIT || r->state > REGINFO_TERMINATED)
			abort();
	}
	for (size_t i = 0; i < ri.ncontacts; i++) {
		const struct reginfo_contact *c = &ri.contacts[i];
		if (c->reg >= ri.nregs || (c->state != REGINFO_ACTIVE && c->state != REGINFO_TERMINATED))
			abort();
		check_str(c->uri, sizeof c->uri, true);
		check_str(c->instance, sizeof c->instance, false);
		check_str(c->event, sizeof c->event, true);
		check_str(c->id, sizeof c->id, false);
		if (!c->has_expires && c->expires)
			abort();
	}
	return 0;
}
