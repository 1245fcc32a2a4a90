/* libFuzzer driver for the deferred-item list (lib/deferred). Parses every
 * item the input holds; the items that parsed must build into a list that
 * parses back to the same items (thumbnails through base64 too). Every name
 * also goes through deferred_safe_display, whose output must hold no byte
 * a terminal acts on. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpm/deferred.h"
#include "cpm/mime.h"

#define MAX_ITEMS 16

static struct deferred_item items[MAX_ITEMS], again;
static uint8_t thumbs[MAX_ITEMS][DEFERRED_MAX_THUMB];
static char out[MAX_ITEMS * (DEFERRED_MAX_THUMB_B64 + 8 * DEFERRED_MAX_LINE)];

static bool same(const struct deferred_item *a, const struct deferred_item *b)
{
	return !strcmp(a->id, b->id) && !strcmp(a->sender, b->sender) && !strcmp(a->time, b->time) &&
	       !strcmp(a->name, b->name) && !strcmp(a->type, b->type) && a->size == b->size &&
	       a->has_hash == b->has_hash && (!a->has_hash || !memcmp(a->sha1, b->sha1, 20)) &&
	       !strcmp(a->expires, b->expires) && !strcmp(a->thumb_type, b->thumb_type);
}

static void display(const char *name)
{
	char buf[3 * SDP_MAX_FILENAME + 1];

	deferred_safe_display(buf, sizeof buf, name);
	for (const unsigned char *s = (const unsigned char *)buf; *s; s++)
		if (*s <= 0x20 || *s == 0x7f)
			abort();
	deferred_safe_display(buf, 7, name);
	if (strlen(buf) > 6)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct deferred_parser p;
	size_t n = 0;
	int rc, len;

	deferred_parser_init(&p, (const char *)data, size);
	while (n < MAX_ITEMS && (rc = deferred_parse_next(&p, &items[n])) == 1) {
		struct deferred_item *it = &items[n];

		if (it->thumb_b64.p) {
			int t = mime_base64_decode(thumbs[n], sizeof thumbs[n], it->thumb_b64);
			if ((const uint8_t *)it->thumb_b64.p < data ||
			    (const uint8_t *)it->thumb_b64.p + it->thumb_b64.len > data + size)
				abort();
			if (t <= 0)
				continue; /* not decodable base64 (the parser only checks the alphabet) */
			it->thumb = thumbs[n];
			it->thumb_len = (size_t)t;
		}
		display(it->name);
		n++;
	}
	if (n == 0)
		return 0;
	len = deferred_build(out, sizeof out, items, n);
	if (len < 0)
		abort();
	deferred_parser_init(&p, out, (size_t)len);
	for (size_t i = 0; i < n; i++) {
		uint8_t dec[DEFERRED_MAX_THUMB];

		if (deferred_parse_next(&p, &again) != 1 || !same(&items[i], &again))
			abort();
		if (items[i].thumb_len &&
		    (mime_base64_decode(dec, sizeof dec, again.thumb_b64) != (int)items[i].thumb_len ||
		     memcmp(dec, items[i].thumb, items[i].thumb_len)))
			abort();
	}
	if (deferred_parse_next(&p, &again) != 0)
		abort();
	return 0;
}
