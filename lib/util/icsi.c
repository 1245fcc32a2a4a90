/* CPM ICSI in a header value (cpm/icsi.h). */
#include "cpm/icsi.h"

#include <string.h>
#include <strings.h>

/* A character that may continue a URN label (RFC 8141: letters, digits, '-', '.', and
 * '%' of an encoding): after it the name goes on, so it is another ICSI. */
static bool label_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
	       c == '.' || c == '_' || c == '%';
}

bool cpm_icsi_in(const char *text, size_t len, const char *name)
{
	static const char stem[] = "3gpp-service.ims.icsi.oma.cpm.";
	size_t sl = sizeof stem - 1, nl = strlen(name);

	if (!text || !nl)
		return false;
	for (size_t i = 0; i + sl + nl <= len; i++) {
		if (strncasecmp(text + i, stem, sl) || strncasecmp(text + i + sl, name, nl))
			continue;
		/* a whole label: what follows ends it, and what comes before is a URN's
		 * ':' or its encoding, not the middle of another word */
		if ((i + sl + nl == len || !label_char(text[i + sl + nl])) &&
		    (i == 0 || text[i - 1] == ':' || (i >= 3 && !strncasecmp(text + i - 3, "%3a", 3))))
			return true;
	}
	return false;
}
