/* pn_params_parse (lib/push/pn_params.c): RFC 8599 push parameters of a registered Contact. */
#include "cpm/pn_params.h"
#include "unit.h"

static bool parse(const char *s, struct pn_params *p)
{
	return pn_params_parse(s, strlen(s), p);
}

UNIT_TEST(pn_all_three)
{
	struct pn_params p;
	CHECK(parse("sip:bob@10.0.0.1:5060;transport=tcp;pn-provider=apns;pn-prid=00fc13ad;pn-param=T.voip", &p));
	CHECK_STR(p.provider, "apns");
	CHECK_STR(p.prid, "00fc13ad");
	CHECK_STR(p.param, "T.voip");
	/* order, case of the names, no pn-param, headers after '?' */
	CHECK(parse("sip:d@h;PN-PRID=a%3Ab;Pn-Provider=fcm?pn-param=no", &p));
	CHECK_STR(p.provider, "fcm");
	CHECK_STR(p.prid, "a%3Ab");
	CHECK_STR(p.param, "");
}

UNIT_TEST(pn_refused)
{
	struct pn_params p;
	CHECK(!parse("sip:d@h", &p));
	CHECK(!parse("sip:d@h;transport=tcp", &p));
	CHECK(!parse("sip:d@h;pn-provider=apns", &p));           /* no prid */
	CHECK(!parse("sip:d@h;pn-prid=x", &p));                  /* no provider */
	CHECK(!parse("sip:d@h;pn-provider=;pn-prid=x", &p));     /* empty */
	CHECK(!parse("sip:d@h;pn-provider=a;pn-provider=b;pn-prid=x", &p)); /* twice */
	CHECK(!parse("sip:d@h;pn-provider=a\"b;pn-prid=x", &p)); /* not a paramchar */
	CHECK(!parse("sip:d@h;pn-provider=a;pn-prid=x%4", &p));  /* a cut escape */
	CHECK(!parse("sip:d@h;pn-provider=a;pn-prid=x%zz", &p));
	CHECK_STR(p.provider, "");
	char big[400];
	memset(big, 'a', sizeof big);
	memcpy(big, "sip:d@h;pn-provider=a;pn-prid=", 30);
	big[sizeof big - 1] = '\0';
	CHECK(!parse(big, &p)); /* a prid over PN_PRID_MAX */
}

UNIT_MAIN(T(pn_all_three), T(pn_refused))
