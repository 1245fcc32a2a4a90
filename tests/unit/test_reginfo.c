/* The reg event codec (lib/reginfo, RFC 3680): what Kamailio's pua_reginfo sends, the RFC's
 * own example shape with +sip.instance and a foreign namespace, and hostile documents (a
 * DOCTYPE, wrong root or namespace, missing or bad attributes, too many contacts, values
 * over their bounds, truncations). */
#include "cpm/reginfo.h"
#include "unit.h"

#include <stdlib.h>

static struct reginfo ri; /* ~60 KiB: not on the stack */

static int parse(const char *s)
{
	return reginfo_parse(s, strlen(s), &ri);
}

#define HEAD "<?xml version=\"1.0\"?>\n<reginfo xmlns=\"urn:ietf:params:xml:ns:reginfo\" version=\"1\" state=\"full\">"
#define TAIL "</reginfo>"

UNIT_TEST(test_reginfo_kamailio)
{
	static const char doc[] =
		"<?xml version=\"1.0\"?>\n"
		"<reginfo xmlns=\"urn:ietf:params:xml:ns:reginfo\" version=\"0\" state=\"full\">\n"
		"  <registration aor=\"sip:bob@example.com\" id=\"0x7f1c\" state=\"active\">\n"
		"    <contact id=\"0x7f1d\" state=\"active\" event=\"created\" expires=\"300\" q=\"1.0\""
		" received=\"sip:127.0.0.1:5082;transport=tcp\">\n"
		"      <uri>sip:bob@127.0.0.1:5999;transport=tcp</uri>\n"
		"    </contact>\n  </registration>\n</reginfo>\n";
	CHECK_EQ_INT(parse(doc), REGINFO_OK);
	CHECK_EQ_INT(ri.version, 0);
	CHECK(ri.full);
	CHECK_EQ_INT(ri.nregs, 1);
	CHECK_STR(ri.regs[0].aor, "sip:bob@example.com");
	CHECK_EQ_INT(ri.regs[0].state, REGINFO_ACTIVE);
	CHECK_EQ_INT(ri.ncontacts, 1);
	CHECK_EQ_INT(ri.contacts[0].state, REGINFO_ACTIVE);
	CHECK_STR(ri.contacts[0].event, "created");
	CHECK(ri.contacts[0].has_expires);
	CHECK_EQ_INT(ri.contacts[0].expires, 300);
	CHECK_STR(ri.contacts[0].uri, "sip:bob@127.0.0.1:5999;transport=tcp");
	CHECK_STR(ri.contacts[0].instance, "");
}

UNIT_TEST(test_reginfo_instance_and_terminated)
{
	static const char doc[] =
		"<?xml version=\"1.0\"?>\n"
		"<reginfo xmlns=\"urn:ietf:params:xml:ns:reginfo\" xmlns:gr=\"urn:ietf:params:xml:ns:gruuinfo\""
		" version=\"7\" state=\"partial\">\n"
		" <registration aor=\"sip:alice@example.com\" id=\"a7\" state=\"active\">\n"
		"  <contact id=\"76\" state=\"active\" event=\"registered\" expires=\"3600\">\n"
		"   <uri> sip:alice@pc887.example.com </uri>\n"
		"   <unknown-param name=\"+sip.instance\">\"&lt;urn:uuid:0000-AABB&gt;\"</unknown-param>\n"
		"   <unknown-param name=\"+g.oma.sip-im\"/>\n"
		"   <gr:pub-gruu uri=\"sip:alice@example.com;gr=x\"/>\n"
		"  </contact>\n"
		"  <contact id=\"77\" state=\"terminated\" event=\"expired\"><uri>sip:alice@phone</uri></contact>\n"
		" </registration>\n"
		" <registration aor=\"tel:+12125551234\" id=\"a8\" state=\"terminated\"/>\n"
		"</reginfo>\n";
	CHECK_EQ_INT(parse(doc), REGINFO_OK);
	CHECK_EQ_INT(ri.version, 7);
	CHECK(!ri.full);
	CHECK_EQ_INT(ri.nregs, 2);
	CHECK_EQ_INT(ri.ncontacts, 2);
	CHECK_STR(ri.contacts[0].uri, "sip:alice@pc887.example.com");
	CHECK_STR(ri.contacts[0].instance, "<urn:uuid:0000-AABB>");
	CHECK_EQ_INT(ri.contacts[1].state, REGINFO_TERMINATED);
	CHECK(!ri.contacts[1].has_expires);
	CHECK_EQ_INT(ri.contacts[1].reg, 0);
	CHECK_EQ_INT(ri.regs[1].state, REGINFO_TERMINATED);
	CHECK_STR(ri.regs[1].aor, "tel:+12125551234");
}

UNIT_TEST(test_reginfo_expires_clamped)
{
	CHECK_EQ_INT(parse(HEAD "<registration aor=\"sip:a@b\" id=\"1\" state=\"active\"><contact id=\"1\""
			   " state=\"active\" event=\"created\" expires=\"99999999999999999999999999\">"
			   "<uri>sip:a@c</uri></contact></registration>" TAIL),
		     REGINFO_OK);
	CHECK_EQ_INT(ri.contacts[0].expires, 0xffffffffu);
}

UNIT_TEST(test_reginfo_hostile)
{
	static const char *const bad[][2] = {
		{"<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY a \"aaaa\">]><reginfo xmlns=\"urn:ietf:params:xml:ns:reginfo\""
		 " version=\"1\" state=\"full\">&a;</reginfo>", "dtd"},
		{"<reginfo version=\"1\" state=\"full\"/>", "root"},
		{"<imdn xmlns=\"urn:ietf:params:xml:ns:reginfo\" version=\"1\" state=\"full\"/>", "root"},
		{"<reginfo xmlns=\"urn:ietf:params:xml:ns:reginfo\" state=\"full\"/>", "attr"},
		{"<reginfo xmlns=\"urn:ietf:params:xml:ns:reginfo\" version=\"-1\" state=\"full\"/>", "attr"},
		{"<reginfo xmlns=\"urn:ietf:params:xml:ns:reginfo\" version=\"1\" state=\"some\"/>", "attr"},
		{HEAD "<registration id=\"1\" state=\"active\"/>" TAIL, "attr"},
		{HEAD "<registration aor=\"sip:a@b\" state=\"gone\"/>" TAIL, "attr"},
		{HEAD "<registration aor=\"sip:a@b\" state=\"active\"><contact state=\"init\" event=\"x\">"
		      "<uri>sip:a@c</uri></contact></registration>" TAIL, "attr"},
		{HEAD "<registration aor=\"sip:a@b\" state=\"active\"><contact state=\"active\">"
		      "<uri>sip:a@c</uri></contact></registration>" TAIL, "attr"},
		{HEAD "<registration aor=\"sip:a@b\" state=\"active\"><contact state=\"active\" event=\"x\""
		      " expires=\"12s\"><uri>sip:a@c</uri></contact></registration>" TAIL, "attr"},
		{HEAD "<registration aor=\"sip:a@b\" state=\"active\"><contact state=\"active\" event=\"x\"/>"
		      "</registration>" TAIL, "field"},
		{HEAD "<registration aor=\"sip:a@b\" state=\"active\"><contact state=\"active\" event=\"x\">"
		      "<uri>sip:a@c<b/></uri></contact></registration>" TAIL, "field"},
		{HEAD "<registration aor=\"sip:a@b\" state=\"active\"><contact state=\"active\" event=\"x\">"
		      "<uri>sip:a@c</uri><uri>sip:d@e</uri></contact></registration>" TAIL, "field"},
		{HEAD "<registration aor=\"sip:a&#1;@b\" state=\"active\"/>" TAIL, "xml-or-field"},
		{HEAD "<registration aor=\"sip:a@b\" state=\"active\">" TAIL, "xml"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int rc = parse(bad[i][0]);
		if (rc == REGINFO_OK)
			printf("accepted %zu: %s\n", i, bad[i][0]);
		CHECK(rc < 0);
		CHECK_EQ_INT(ri.nregs, 0);
		CHECK_EQ_INT(ri.ncontacts, 0);
		if (!strcmp(bad[i][1], "dtd"))
			CHECK_EQ_INT(rc, REGINFO_E_DTD);
		else if (!strcmp(bad[i][1], "root"))
			CHECK_EQ_INT(rc, REGINFO_E_ROOT);
		else if (!strcmp(bad[i][1], "attr"))
			CHECK_EQ_INT(rc, REGINFO_E_ATTR);
		else if (!strcmp(bad[i][1], "field"))
			CHECK_EQ_INT(rc, REGINFO_E_FIELD);
		else if (!strcmp(bad[i][1], "xml"))
			CHECK_EQ_INT(rc, REGINFO_E_XML);
	}
}

UNIT_TEST(test_reginfo_bounds)
{
	static char doc[REGINFO_MAX_BYTES + 64];
	size_t n = 0;

	/* one contact over REGINFO_MAX_CONTACTS: refused whole */
	n += (size_t)snprintf(doc + n, sizeof doc - n, HEAD "<registration aor=\"sip:a@b\" state=\"active\">");
	for (int i = 0; i <= REGINFO_MAX_CONTACTS; i++)
		n += (size_t)snprintf(doc + n, sizeof doc - n,
				      "<contact state=\"active\" event=\"created\"><uri>sip:d%d@h</uri></contact>", i);
	n += (size_t)snprintf(doc + n, sizeof doc - n, "</registration>" TAIL);
	CHECK_EQ_INT(reginfo_parse(doc, n, &ri), REGINFO_E_TOO_MANY);
	/* too many registrations */
	n = (size_t)snprintf(doc, sizeof doc, HEAD);
	for (int i = 0; i <= REGINFO_MAX_REGS; i++)
		n += (size_t)snprintf(doc + n, sizeof doc - n, "<registration aor=\"sip:a%d@b\" state=\"init\"/>", i);
	n += (size_t)snprintf(doc + n, sizeof doc - n, TAIL);
	CHECK_EQ_INT(reginfo_parse(doc, n, &ri), REGINFO_E_TOO_MANY);
	/* a URI one byte over its field */
	char uri[REGINFO_MAX_URI + 2];
	memset(uri, 'u', sizeof uri - 1);
	uri[sizeof uri - 1] = '\0';
	n = (size_t)snprintf(doc, sizeof doc,
			     HEAD "<registration aor=\"sip:a@b\" state=\"active\"><contact state=\"active\" event=\"x\">"
				  "<uri>%s</uri></contact></registration>" TAIL, uri);
	CHECK_EQ_INT(reginfo_parse(doc, n, &ri), REGINFO_E_FIELD);
	uri[sizeof uri - 2] = '\0'; /* exactly the bound: fits */
	n = (size_t)snprintf(doc, sizeof doc,
			     HEAD "<registration aor=\"sip:a@b\" state=\"active\"><contact state=\"active\" event=\"x\">"
				  "<uri>%s</uri></contact></registration>" TAIL, uri);
	CHECK_EQ_INT(reginfo_parse(doc, n, &ri), REGINFO_OK);
	CHECK_EQ_INT(strlen(ri.contacts[0].uri), REGINFO_MAX_URI);
	/* over the byte bound, before libxml2 */
	memset(doc, ' ', sizeof doc);
	CHECK_EQ_INT(reginfo_parse(doc, REGINFO_MAX_BYTES + 1, &ri), REGINFO_E_TOO_BIG);
}

UNIT_TEST(test_reginfo_truncations)
{
	static const char doc[] = HEAD "<registration aor=\"sip:a@b\" id=\"1\" state=\"active\"><contact id=\"1\""
				       " state=\"active\" event=\"created\" expires=\"60\"><uri>sip:a@c</uri>"
				       "</contact></registration>" TAIL;
	size_t len = strlen(doc);
	CHECK_EQ_INT(reginfo_parse(doc, len, &ri), REGINFO_OK);
	for (size_t cut = 0; cut < len; cut++) {
		char *copy = malloc(cut ? cut : 1);
		CHECK(copy);
		memcpy(copy, doc, cut);
		int rc = reginfo_parse(copy, cut, &ri);
		free(copy);
		CHECK(rc < 0);
	}
}

UNIT_MAIN(T(test_reginfo_kamailio), T(test_reginfo_instance_and_terminated), T(test_reginfo_expires_clamped),
	  T(test_reginfo_hostile), T(test_reginfo_bounds), T(test_reginfo_truncations))
