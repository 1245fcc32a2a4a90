/* libFuzzer driver for CPIM (lib/cpim) and IMDN (lib/imdn). Every slice
 * cpim_parse hands out must lie inside the input; an IMDN that parses must
 * build back (with its values) and parse back to the same note. libxml2 is
 * initialised once (imdn_init) and never cleaned up per input, so
 * LeakSanitizer sees only what one parse leaks. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpm/cpim.h"
#include "cpm/imdn.h"

static void check_slice(struct cpm_str s, const char *base, size_t len)
{
	if (s.len && (!s.p || s.p < base || s.p + s.len > base + len))
		abort();
}

static void fuzz_cpim(const char *data, size_t size)
{
	struct cpim_msg m;

	int rc = cpim_parse(data, size, &m);
	if (rc != CPIM_OK) {
		if (rc != CPIM_E_LENGTH) /* that one names "Content-Length" itself */
			check_slice(m.error_header, data, size);
		if (m.from.p || m.body.p || m.n_to)
			abort(); /* cleared on error */
		return;
	}
	check_slice(m.from, data, size);
	check_slice(m.to, data, size);
	check_slice(m.datetime, data, size);
	check_slice(m.imdn_message_id, data, size);
	check_slice(m.imdn_disposition_notification, data, size);
	check_slice(m.content_type, data, size);
	check_slice(m.content_disposition, data, size);
	check_slice(m.content_length, data, size);
	check_slice(m.body, data, size);
	check_slice(cpim_addr_uri(m.from), data, size);
	if (m.n_cpim_headers > CPIM_MAX_HEADERS || m.n_content_headers > CPIM_MAX_HEADERS ||
	    m.n_to > m.n_cpim_headers || (m.n_to && !m.to.p))
		abort();
	/* what cpmd and cpm read of a pager message's disposition request */
	if (imdn_disposition_bits(m.imdn_disposition_notification) > 7)
		abort();
}

static void check_str(const char *s, size_t size)
{
	if (!memchr(s, '\0', size))
		abort();
}

static void fuzz_imdn(const char *data, size_t size)
{
	static char out[IMDN_MAX_BYTES];
	struct imdn_note n, back;
	int len;

	if (imdn_parse_cpim(data, size, &n) != IMDN_OK) {
		if (n.message_id[0] || n.kind)
			abort(); /* cleared on error */
		return;
	}
	check_str(n.message_id, sizeof n.message_id);
	check_str(n.datetime, sizeof n.datetime);
	check_str(n.recipient, sizeof n.recipient);
	check_str(n.original_recipient, sizeof n.original_recipient);
	if (!n.message_id[0] || !n.datetime[0] || !imdn_status_valid(n.kind, n.status))
		abort();
	/* The builder may refuse what the parser took (e.g. a URI with '<'
	 * is fine in XML but we also build CPIM headers from from/to: those
	 * are fixed here), but never for the note itself. */
	len = imdn_build_cpim(out, sizeof out, "sip:a@x", "sip:b@x", "w", "2026-01-01T00:00:00Z", &n);
	if (len < 0)
		abort();
	if (imdn_parse_cpim(out, (size_t)len, &back) != IMDN_OK || strcmp(n.message_id, back.message_id) ||
	    strcmp(n.datetime, back.datetime) || strcmp(n.recipient, back.recipient) ||
	    strcmp(n.original_recipient, back.original_recipient) || n.kind != back.kind ||
	    n.status != back.status)
		abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	imdn_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_cpim((const char *)data, size);
	fuzz_imdn((const char *)data, size);
	return 0;
}
