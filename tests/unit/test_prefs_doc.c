/* The preferences document codec (lib/prefs, docs/internals/xdm.md): a full document, an
 * empty one (everything unset), explicit empty lists, foreign and unknown elements ignored,
 * xs:boolean spellings, and refused documents (bad values, duplicates, lists over their
 * bounds, a DOCTYPE, wrong root or namespace, too big, truncated). */
#include "cpm/prefs_doc.h"
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>

static struct prefs_doc pd; /* ~25 KiB: not on the stack */
static const struct prefs_doc zero;

static int parse(const char *s)
{
	return prefs_doc_parse(s, strlen(s), &pd);
}

#define HEAD "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<cpm-prefs xmlns=\"urn:cpmd:params:xml:ns:cpm-prefs\">"
#define TAIL "</cpm-prefs>"

UNIT_TEST(test_prefs_full)
{
	static const char doc[] = HEAD "\n"
		"  <defer>true</defer>\n  <delivery>pull</delivery>\n"
		"  <keep-files>besides-device</keep-files>\n  <on-expiry>keep</on-expiry>\n"
		"  <histories>false</histories>\n  <screening>1</screening>\n"
		"  <max-file-size> 10485760 </max-file-size>\n"
		"  <blocked-senders>\n    <uri>sip:spam@example.net</uri>\n    <uri>tel:+15550100</uri>\n"
		"  </blocked-senders>\n"
		"  <accept-types><type>image/*</type><type>Application/PDF</type></accept-types>\n"
		"  <deny-types><type>application/x-msdownload</type></deny-types>\n" TAIL;
	CHECK_EQ_INT(parse(doc), PREFS_OK);
	CHECK_EQ_INT(pd.defer, PREFS_ON);
	CHECK_EQ_INT(pd.delivery, PREFS_DELIVERY_PULL);
	CHECK_EQ_INT(pd.keep_files, PREFS_KEEP_BESIDES);
	CHECK_EQ_INT(pd.on_expiry, PREFS_EXPIRY_KEEP);
	CHECK_EQ_INT(pd.histories, PREFS_OFF);
	CHECK_EQ_INT(pd.screening, PREFS_ON);
	CHECK(pd.has_max_file_size);
	CHECK_EQ_INT(pd.max_file_size, 10485760);
	CHECK(pd.has_blocked);
	CHECK_EQ_INT(pd.nblocked, 2);
	CHECK_STR(pd.blocked[0], "sip:spam@example.net");
	CHECK_STR(pd.blocked[1], "tel:+15550100");
	CHECK(pd.has_accept_types);
	CHECK_EQ_INT(pd.naccept, 2);
	CHECK_STR(pd.accept_types[0], "image/*");
	CHECK_STR(pd.accept_types[1], "application/pdf");
	CHECK(pd.has_deny_types);
	CHECK_EQ_INT(pd.ndeny, 1);
	CHECK_STR(pd.deny_types[0], "application/x-msdownload");
	CHECK_STR(prefs_keep_name(pd.keep_files), "besides-device");
	CHECK_STR(prefs_delivery_name(pd.delivery), "pull");
	CHECK_STR(prefs_bool_name(PREFS_UNSET), "");
}

UNIT_TEST(test_prefs_unset)
{
	CHECK_EQ_INT(parse(HEAD TAIL), PREFS_OK);
	CHECK(!memcmp(&pd, &zero, sizeof pd)); /* every setting unset, not "off" */
	CHECK_EQ_INT(parse("<cpm-prefs xmlns='urn:cpmd:params:xml:ns:cpm-prefs'/>"), PREFS_OK);
	CHECK(!memcmp(&pd, &zero, sizeof pd));
}

UNIT_TEST(test_prefs_empty_lists)
{
	CHECK_EQ_INT(parse(HEAD "<blocked-senders/><deny-types></deny-types>" TAIL), PREFS_OK);
	CHECK(pd.has_blocked);
	CHECK_EQ_INT(pd.nblocked, 0);
	CHECK(pd.has_deny_types);
	CHECK(!pd.has_accept_types);
}

UNIT_TEST(test_prefs_ignored)
{
	static const char doc[] =
		"<p:cpm-prefs xmlns:p='urn:cpmd:params:xml:ns:cpm-prefs' xmlns:x='urn:example:ext'>"
		"<!-- a comment --><x:defer>banana</x:defer><p:future-setting><p:a/></p:future-setting>"
		"<p:delivery>push</p:delivery><x:blocked-senders><x:uri>junk</x:uri></x:blocked-senders>"
		"<p:blocked-senders><x:uri>not ours</x:uri><p:uri>sips:a@b</p:uri></p:blocked-senders>"
		"</p:cpm-prefs>";
	CHECK_EQ_INT(parse(doc), PREFS_OK);
	CHECK_EQ_INT(pd.defer, PREFS_UNSET);
	CHECK_EQ_INT(pd.delivery, PREFS_DELIVERY_PUSH);
	CHECK_EQ_INT(pd.nblocked, 1);
	CHECK_STR(pd.blocked[0], "sips:a@b");
	CHECK_EQ_INT(parse(HEAD "<defer>0</defer><histories>1</histories>" TAIL), PREFS_OK);
	CHECK_EQ_INT(pd.defer, PREFS_OFF);
	CHECK_EQ_INT(pd.histories, PREFS_ON);
}

static void expect(const char *doc, int err)
{
	int rc = parse(doc);
	if (rc != err || memcmp(&pd, &zero, sizeof pd)) {
		char m[300];
		snprintf(m, sizeof m, "%.200s -> %d, want %d (and zeroed)", doc, rc, err);
		unit_fail(__FILE__, __LINE__, m);
	}
}

UNIT_TEST(test_prefs_bad_values)
{
	expect(HEAD "<defer>on</defer>" TAIL, PREFS_E_VALUE);
	expect(HEAD "<delivery>PUSH</delivery>" TAIL, PREFS_E_VALUE);
	expect(HEAD "<keep-files>always</keep-files>" TAIL, PREFS_E_VALUE);
	expect(HEAD "<on-expiry></on-expiry>" TAIL, PREFS_E_VALUE);
	expect(HEAD "<screening>true<x/></screening>" TAIL, PREFS_E_VALUE);
	expect(HEAD "<histories>tr&amp;ue</histories>" TAIL, PREFS_E_VALUE);
	expect(HEAD "<max-file-size>-1</max-file-size>" TAIL, PREFS_E_VALUE);
	expect(HEAD "<max-file-size>10M</max-file-size>" TAIL, PREFS_E_VALUE);
	expect(HEAD "<max-file-size>18446744073709551616</max-file-size>" TAIL, PREFS_E_VALUE);
	expect(HEAD "<blocked-senders><uri>mailto:a@b</uri></blocked-senders>" TAIL, PREFS_E_VALUE);
	expect(HEAD "<blocked-senders><uri>sip:</uri></blocked-senders>" TAIL, PREFS_E_VALUE);
	expect(HEAD "<blocked-senders><uri>sip:a b@c</uri></blocked-senders>" TAIL, PREFS_E_VALUE);
	expect(HEAD "<blocked-senders><uri>sip:&lt;a@c</uri></blocked-senders>" TAIL, PREFS_E_VALUE);
	expect(HEAD "<accept-types><type>image</type></accept-types>" TAIL, PREFS_E_VALUE);
	expect(HEAD "<accept-types><type>*/png</type></accept-types>" TAIL, PREFS_E_VALUE);
	expect(HEAD "<accept-types><type>image/p*</type></accept-types>" TAIL, PREFS_E_VALUE);
	expect(HEAD "<deny-types><type>text/plain;charset=x</type></deny-types>" TAIL, PREFS_E_VALUE);
	expect(HEAD "<deny-types><type>a/b/c</type></deny-types>" TAIL, PREFS_E_VALUE);
	CHECK_EQ_INT(parse(HEAD "<accept-types><type>*/*</type></accept-types>" TAIL), PREFS_OK);
	/* a valid value before the bad one does not survive */
	expect(HEAD "<defer>true</defer><delivery>later</delivery>" TAIL, PREFS_E_VALUE);
}

UNIT_TEST(test_prefs_duplicates)
{
	expect(HEAD "<defer>true</defer><defer>true</defer>" TAIL, PREFS_E_DUPLICATE);
	expect(HEAD "<max-file-size>1</max-file-size><max-file-size>2</max-file-size>" TAIL,
	       PREFS_E_DUPLICATE);
	expect(HEAD "<blocked-senders/><blocked-senders/>" TAIL, PREFS_E_DUPLICATE);
}

UNIT_TEST(test_prefs_bounds)
{
	static char doc[PREFS_MAX_BYTES + 256]; /* HEAD, the bound, TAIL */
	size_t n = 0;

	n += (size_t)sprintf(doc + n, HEAD "<blocked-senders>");
	for (int i = 0; i < PREFS_MAX_BLOCKED; i++)
		n += (size_t)sprintf(doc + n, "<uri>sip:u%d@example.com</uri>", i);
	sprintf(doc + n, "</blocked-senders>" TAIL);
	CHECK_EQ_INT(parse(doc), PREFS_OK);
	CHECK_EQ_INT(pd.nblocked, PREFS_MAX_BLOCKED);
	sprintf(doc + n, "<uri>sip:one-more@example.com</uri></blocked-senders>" TAIL);
	expect(doc, PREFS_E_TOO_MANY);

	/* a URI of exactly PREFS_MAX_URI characters fits; one more does not */
	n = (size_t)sprintf(doc, HEAD "<blocked-senders><uri>sip:");
	memset(doc + n, 'a', PREFS_MAX_URI - 4);
	n += PREFS_MAX_URI - 4;
	sprintf(doc + n, "</uri></blocked-senders>" TAIL);
	CHECK_EQ_INT(parse(doc), PREFS_OK);
	CHECK_EQ_INT(strlen(pd.blocked[0]), PREFS_MAX_URI);
	n = (size_t)sprintf(doc, HEAD "<blocked-senders><uri>sip:");
	memset(doc + n, 'a', PREFS_MAX_URI - 3);
	n += PREFS_MAX_URI - 3;
	sprintf(doc + n, "</uri></blocked-senders>" TAIL);
	expect(doc, PREFS_E_VALUE);

	n = (size_t)sprintf(doc, HEAD "<!--");
	memset(doc + n, 'x', PREFS_MAX_BYTES);
	n += PREFS_MAX_BYTES;
	sprintf(doc + n, "-->" TAIL);
	expect(doc, PREFS_E_TOO_BIG);
}

UNIT_TEST(test_prefs_hostile)
{
	expect("<?xml version=\"1.0\"?><!DOCTYPE cpm-prefs [<!ENTITY a \"aaaa\">]>"
	       "<cpm-prefs xmlns=\"urn:cpmd:params:xml:ns:cpm-prefs\"><defer>&a;</defer></cpm-prefs>",
	       PREFS_E_DTD);
	expect("<cpm-prefs><defer>true</defer></cpm-prefs>", PREFS_E_ROOT); /* no namespace */
	expect("<prefs xmlns=\"urn:cpmd:params:xml:ns:cpm-prefs\"/>", PREFS_E_ROOT);
	expect(HEAD "<defer>true</defer>", PREFS_E_XML); /* truncated */
	expect("", PREFS_E_XML);
	CHECK(prefs_strerror(PREFS_E_DTD)[0]);
}

UNIT_MAIN(T(test_prefs_full), T(test_prefs_unset), T(test_prefs_empty_lists), T(test_prefs_ignored),
	  T(test_prefs_bad_values), T(test_prefs_duplicates), T(test_prefs_bounds), T(test_prefs_hostile))
