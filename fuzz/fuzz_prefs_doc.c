/* libFuzzer driver for the preferences document codec (lib/prefs): whatever the input,
 * prefs_doc_parse returns OK or one of its errors, leaves *out zeroed on error, and on success
 * every enum is within its range, every count within its bound, every list entry a
 * NUL-terminated non-empty string without controls, and has_* false means an empty list. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpm/prefs_doc.h"
#include "cpm/xml_safe.h"

static void check_entries(const char *base, size_t entry_size, size_t n, size_t max, bool has)
{
	if (n > max || (!has && n))
		abort();
	for (size_t i = 0; i < n; i++) {
		const char *s = base + i * entry_size;
		if (!memchr(s, '\0', entry_size) || !s[0])
			abort();
		for (; *s; s++)
			if ((unsigned char)*s <= 0x20 || *s == 0x7f)
				abort();
	}
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
	static struct prefs_doc pd;
	static const struct prefs_doc zero;

	int rc = prefs_doc_parse((const char *)data, size, &pd);
	if (rc != PREFS_OK) {
		if (rc < PREFS_E_MEMORY || rc > 0 || memcmp(&pd, &zero, sizeof pd) || !prefs_strerror(rc)[0])
			abort();
		return 0;
	}
	if (pd.defer > PREFS_ON || pd.histories > PREFS_ON || pd.screening > PREFS_ON ||
	    pd.delivery > PREFS_DELIVERY_PULL || pd.keep_files > PREFS_KEEP_BESIDES ||
	    pd.on_expiry > PREFS_EXPIRY_KEEP || (!pd.has_max_file_size && pd.max_file_size))
		abort();
	check_entries(&pd.blocked[0][0], sizeof pd.blocked[0], pd.nblocked, PREFS_MAX_BLOCKED, pd.has_blocked);
	check_entries(&pd.accept_types[0][0], sizeof pd.accept_types[0], pd.naccept, PREFS_MAX_TYPES,
		      pd.has_accept_types);
	check_entries(&pd.deny_types[0][0], sizeof pd.deny_types[0], pd.ndeny, PREFS_MAX_TYPES,
		      pd.has_deny_types);
	return 0;
}
