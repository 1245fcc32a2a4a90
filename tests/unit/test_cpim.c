/* CPIM (RFC 3862) and IMDN (RFC 5438): the standards.md §3.3 example, round
 * trips of every kind/status, namespace prefixes, liberal line ends, hostile
 * wrappers and hostile XML (entity bombs, external entities, oversize
 * values), and every byte-cut of a built notification. */
#include "cpm/cpim.h"
#include "cpm/imdn.h"
#include "unit.h"

#include <stdlib.h>
#include <time.h>

/* standards.md §3.3, verbatim (LF line ends as printed there). */
static const char rfc_example[] =
	"From: <sip:+15551234@ims.example.net>\n"
	"To: <sip:+15550001@ims.example.net>\n"
	"NS: imdn <urn:ietf:params:imdn>\n"
	"imdn.Message-ID: d834jied93rf\n"
	"DateTime: 2008-04-04T12:16:49-05:00\n"
	"\n"
	"Content-Type: message/imdn+xml\n"
	"Content-Disposition: notification\n"
	"Content-Length: 301\n"
	"\n"
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<imdn xmlns=\"urn:ietf:params:xml:ns:imdn\">\n"
	" <message-id>34jk324j</message-id>\n"
	" <datetime>2008-04-04T12:16:49-05:00</datetime>\n"
	" <recipient-uri>sip:+15551234@ims.example.net</recipient-uri>\n"
	" <original-recipient-uri>sip:+15551234@ims.example.net</original-recipient-uri>\n"
	" <delivery-notification><status><delivered/></status></delivery-notification>\n"
	"</imdn>\n";

static int str_is(struct cpm_str s, const char *lit)
{
	return s.p && cpm_str_eq(s, lit);
}

static size_t to_crlf(const char *in, char *out, size_t cap)
{
	size_t n = 0;

	for (; *in && n + 2 < cap; in++) {
		if (*in == '\n')
			out[n++] = '\r';
		out[n++] = *in;
	}
	out[n] = '\0';
	return n;
}

static void check_example(const char *buf, size_t len)
{
	struct cpim_msg m;
	struct imdn_note n;

	CHECK_EQ_INT(cpim_parse(buf, len, &m), CPIM_OK);
	CHECK(str_is(m.from, "<sip:+15551234@ims.example.net>"));
	CHECK(str_is(cpim_addr_uri(m.from), "sip:+15551234@ims.example.net"));
	CHECK(str_is(cpim_addr_uri(m.to), "sip:+15550001@ims.example.net"));
	CHECK(str_is(m.datetime, "2008-04-04T12:16:49-05:00"));
	CHECK(str_is(m.imdn_message_id, "d834jied93rf"));
	CHECK(!m.imdn_disposition_notification.p);
	CHECK(str_is(m.content_type, "message/imdn+xml"));
	CHECK(str_is(m.content_disposition, "notification"));
	CHECK(str_is(m.content_length, "301"));
	CHECK_EQ_INT(m.n_cpim_headers, 5);
	CHECK_EQ_INT(m.n_content_headers, 3);
	CHECK(m.body.len > 5 && memcmp(m.body.p, "<?xml", 5) == 0);
	CHECK(m.body.p + m.body.len == buf + len);

	CHECK_EQ_INT(imdn_parse_cpim(buf, len, &n), IMDN_OK);
	CHECK_STR(n.message_id, "34jk324j");
	CHECK_STR(n.datetime, "2008-04-04T12:16:49-05:00");
	CHECK_STR(n.recipient, "sip:+15551234@ims.example.net");
	CHECK_STR(n.original_recipient, "sip:+15551234@ims.example.net");
	CHECK_EQ_INT(n.kind, IMDN_KIND_DELIVERY);
	CHECK_EQ_INT(n.status, IMDN_STATUS_DELIVERED);
}

UNIT_TEST(test_cpim_rfc5438_example_lf)
{
	check_example(rfc_example, strlen(rfc_example));
}

UNIT_TEST(test_cpim_rfc5438_example_crlf)
{
	char buf[2048];
	size_t n = to_crlf(rfc_example, buf, sizeof buf);

	check_example(buf, n);
}

/* Any prefix bound to the IMDN URN; names case-insensitive; a prefix that is
 * undeclared or bound elsewhere is not IMDN. */
UNIT_TEST(test_cpim_ns_prefix)
{
	static const char a[] =
		"from: <sip:a@x>\r\nNS: MyImdn <urn:ietf:params:imdn>\r\n"
		"myimdn.message-id: abc\r\nMYIMDN.Disposition-Notification: positive-delivery, display\r\n"
		"\r\ncontent-type: text/plain\r\n\r\nhello";
	static const char b[] =
		"From: <sip:a@x>\r\nimdn.Message-ID: early\r\nNS: imdn <urn:other>\r\n"
		"imdn.Message-ID: other\r\nNS: x <urn:ietf:params:imdn>\r\n"
		"\r\n\r\nbody";
	struct cpim_msg m;

	CHECK_EQ_INT(cpim_parse(a, strlen(a), &m), CPIM_OK);
	CHECK(str_is(m.imdn_message_id, "abc"));
	CHECK(str_is(m.imdn_disposition_notification, "positive-delivery, display"));
	CHECK(str_is(m.content_type, "text/plain"));
	CHECK(str_is(m.body, "hello"));
	CHECK_EQ_INT(cpim_parse(b, strlen(b), &m), CPIM_OK);
	CHECK(!m.imdn_message_id.p);
	CHECK_EQ_INT(m.n_content_headers, 0);
	CHECK(str_is(m.body, "body"));
}

UNIT_TEST(test_cpim_hostile)
{
	char buf[8192];
	struct cpim_msg m;
	size_t n = 0;

	CHECK_EQ_INT(cpim_parse("", 0, &m), CPIM_E_TRUNCATED);
	CHECK_EQ_INT(cpim_parse(NULL, 0, &m), CPIM_E_TRUNCATED);
	CHECK_EQ_INT(cpim_parse("From: <a>\n", 10, &m), CPIM_E_TRUNCATED);
	CHECK_EQ_INT(cpim_parse("From: <a>\n\nX: y", 15, &m), CPIM_E_TRUNCATED);
	CHECK_EQ_INT(cpim_parse("From <a>\n\n\n", 11, &m), CPIM_E_SYNTAX);
	CHECK_EQ_INT(cpim_parse("From: <a>\n more\n\n\n", 18, &m), CPIM_E_SYNTAX);
	CHECK_EQ_INT(cpim_parse("From: <\x01>\n\n\n", 12, &m), CPIM_E_SYNTAX);
	CHECK_EQ_INT(cpim_parse("From: <a\0>\n\n\n", 13, &m), CPIM_E_SYNTAX);
	CHECK_EQ_INT(cpim_parse("From: <a>\nFrom: <b>\n\n\n", 22, &m), CPIM_E_DUPLICATE);
	CHECK(str_is(m.error_header, "From")); /* an answer can name the header */
	CHECK(!m.from.p);
	static const char twoid[] = "NS: imdn <urn:ietf:params:imdn>\nimdn.Message-ID: a\nIMDN.message-id: b\n\n\n";
	CHECK_EQ_INT(cpim_parse(twoid, sizeof twoid - 1, &m), CPIM_E_DUPLICATE);
	CHECK(str_is(m.error_header, "IMDN.message-id"));
	CHECK_EQ_INT(cpim_parse("To: <a>\nTo: <b>\nto: <c>\n\n\n", 26, &m), CPIM_OK);
	CHECK_EQ_INT(m.n_to, 3); /* several To are CPIM; the first is kept, the count told */
	CHECK(str_is(m.to, "<a>"));
	CHECK_EQ_INT(cpim_parse("From <a>\n\n\n", 11, &m), CPIM_E_SYNTAX);
	CHECK(!m.error_header.p); /* not about one named header */
	CHECK_EQ_INT(cpim_parse("NS: x urn\n\n\n", 12, &m), CPIM_E_NS);
	CHECK_EQ_INT(cpim_parse("\nContent-Length: 5\n\nabc", 23, &m), CPIM_E_LENGTH);
	CHECK(str_is(m.error_header, "Content-Length"));
	CHECK_EQ_INT(cpim_parse("\nContent-Length: -1\n\nabc", 24, &m), CPIM_E_LENGTH);
	CHECK_EQ_INT(cpim_parse("\nContent-Length: 3\n\nabc", 23, &m), CPIM_OK);
	CHECK(str_is(m.body, "abc"));

	for (int i = 0; i <= CPIM_MAX_HEADERS; i++)
		n += (size_t)snprintf(buf + n, sizeof buf - n, "X-%d: y\n", i);
	n += (size_t)snprintf(buf + n, sizeof buf - n, "\n\n");
	CHECK_EQ_INT(cpim_parse(buf, n, &m), CPIM_E_TOO_MANY_HEADERS);

	memset(buf, 'a', sizeof buf);
	memcpy(buf, "X: ", 3);
	CHECK_EQ_INT(cpim_parse(buf, sizeof buf, &m), CPIM_E_LINE_TOO_LONG);
	buf[CPIM_MAX_LINE] = '\n';
	buf[CPIM_MAX_LINE + 1] = '\n';
	buf[CPIM_MAX_LINE + 2] = '\n';
	CHECK_EQ_INT(cpim_parse(buf, CPIM_MAX_LINE + 3, &m), CPIM_OK);
	buf[CPIM_MAX_LINE + 1] = 'a';
	buf[CPIM_MAX_LINE] = 'a';
	buf[CPIM_MAX_LINE + 1] = '\n';
	CHECK_EQ_INT(cpim_parse(buf, CPIM_MAX_LINE + 3, &m), CPIM_E_LINE_TOO_LONG);
}

static struct imdn_note sample_note(void)
{
	struct imdn_note n;

	memset(&n, 0, sizeof n);
	strcpy(n.message_id, "34jk324j");
	strcpy(n.datetime, "2008-04-04T12:16:49-05:00");
	strcpy(n.recipient, "sip:+15551234@ims.example.net");
	strcpy(n.original_recipient, "sip:+15551234@ims.example.net");
	n.kind = IMDN_KIND_DELIVERY;
	n.status = IMDN_STATUS_DELIVERED;
	return n;
}

/* Exactly standards.md §3.3, CRLF line ends, with the real Content-Length. */
UNIT_TEST(test_imdn_build_exact)
{
	static const char xml[] =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n"
		"<imdn xmlns=\"urn:ietf:params:xml:ns:imdn\">\r\n"
		" <message-id>34jk324j</message-id>\r\n"
		" <datetime>2008-04-04T12:16:49-05:00</datetime>\r\n"
		" <recipient-uri>sip:+15551234@ims.example.net</recipient-uri>\r\n"
		" <original-recipient-uri>sip:+15551234@ims.example.net</original-recipient-uri>\r\n"
		" <delivery-notification><status><delivered/></status></delivery-notification>\r\n"
		"</imdn>\r\n";
	char want[2048], out[2048];
	struct imdn_note n = sample_note();
	int len;

	snprintf(want, sizeof want,
		 "From: <sip:+15551234@ims.example.net>\r\n"
		 "To: <sip:+15550001@ims.example.net>\r\n"
		 "NS: imdn <urn:ietf:params:imdn>\r\n"
		 "imdn.Message-ID: d834jied93rf\r\n"
		 "DateTime: 2008-04-04T12:16:49-05:00\r\n"
		 "\r\n"
		 "Content-Type: message/imdn+xml\r\n"
		 "Content-Disposition: notification\r\n"
		 "Content-Length: %zu\r\n"
		 "\r\n%s", strlen(xml), xml);
	len = imdn_build_cpim(out, sizeof out, "sip:+15551234@ims.example.net",
			      "sip:+15550001@ims.example.net", "d834jied93rf",
			      "2008-04-04T12:16:49-05:00", &n);
	CHECK_EQ_INT(len, strlen(want));
	CHECK_STR(out, want);

	/* every smaller buffer is refused, never overrun */
	for (size_t cap = 0; cap <= (size_t)len; cap++) {
		char *b = malloc(cap ? cap : 1);
		CHECK(b);
		int r = imdn_build_cpim(cap ? b : NULL, cap, "sip:+15551234@ims.example.net",
					"sip:+15550001@ims.example.net", "d834jied93rf",
					"2008-04-04T12:16:49-05:00", &n);
		free(b);
		CHECK_EQ_INT(r, -1);
	}
}

UNIT_TEST(test_imdn_round_trip)
{
	static const struct { enum imdn_kind k; enum imdn_status s; } combos[] = {
		{IMDN_KIND_DELIVERY, IMDN_STATUS_DELIVERED}, {IMDN_KIND_DELIVERY, IMDN_STATUS_FAILED},
		{IMDN_KIND_DELIVERY, IMDN_STATUS_FORBIDDEN}, {IMDN_KIND_DELIVERY, IMDN_STATUS_ERROR},
		{IMDN_KIND_DISPLAY, IMDN_STATUS_DISPLAYED}, {IMDN_KIND_DISPLAY, IMDN_STATUS_FORBIDDEN},
		{IMDN_KIND_DISPLAY, IMDN_STATUS_ERROR}, {IMDN_KIND_PROCESSING, IMDN_STATUS_PROCESSED},
		{IMDN_KIND_PROCESSING, IMDN_STATUS_STORED}, {IMDN_KIND_PROCESSING, IMDN_STATUS_ERROR},
	};
	char out[4096];

	for (size_t i = 0; i < sizeof combos / sizeof combos[0]; i++) {
		struct imdn_note n = sample_note(), back;
		struct cpim_msg m;
		int len;

		/* markup characters and UTF-8 in every field */
		strcpy(n.message_id, "a&b<c>d\"e'f\xc3\xa9");
		strcpy(n.recipient, "sip:x@y?a=<1>&b='2'");
		n.original_recipient[0] = i % 2 ? '\0' : 's';
		n.kind = combos[i].k;
		n.status = combos[i].s;
		len = imdn_build_cpim(out, sizeof out, "sip:bob@x", "sip:alice@x", "w1", "2026-01-01T00:00:00Z", &n);
		CHECK(len > 0);
		CHECK(strstr(out, "a&amp;b&lt;c&gt;d&quot;e&apos;f"));
		CHECK_EQ_INT(cpim_parse(out, (size_t)len, &m), CPIM_OK);
		CHECK(str_is(m.imdn_message_id, "w1"));
		CHECK(str_is(m.from, "<sip:bob@x>"));
		CHECK_EQ_INT(imdn_parse_cpim(out, (size_t)len, &back), IMDN_OK);
		CHECK_STR(back.message_id, n.message_id);
		CHECK_STR(back.datetime, n.datetime);
		CHECK_STR(back.recipient, n.recipient);
		CHECK_STR(back.original_recipient, n.original_recipient);
		CHECK_EQ_INT(back.kind, n.kind);
		CHECK_EQ_INT(back.status, n.status);
	}
}

UNIT_TEST(test_imdn_build_rejects)
{
	struct imdn_note n = sample_note();
	char out[4096];

	CHECK(imdn_build_cpim(out, sizeof out, "a", "b", "w", "t", &n) > 0);
	CHECK_EQ_INT(imdn_build_cpim(out, sizeof out, "a>", "b", "w", "t", &n), -1);
	CHECK_EQ_INT(imdn_build_cpim(out, sizeof out, "a", "b\r\nX: y", "w", "t", &n), -1);
	CHECK_EQ_INT(imdn_build_cpim(out, sizeof out, "a", "b", "w 1", "t", &n), -1);
	CHECK_EQ_INT(imdn_build_cpim(out, sizeof out, "a", "b", "", "t", &n), -1);
	CHECK_EQ_INT(imdn_build_cpim(out, sizeof out, "a", "b", "w", "t", NULL), -1);
	n.message_id[3] = '\n';
	CHECK_EQ_INT(imdn_build_cpim(out, sizeof out, "a", "b", "w", "t", &n), -1);
	n = sample_note();
	strcpy(n.recipient, "sip:\xff@x");      /* not UTF-8 */
	CHECK_EQ_INT(imdn_build_cpim(out, sizeof out, "a", "b", "w", "t", &n), -1);
	n = sample_note();
	memset(n.message_id, 'x', sizeof n.message_id); /* not NUL-terminated */
	CHECK_EQ_INT(imdn_build_cpim(out, sizeof out, "a", "b", "w", "t", &n), -1);
	n = sample_note();
	n.message_id[0] = '\0';
	CHECK_EQ_INT(imdn_build_cpim(out, sizeof out, "a", "b", "w", "t", &n), -1);
	n = sample_note();
	n.status = IMDN_STATUS_DISPLAYED;  /* not a delivery status */
	CHECK_EQ_INT(imdn_build_cpim(out, sizeof out, "a", "b", "w", "t", &n), -1);
	n.kind = 0;
	CHECK_EQ_INT(imdn_build_cpim(out, sizeof out, "a", "b", "w", "t", &n), -1);
}

/* Every prefix of a notification: no crash, no overread, always an error. */
UNIT_TEST(test_imdn_every_cut)
{
	struct imdn_note n = sample_note(), back;
	char out[4096];
	int len = imdn_build_cpim(out, sizeof out, "sip:a@x", "sip:b@x", "w", "t", &n);

	CHECK(len > 0);
	for (size_t cut = 0; cut <= (size_t)len; cut++) {
		char *b = malloc(cut ? cut : 1); /* exact size: ASan sees any overread */
		int rc;
		CHECK(b);
		memcpy(b, out, cut);
		rc = imdn_parse_cpim(b, cut, &back);
		free(b);
		/* Content-Length catches even a cut in the final CRLF */
		if (cut < (size_t)len)
			CHECK(rc < 0);
		else
			CHECK_EQ_INT(rc, IMDN_OK);
		if (rc < 0)
			CHECK(back.message_id[0] == '\0' && back.kind == 0);
	}
}

static int parse_xml(const char *xml, struct imdn_note *n)
{
	char buf[IMDN_MAX_BYTES + 1024];
	int len = snprintf(buf, sizeof buf,
			   "From: <sip:a@x>\r\nTo: <sip:b@x>\r\n\r\nContent-Type: message/imdn+xml\r\n\r\n%s", xml);

	return imdn_parse_cpim(buf, (size_t)len, n);
}

#define IMDN_OPEN "<imdn xmlns=\"urn:ietf:params:xml:ns:imdn\">"
#define IMDN_HEAD IMDN_OPEN "<message-id>m1</message-id><datetime>d</datetime>"
/* parse_xml() into n, checked (a macro keeps the failure line). */
#define XML_IS(xml, want) do { int rc_ = parse_xml((xml), &n); CHECK_EQ_INT(rc_, (want)); } while (0)
#define DELIVERED "<delivery-notification><status><delivered/></status></delivery-notification>"

UNIT_TEST(test_imdn_billion_laughs)
{
	static const char bomb[] =
		"<?xml version=\"1.0\"?>\n"
		"<!DOCTYPE imdn [\n"
		" <!ENTITY a \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\">\n"
		" <!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">\n"
		" <!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">\n"
		" <!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">\n"
		" <!ENTITY e \"&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;\">\n"
		" <!ENTITY f \"&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;\">\n"
		" <!ENTITY g \"&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;\">\n"
		" <!ENTITY h \"&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;\">\n"
		" <!ENTITY i \"&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;\">\n"
		"]>\n" IMDN_OPEN "<message-id>&i;</message-id><datetime>d</datetime>" DELIVERED "</imdn>";
	struct imdn_note n;
	clock_t t0 = clock();

	XML_IS(bomb, IMDN_E_DTD);
	CHECK((clock() - t0) / (CLOCKS_PER_SEC / 10) < 1); /* < 100 ms: nothing expanded */
	CHECK_EQ_INT(n.message_id[0], 0);
	/* an empty DOCTYPE is refused too: IMDNs never have one */
	XML_IS("<!DOCTYPE imdn>" IMDN_HEAD DELIVERED "</imdn>", IMDN_E_DTD);
}

UNIT_TEST(test_imdn_external_entity)
{
	struct imdn_note n;

	XML_IS("<?xml version=\"1.0\"?><!DOCTYPE imdn [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
			       IMDN_OPEN "<message-id>&x;</message-id><datetime>d</datetime>" DELIVERED "</imdn>",
		     IMDN_E_DTD);
	XML_IS("<!DOCTYPE imdn SYSTEM \"http://127.0.0.1:9/x.dtd\">" IMDN_HEAD DELIVERED "</imdn>",
		     IMDN_E_DTD);
	/* an undeclared entity is not well-formed */
	XML_IS(IMDN_OPEN "<message-id>&x;</message-id><datetime>d</datetime>" DELIVERED "</imdn>",
		     IMDN_E_XML);
	/* the predefined ones and character references are plain text */
	XML_IS(IMDN_OPEN "<message-id> a&amp;&#x42;<![CDATA[<c>]]> </message-id>"
			       "<datetime>d</datetime>" DELIVERED "</imdn>", IMDN_OK);
	CHECK_STR(n.message_id, "a&B<c>");
	/* a character reference cannot smuggle a control character */
	XML_IS(IMDN_OPEN "<message-id>a&#10;b</message-id><datetime>d</datetime>" DELIVERED "</imdn>",
		     IMDN_E_FIELD);
}

UNIT_TEST(test_imdn_oversize)
{
	char xml[IMDN_MAX_BYTES + 512], id[IMDN_MAX_MSGID + 2], uri[IMDN_MAX_URI + 2];
	struct imdn_note n;
	char *big;

	memset(id, 'i', sizeof id);
	id[IMDN_MAX_MSGID] = '\0';
	snprintf(xml, sizeof xml, IMDN_OPEN "<message-id>%s</message-id><datetime>d</datetime>" DELIVERED "</imdn>", id);
	XML_IS(xml, IMDN_OK);
	CHECK_EQ_INT(strlen(n.message_id), IMDN_MAX_MSGID);
	id[IMDN_MAX_MSGID] = 'i';
	id[IMDN_MAX_MSGID + 1] = '\0';
	snprintf(xml, sizeof xml, IMDN_OPEN "<message-id>%s</message-id><datetime>d</datetime>" DELIVERED "</imdn>", id);
	XML_IS(xml, IMDN_E_FIELD);

	memset(uri, 'u', sizeof uri);
	uri[IMDN_MAX_URI + 1] = '\0';
	snprintf(xml, sizeof xml, IMDN_HEAD "<recipient-uri>%s</recipient-uri>" DELIVERED "</imdn>", uri);
	XML_IS(xml, IMDN_E_FIELD);

	big = malloc(IMDN_MAX_BYTES + 1);
	CHECK(big);
	memset(big, ' ', IMDN_MAX_BYTES + 1);
	CHECK_EQ_INT(imdn_parse_cpim(big, IMDN_MAX_BYTES + 1, &n), IMDN_E_TOO_BIG);
	free(big);

	/* deep nesting inside an extension element: libxml2's depth limit */
	size_t o = (size_t)snprintf(xml, sizeof xml, IMDN_HEAD DELIVERED);
	for (int i = 0; i < 5000; i++)
		o += (size_t)snprintf(xml + o, sizeof xml - o, "<a>");
	snprintf(xml + o, sizeof xml - o, "</imdn>");
	XML_IS(xml, IMDN_E_XML);
}

UNIT_TEST(test_imdn_bad_documents)
{
	struct imdn_note n;

	XML_IS(IMDN_OPEN "<datetime>d</datetime>" DELIVERED "</imdn>", IMDN_E_MISSING);
	XML_IS(IMDN_OPEN "<message-id></message-id><datetime>d</datetime>" DELIVERED "</imdn>",
		     IMDN_E_MISSING);
	XML_IS(IMDN_HEAD "</imdn>", IMDN_E_MISSING);
	XML_IS(IMDN_OPEN "<message-id>m1</message-id>" DELIVERED "</imdn>", IMDN_E_MISSING);
	XML_IS(IMDN_HEAD "<delivery-notification><status><read/></status></delivery-notification></imdn>",
		     IMDN_E_STATUS);
	XML_IS(IMDN_HEAD "<delivery-notification><status><displayed/></status></delivery-notification></imdn>",
		     IMDN_E_STATUS);
	XML_IS(IMDN_HEAD "<delivery-notification><status/></delivery-notification></imdn>",
		     IMDN_E_STATUS);
	XML_IS(IMDN_HEAD "<delivery-notification><status><delivered/><failed/></status></delivery-notification></imdn>",
		     IMDN_E_DUPLICATE);
	XML_IS(IMDN_HEAD DELIVERED DELIVERED "</imdn>", IMDN_E_DUPLICATE);
	XML_IS(IMDN_HEAD "<message-id>m2</message-id>" DELIVERED "</imdn>", IMDN_E_DUPLICATE);
	XML_IS(IMDN_OPEN "<message-id>m<b/>1</message-id><datetime>d</datetime>" DELIVERED "</imdn>",
		     IMDN_E_FIELD);
	XML_IS("<imdn><message-id>m1</message-id><datetime>d</datetime>" DELIVERED "</imdn>",
		     IMDN_E_ROOT);
	XML_IS("<imdn xmlns=\"urn:x\"/>", IMDN_E_ROOT);
	XML_IS(IMDN_HEAD DELIVERED, IMDN_E_XML);
	XML_IS("", IMDN_E_XML);
	/* a prefixed namespace, foreign extensions and a subject are fine */
	XML_IS("<i:imdn xmlns:i=\"urn:ietf:params:xml:ns:imdn\" xmlns:e=\"urn:ext\">"
			       "<e:x>1</e:x><i:message-id>m1</i:message-id><i:datetime>d</i:datetime>"
			       "<i:subject>s</i:subject><message-id>not-ours</message-id>"
			       "<i:display-notification><i:status><e:y/><i:displayed/></i:status></i:display-notification>"
			       "</i:imdn>", IMDN_OK);
	CHECK_STR(n.message_id, "m1");
	CHECK_EQ_INT(n.kind, IMDN_KIND_DISPLAY);
	CHECK_EQ_INT(n.status, IMDN_STATUS_DISPLAYED);

	{ static const char t[] = "From: <a>\r\n\r\nContent-Type: text/plain\r\n\r\nhi";
	CHECK_EQ_INT(imdn_parse_cpim(t, strlen(t), &n), IMDN_E_NOT_IMDN); }
	CHECK_EQ_INT(imdn_parse_cpim("From <a>\r\n\r\n\r\n", 14, &n), IMDN_E_CPIM);
}

/* cpim_build writes what cpim_parse reads back, measures exactly, and refuses
 * values that would break the framing. */
static void test_cpim_build(void)
{
	static const char body[] = "line one\r\nline two";
	struct cpim_out o = {
		.from_uri = "sip:alice@example.com",
		.to_uri = "sip:bob@example.com",
		.message_id = "m-123",
		.datetime = "2026-12-03T10:00:00.000Z",
		.disposition = "positive-delivery, display",
		.content_type = "text/plain;charset=UTF-8",
		.body = body,
		.body_len = sizeof body - 1,
	};
	char out[1024];
	int need = cpim_build(NULL, 0, &o);
	int len = cpim_build(out, sizeof out, &o);
	CHECK(len > 0);
	CHECK_EQ_INT(need, len);
	struct cpim_msg m;
	CHECK_EQ_INT(cpim_parse(out, (size_t)len, &m), CPIM_OK);
	CHECK(cpm_str_eq(cpim_addr_uri(m.from), "sip:alice@example.com"));
	CHECK(cpm_str_eq(cpim_addr_uri(m.to), "sip:bob@example.com"));
	CHECK(cpm_str_eq(m.imdn_message_id, "m-123"));
	CHECK(cpm_str_eq(m.imdn_disposition_notification, "positive-delivery, display"));
	CHECK(cpm_str_eq(m.content_type, "text/plain;charset=UTF-8"));
	CHECK_EQ_INT(m.body.len, sizeof body - 1);
	CHECK(!memcmp(m.body.p, body, m.body.len));
	/* the head alone ends where the content starts */
	int head = cpim_build_head(out, sizeof out, &o);
	CHECK_EQ_INT(head, len - (int)(sizeof body - 1));
	CHECK_EQ_INT(cpim_build(out, (size_t)len, &o), -1); /* no room for the NUL */

	struct cpim_out bad = o;
	bad.from_uri = "sip:a@b>\r\nX: y";
	CHECK_EQ_INT(cpim_build(out, sizeof out, &bad), -1);
	bad = o;
	bad.message_id = "two words";
	CHECK_EQ_INT(cpim_build(out, sizeof out, &bad), -1);
	bad = o;
	bad.datetime = NULL; /* an id needs a DateTime (RFC 5438 §6.3) */
	CHECK_EQ_INT(cpim_build(out, sizeof out, &bad), -1);
	bad = o;
	bad.content_type = "text/plain\r\nX: y";
	CHECK_EQ_INT(cpim_build(out, sizeof out, &bad), -1);
	bad = o;
	bad.body = NULL;
	CHECK_EQ_INT(cpim_build(out, sizeof out, &bad), -1);
}

UNIT_TEST(test_imdn_disposition_bits)
{
	CHECK_EQ_INT(imdn_disposition_bits(cpm_str_c("positive-delivery, negative-delivery, display")),
		     IMDN_ASK_POSITIVE | IMDN_ASK_NEGATIVE | IMDN_ASK_DISPLAY);
	CHECK_EQ_INT(imdn_disposition_bits(cpm_str_c(" Display ,processing,")), IMDN_ASK_DISPLAY);
	CHECK_EQ_INT(imdn_disposition_bits(cpm_str_c("negative-delivery")), IMDN_ASK_NEGATIVE);
	CHECK_EQ_INT(imdn_disposition_bits(cpm_str_c("positive-deliveryx, xdisplay, ,,")), 0);
	CHECK_EQ_INT(imdn_disposition_bits(cpm_str_c("")), 0);
	CHECK_EQ_INT(imdn_disposition_bits(CPM_STR_NULL), 0);
}

UNIT_MAIN(T(test_cpim_rfc5438_example_lf), T(test_cpim_rfc5438_example_crlf), T(test_cpim_ns_prefix),
	  T(test_cpim_hostile), T(test_imdn_build_exact), T(test_imdn_round_trip),
	  T(test_imdn_build_rejects), T(test_imdn_every_cut), T(test_imdn_billion_laughs),
	  T(test_imdn_external_entity), T(test_imdn_oversize), T(test_imdn_bad_documents), T(test_cpim_build),
	  T(test_imdn_disposition_bits))
