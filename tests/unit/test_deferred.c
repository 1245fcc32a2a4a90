/* The deferred-item list (store-and-forward.md §4): round trips with
 * thumbnails and awkward names, the documented example, hostile lists
 * (bad ids, sizes, hashes, escapes, missing fields, every truncation), and
 * the terminal-safe display of names. */
#include "cpm/deferred.h"
#include "cpm/mime.h"
#include "unit.h"

#include <stdlib.h>

static struct deferred_item item(const char *id, const char *name)
{
	struct deferred_item it;

	memset(&it, 0, sizeof it);
	strcpy(it.id, id);
	strcpy(it.sender, "sip:alice@localhost");
	strcpy(it.time, "2026-11-25T12:00:00Z");
	strcpy(it.name, name);
	strcpy(it.type, "image/jpeg");
	it.size = 123456;
	strcpy(it.expires, "2026-11-26T12:00:00Z");
	return it;
}

static int same(const struct deferred_item *a, const struct deferred_item *b)
{
	return !strcmp(a->id, b->id) && !strcmp(a->sender, b->sender) && !strcmp(a->time, b->time) &&
	       !strcmp(a->name, b->name) && !strcmp(a->type, b->type) && a->size == b->size &&
	       a->has_hash == b->has_hash && (!a->has_hash || !memcmp(a->sha1, b->sha1, 20)) &&
	       !strcmp(a->expires, b->expires) && !strcmp(a->thumb_type, b->thumb_type) && a->kind == b->kind;
}

static int parse_all(const char *buf, size_t len, struct deferred_item *items, size_t max, size_t *n)
{
	struct deferred_parser p;
	int rc;

	/* the last slot is scratch: the call that returns 0 (end) clears it */
	*n = 0;
	deferred_parser_init(&p, buf, len);
	while ((rc = deferred_parse_next(&p, &items[*n < max ? *n : max - 1])) == 1)
		if (*n < max)
			(*n)++;
	return rc;
}

UNIT_TEST(test_deferred_round_trip)
{
	static const uint8_t thumb[] = {0x89, 'P', 'N', 'G', 0, 1, 2, 0xff, 0xfe};
	struct deferred_item in[4], back[5];
	static char buf[16384];
	uint8_t dec[64];
	size_t n;
	int len;

	in[0] = item("4f0c", "holiday photo.jpg");
	in[1] = item("A_b-9", "caf\xc3\xa9 100% \"x\"\t\x7f\x01:%41.txt");
	in[1].has_hash = true;
	for (int i = 0; i < 20; i++)
		in[1].sha1[i] = (uint8_t)(i * 13);
	in[1].time[0] = '\0';
	in[1].expires[0] = '\0';
	in[2] = item("0123456789abcdef0123456789ABCDEF", "\xff\xfe raw bytes");
	strcpy(in[2].thumb_type, "image/png");
	in[2].thumb = thumb;
	in[2].thumb_len = sizeof thumb;
	in[2].size = DEFERRED_MAX_SIZE;
	strcpy(in[2].type, "text/plain; charset=utf-8");
	in[3] = item("z", "x");
	in[3].size = 0;

	len = deferred_build(buf, sizeof buf, in, 4);
	CHECK(len > 0);
	CHECK(strncmp(buf, "CPMD-Deferred/1\r\n\r\nId: 4f0c\r\n", 29) == 0);
	CHECK(strstr(buf, "Name: holiday%20photo.jpg\r\n"));
	CHECK(strstr(buf, "Name: caf%C3%A9%20100%25%20\"x\"%09%7F%01:%2541.txt\r\n"));
	CHECK(strstr(buf, "Thumbnail-Type: image/png\r\nThumbnail: iVBORwABAv/+\r\n"));
	CHECK(strstr(buf, "Hash: sha-1:00:0D:1A:"));
	CHECK_EQ_INT(parse_all(buf, (size_t)len, back, 5, &n), 0);
	CHECK_EQ_INT(n, 4);
	for (size_t i = 0; i < 4; i++) {
		CHECK_STR(back[i].name, in[i].name);
		CHECK(same(&in[i], &back[i]));
	}
	CHECK(!back[0].thumb_b64.p && back[2].thumb_b64.p);
	CHECK_EQ_INT(mime_base64_decode(dec, sizeof dec, back[2].thumb_b64), sizeof thumb);
	CHECK(!memcmp(dec, thumb, sizeof thumb));

	/* an empty list, and every too-small buffer */
	CHECK_EQ_INT(deferred_build(buf, sizeof buf, NULL, 0), 17);
	CHECK_EQ_INT(parse_all(buf, 17, back, 5, &n), 0);
	CHECK_EQ_INT(n, 0);
	for (size_t cap = 0; cap <= (size_t)len; cap++) {
		char *b = malloc(cap ? cap : 1);
		CHECK(b);
		int r = deferred_build(cap ? b : NULL, cap, in, 4);
		free(b);
		CHECK_EQ_INT(r, -1);
	}
}

/* The example of store-and-forward.md §4, LF line ends, keys in other case,
 * an unknown key, extra blank lines and no final blank line. */
UNIT_TEST(test_deferred_doc_example)
{
	static const char doc[] =
		"CPMD-Deferred/1\n"
		"\n"
		"Id: 4f0c\n"
		"Sender: sip:alice@localhost\n"
		"Time: 2026-11-25T12:00:00Z\n"
		"Name: holiday%20photo.jpg\n"
		"type: image/jpeg\n"
		"SIZE: 123456\n"
		"Hash: sha-1:72:24:5f:E8:65:3D:DA:F3:71:36:2F:86:D4:71:91:3E:E4:A2:CE:2E\n"
		"Expires: 2026-11-26T12:00:00Z\n"
		"X-Future: anything at all\n"
		"\n\n\n"
		"Id: second\n"
		"Sender: sip:bob@localhost\n"
		"Name: b\n"
		"Type: a/b\n"
		"Size: 1\n";
	struct deferred_item it[3];
	size_t n;

	CHECK_EQ_INT(parse_all(doc, strlen(doc), it, 3, &n), 0); /* it[2]: scratch for the end */
	CHECK_EQ_INT(n, 2);
	CHECK_STR(it[0].name, "holiday photo.jpg");
	CHECK_EQ_INT(it[0].size, 123456);
	CHECK(it[0].has_hash);
	CHECK_EQ_INT(it[0].sha1[0], 0x72);
	CHECK_EQ_INT(it[0].sha1[3], 0xe8);
	CHECK_EQ_INT(it[0].sha1[19], 0x2e);
	CHECK_STR(it[0].expires, "2026-11-26T12:00:00Z");
	CHECK_STR(it[1].id, "second");
	CHECK(!it[1].has_hash);
	CHECK_STR(it[1].time, "");
}

/* One item with `line` replaced or added; returns the parser's result. */
static int parse_with(const char *key, const char *line)
{
	static const char *const base[] = {
		"Id: abc", "Sender: sip:a@b", "Name: n", "Type: t/t", "Size: 10", NULL,
	};
	static char buf[200000];
	struct deferred_parser p;
	struct deferred_item it;
	size_t o = (size_t)snprintf(buf, sizeof buf, "CPMD-Deferred/1\n\n");
	bool replaced = false;

	for (size_t i = 0; base[i]; i++) {
		const char *l = base[i];
		if (key && !strncmp(l, key, strlen(key))) {
			l = line;
			replaced = true;
		}
		if (l)
			o += (size_t)snprintf(buf + o, sizeof buf - o, "%s\n", l);
	}
	if (!replaced && line)
		o += (size_t)snprintf(buf + o, sizeof buf - o, "%s\n", line);
	deferred_parser_init(&p, buf, o);
	int rc = deferred_parse_next(&p, &it);
	if (rc == 1 && deferred_parse_next(&p, &it) != 0)
		return 99;
	return rc;
}

UNIT_TEST(test_deferred_hostile)
{
	char big[DEFERRED_MAX_THUMB_B64 + 64];
	struct deferred_parser p;
	struct deferred_item it;

	CHECK_EQ_INT(parse_with(NULL, NULL), 1);
	CHECK_EQ_INT(parse_with("Id", "Id: a/b"), DEFERRED_E_ID);
	CHECK_EQ_INT(parse_with("Id", "Id: a b"), DEFERRED_E_ID);
	CHECK_EQ_INT(parse_with("Id", "Id:"), DEFERRED_E_ID);
	CHECK_EQ_INT(parse_with("Id", "Id: 0123456789abcdef0123456789abcdefX"), DEFERRED_E_ID);
	CHECK_EQ_INT(parse_with("Id", "Id: \xc3\xa9"), DEFERRED_E_ID);
	CHECK_EQ_INT(parse_with("Size", "Size: 99999999999999999999999"), DEFERRED_E_SIZE);
	CHECK_EQ_INT(parse_with("Size", "Size: 4611686018427387905"), DEFERRED_E_SIZE); /* 2^62 + 1 */
	CHECK_EQ_INT(parse_with("Size", "Size: 4611686018427387904"), 1);
	CHECK_EQ_INT(parse_with("Size", "Size: -1"), DEFERRED_E_SIZE);
	CHECK_EQ_INT(parse_with("Size", "Size: 1e3"), DEFERRED_E_SIZE);
	CHECK_EQ_INT(parse_with("Size", "Size: 0x10"), DEFERRED_E_SIZE);
	CHECK_EQ_INT(parse_with(NULL, "Hash: sha-1:72:24"), DEFERRED_E_HASH);
	CHECK_EQ_INT(parse_with(NULL, "Hash: md5:72:24:5F:E8:65:3D:DA:F3:71:36:2F:86:D4:71:91:3E:E4:A2:CE:2E"),
		     DEFERRED_E_HASH);
	CHECK_EQ_INT(parse_with(NULL, "Hash: sha-1:72:24:5F:E8:65:3D:DA:F3:71:36:2F:86:D4:71:91:3E:E4:A2:CE:2G"),
		     DEFERRED_E_HASH);
	CHECK_EQ_INT(parse_with(NULL, "Hash: sha-1:72-24:5F:E8:65:3D:DA:F3:71:36:2F:86:D4:71:91:3E:E4:A2:CE:2E"),
		     DEFERRED_E_HASH);
	CHECK_EQ_INT(parse_with(NULL, "Hash: sha-1:72:24:5F:E8:65:3D:DA:F3:71:36:2F:86:D4:71:91:3E:E4:A2:CE:2E:"),
		     DEFERRED_E_HASH);
	CHECK_EQ_INT(parse_with("Name", "Name: a%2"), DEFERRED_E_NAME);
	CHECK_EQ_INT(parse_with("Name", "Name: a%zz"), DEFERRED_E_NAME);
	CHECK_EQ_INT(parse_with("Name", "Name: a%00b"), DEFERRED_E_NAME);
	CHECK_EQ_INT(parse_with("Name", "Name: "), DEFERRED_E_NAME);
	CHECK_EQ_INT(parse_with("Name", "Name: a\x1b[31m"), DEFERRED_E_SYNTAX);
	CHECK_EQ_INT(parse_with("Sender", "Sender: sip:a b@c"), DEFERRED_E_VALUE);
	CHECK_EQ_INT(parse_with(NULL, "Time: 2026 11"), DEFERRED_E_VALUE);
	CHECK_EQ_INT(parse_with(NULL, "Thumbnail: AAAA"), DEFERRED_E_THUMB);
	CHECK_EQ_INT(parse_with(NULL, "Thumbnail-Type: image/png"), DEFERRED_E_THUMB);
	for (const char *k = "Id\0Sender\0Name\0Type\0Size\0"; *k; k += strlen(k) + 1)
		CHECK_EQ_INT(parse_with(k, NULL), DEFERRED_E_MISSING);
	CHECK_EQ_INT(parse_with(NULL, "id: again"), DEFERRED_E_DUPLICATE);
	CHECK_EQ_INT(parse_with(NULL, "no colon"), DEFERRED_E_SYNTAX);
	CHECK_EQ_INT(parse_with(NULL, ": empty key"), DEFERRED_E_SYNTAX);

	/* name: SDP_MAX_FILENAME decoded bytes fit, one more does not */
	memcpy(big, "Name: ", 6);
	for (size_t i = 0; i < SDP_MAX_FILENAME; i++)
		memcpy(big + 6 + i * 3, "%41", 3);
	big[6 + SDP_MAX_FILENAME * 3] = '\0';
	CHECK_EQ_INT(parse_with("Name", big), 1);
	memcpy(big + 6 + SDP_MAX_FILENAME * 3, "B", 2);
	CHECK_EQ_INT(parse_with("Name", big), DEFERRED_E_NAME);
	/* a long unknown line, a long thumbnail */
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	memcpy(big, "X-Long:", 7);
	CHECK_EQ_INT(parse_with(NULL, big), DEFERRED_E_LINE);
	{
		static const char pre[] = "Thumbnail-Type: image/png\nThumbnail: ";
		const size_t pl = sizeof pre - 1;
		memcpy(big, pre, pl);
		big[pl + DEFERRED_MAX_THUMB_B64] = '\0';
		CHECK_EQ_INT(parse_with(NULL, big), 1);
		big[pl + DEFERRED_MAX_THUMB_B64] = 'a';
		big[pl + DEFERRED_MAX_THUMB_B64 + 1] = '\0';
		CHECK_EQ_INT(parse_with(NULL, big), DEFERRED_E_THUMB);
		big[pl + 10] = '*';
		big[pl + 11] = '\0';
		CHECK_EQ_INT(parse_with(NULL, big), DEFERRED_E_THUMB);
	}
	/* too many lines in one item */
	{
		static char buf[4096];
		size_t o = (size_t)snprintf(buf, sizeof buf, "CPMD-Deferred/1\n\nId: a\nSender: s\nName: n\nType: t\nSize: 1\n");
		for (int i = 0; i < DEFERRED_MAX_FIELDS; i++)
			o += (size_t)snprintf(buf + o, sizeof buf - o, "X-%d: y\n", i);
		deferred_parser_init(&p, buf, o);
		CHECK_EQ_INT(deferred_parse_next(&p, &it), DEFERRED_E_FIELDS);
		CHECK_EQ_INT(deferred_parse_next(&p, &it), DEFERRED_E_FIELDS); /* sticky */
	}
	/* first line */
	deferred_parser_init(&p, "CPMD-Deferred/2\n", 16);
	CHECK_EQ_INT(deferred_parse_next(&p, &it), DEFERRED_E_MAGIC);
	deferred_parser_init(&p, "", 0);
	CHECK_EQ_INT(deferred_parse_next(&p, &it), DEFERRED_E_MAGIC);
	deferred_parser_init(&p, NULL, 5);
	CHECK_EQ_INT(deferred_parse_next(&p, &it), DEFERRED_E_MAGIC);
	deferred_parser_init(&p, "CPMD-Deferred/1", 15);
	CHECK_EQ_INT(deferred_parse_next(&p, &it), DEFERRED_E_TRUNCATED);
}

UNIT_TEST(test_deferred_build_rejects)
{
	static const uint8_t t[4] = {1, 2, 3, 4};
	struct deferred_item it;
	char buf[8192];

	it = item("a b", "n");
	CHECK_EQ_INT(deferred_build(buf, sizeof buf, &it, 1), -1);
	it = item("", "n");
	CHECK_EQ_INT(deferred_build(buf, sizeof buf, &it, 1), -1);
	it = item("a", "");
	CHECK_EQ_INT(deferred_build(buf, sizeof buf, &it, 1), -1);
	it = item("a", "n");
	strcpy(it.sender, "sip:a\r\nId: evil");
	CHECK_EQ_INT(deferred_build(buf, sizeof buf, &it, 1), -1);
	it = item("a", "n");
	strcpy(it.type, "image/png\nX: y");
	CHECK_EQ_INT(deferred_build(buf, sizeof buf, &it, 1), -1);
	it = item("a", "n");
	it.size = DEFERRED_MAX_SIZE + 1;
	CHECK_EQ_INT(deferred_build(buf, sizeof buf, &it, 1), -1);
	it = item("a", "n");
	it.thumb = t;
	it.thumb_len = sizeof t;             /* no thumbnail type */
	CHECK_EQ_INT(deferred_build(buf, sizeof buf, &it, 1), -1);
	it = item("a", "n");
	strcpy(it.thumb_type, "image/png");  /* type without thumbnail */
	CHECK_EQ_INT(deferred_build(buf, sizeof buf, &it, 1), -1);
	it = item("a", "n");
	memset(it.name, 'x', sizeof it.name); /* not NUL-terminated */
	CHECK_EQ_INT(deferred_build(buf, sizeof buf, &it, 1), -1);
}

/* Every prefix of a built list: no crash, no overread; items returned
 * before the error are whole items of the original (a cut never yields a
 * shortened value). */
UNIT_TEST(test_deferred_every_cut)
{
	static const uint8_t thumb[40] = {1, 2, 3};
	struct deferred_item in[3], out;
	static char full[8192];
	int len;

	in[0] = item("one", "first file.bin");
	in[1] = item("two", "second\xe2\x82\xac");
	in[1].has_hash = true;
	strcpy(in[1].thumb_type, "image/png");
	in[1].thumb = thumb;
	in[1].thumb_len = sizeof thumb;
	in[2] = item("three", "third");
	len = deferred_build(full, sizeof full, in, 3);
	CHECK(len > 0);
	for (size_t cut = 0; cut <= (size_t)len; cut++) {
		char *b = malloc(cut ? cut : 1);
		struct deferred_parser p;
		size_t n = 0;
		int rc;

		CHECK(b);
		memcpy(b, full, cut);
		deferred_parser_init(&p, b, cut);
		while ((rc = deferred_parse_next(&p, &out)) == 1) {
			if (n >= 3 || !same(&in[n], &out)) {
				/* a cut right after a whole line can end an item early
				 * (optional lines missing): only the last item, and never
				 * a changed value of a line that is there */
				CHECK(n < 3 && !strcmp(in[n].id, out.id) && !strcmp(in[n].name, out.name) &&
				      in[n].size == out.size);
			}
			n++;
		}
		free(b);
		if (cut == (size_t)len)
			CHECK(rc == 0 && n == 3);
	}
}

UNIT_TEST(test_deferred_safe_display)
{
	char out[64];

	deferred_safe_display(out, sizeof out, "holiday photo.jpg");
	CHECK_STR(out, "holiday%20photo.jpg");
	deferred_safe_display(out, sizeof out, "a\x1b[31mred\r\n%\x7f");
	CHECK_STR(out, "a%1B[31mred%0D%0A%25%7F");
	deferred_safe_display(out, sizeof out, "caf\xc3\xa9 \xe2\x82\xac");
	CHECK_STR(out, "caf\xc3\xa9%20\xe2\x82\xac");
	/* invalid UTF-8, a C1 control (U+009B CSI), a bidi override (U+202E) */
	deferred_safe_display(out, sizeof out, "\xff\xc2\x9b\xe2\x80\xae" "x\xc3");
	CHECK_STR(out, "%FF%C2%9B%E2%80%AEx%C3");
	/* cut to fit, at a whole escape */
	deferred_safe_display(out, 5, "ab cd");
	CHECK_STR(out, "ab");
	deferred_safe_display(out, 1, "abc");
	CHECK_STR(out, "");
	deferred_safe_display(out, sizeof out, NULL);
	CHECK_STR(out, "");
}

/* A stored message is listed as one (issue 8): Kind: message, Name: message, Type:
 * message/cpim; a file says no Kind, and an old list without one parses as files. */
UNIT_TEST(test_deferred_message_kind)
{
	struct deferred_item in[2], back[3];
	static char buf[4096];
	size_t n;

	in[0] = item("m1", "message");
	in[0].kind = DEFERRED_KIND_MESSAGE;
	strcpy(in[0].type, "message/cpim");
	in[0].size = 321;
	in[1] = item("f1", "a.jpg");
	int len = deferred_build(buf, sizeof buf, in, 2);
	CHECK(len > 0);
	CHECK(strstr(buf, "Id: m1\r\nKind: message\r\nSender: sip:alice@localhost\r\n"));
	CHECK(strstr(buf, "Id: f1\r\nSender:"));
	CHECK_EQ_INT(parse_all(buf, (size_t)len, back, 3, &n), 0);
	CHECK_EQ_INT(n, 2);
	CHECK(same(&in[0], &back[0]) && same(&in[1], &back[1]));
	CHECK_EQ_INT(back[0].kind, DEFERRED_KIND_MESSAGE);
	CHECK_EQ_INT(back[1].kind, DEFERRED_KIND_FILE);

	static const char explicit_file[] = "CPMD-Deferred/1\n\nId: x\nkind: FILE\nSender: s\nName: n\nType: t\nSize: 1\n";
	CHECK_EQ_INT(parse_all(explicit_file, sizeof explicit_file - 1, back, 3, &n), 0);
	CHECK_EQ_INT(back[0].kind, DEFERRED_KIND_FILE);
	static const char bad[] = "CPMD-Deferred/1\n\nId: x\nKind: chat\nSender: s\nName: n\nType: t\nSize: 1\n";
	CHECK_EQ_INT(parse_all(bad, sizeof bad - 1, back, 3, &n), DEFERRED_E_KIND);
	static const char twice[] = "CPMD-Deferred/1\n\nId: x\nKind: message\nKind: message\nSender: s\nName: n\nType: t\nSize: 1\n";
	CHECK_EQ_INT(parse_all(twice, sizeof twice - 1, back, 3, &n), DEFERRED_E_DUPLICATE);
	in[0].kind = (enum deferred_kind)5;
	CHECK_EQ_INT(deferred_build(buf, sizeof buf, in, 1), -1);
}

UNIT_MAIN(T(test_deferred_round_trip), T(test_deferred_doc_example), T(test_deferred_hostile),
	  T(test_deferred_build_rejects), T(test_deferred_every_cut), T(test_deferred_safe_display),
	  T(test_deferred_message_kind))
