/* src/admin/admin_tls.c: the start-up checks of --admin-tls-cert/-key/-ca, on certificates made
 * here with GnuTLS (a CA, a certificate it signed, an unrelated one): a good set loads, and each
 * way a file can be wrong is refused. The client certificate check needs a TLS connection: it is
 * tested end to end (tests/e2e/t_admin_tls.sh). */
#include "admin/admin_tls.h"
#include "unit.h"

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char dir[64];

static const char *path(const char *name)
{
	static char p[4][128];
	static int i;
	i = (i + 1) % 4;
	snprintf(p[i], sizeof p[i], "%s/%s", dir, name);
	return p[i];
}

static void put(const char *name, const void *data, size_t len)
{
	FILE *f = fopen(path(name), "w");
	if (!f)
		abort();
	fwrite(data, 1, len, f);
	fclose(f);
}

/* NAME.pem and NAME.key: an EC P-256 key and its certificate, signed by the issuer's key (self-
 * signed without one); the certificate and key are kept for signing others when asked */
static void make(const char *name, gnutls_x509_crt_t issuer, gnutls_x509_privkey_t issuer_key, bool ca,
		 gnutls_x509_crt_t *crt_out, gnutls_x509_privkey_t *key_out)
{
	gnutls_x509_privkey_t k;
	gnutls_x509_crt_t c;
	unsigned char serial[4] = {1, 2, 3, (unsigned char)strlen(name)};
	char fname[64];
	gnutls_datum_t out;
	if (gnutls_x509_privkey_init(&k) ||
	    gnutls_x509_privkey_generate(k, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) ||
	    gnutls_x509_crt_init(&c) || gnutls_x509_crt_set_version(c, 3) ||
	    gnutls_x509_crt_set_serial(c, serial, sizeof serial) || gnutls_x509_crt_set_activation_time(c, time(NULL) - 60) ||
	    gnutls_x509_crt_set_expiration_time(c, time(NULL) + 3600) ||
	    gnutls_x509_crt_set_dn_by_oid(c, GNUTLS_OID_X520_COMMON_NAME, 0, name, (unsigned)strlen(name)) ||
	    gnutls_x509_crt_set_key(c, k) || gnutls_x509_crt_set_basic_constraints(c, ca, -1) ||
	    gnutls_x509_crt_sign2(c, issuer ? issuer : c, issuer_key ? issuer_key : k, GNUTLS_DIG_SHA256, 0))
		abort();
	if (gnutls_x509_crt_export2(c, GNUTLS_X509_FMT_PEM, &out))
		abort();
	snprintf(fname, sizeof fname, "%s.pem", name);
	put(fname, out.data, out.size);
	gnutls_free(out.data);
	if (gnutls_x509_privkey_export2(k, GNUTLS_X509_FMT_PEM, &out))
		abort();
	snprintf(fname, sizeof fname, "%s.key", name);
	put(fname, out.data, out.size);
	gnutls_free(out.data);
	if (crt_out) {
		*crt_out = c;
		*key_out = k;
	} else {
		gnutls_x509_crt_deinit(c);
		gnutls_x509_privkey_deinit(k);
	}
}

__attribute__((constructor)) static void make_files(void)
{
	snprintf(dir, sizeof dir, "/tmp/cpm-test-admin-tls.XXXXXX");
	if (!mkdtemp(dir))
		abort();
	gnutls_x509_crt_t ca;
	gnutls_x509_privkey_t cakey;
	make("ca", NULL, NULL, true, &ca, &cakey);
	make("server", ca, cakey, false, NULL, NULL);
	make("other", NULL, NULL, false, NULL, NULL);
	gnutls_x509_crt_deinit(ca);
	gnutls_x509_privkey_deinit(cakey);
	put("garbage", "not PEM at all\n", 15);
}

__attribute__((destructor)) static void remove_files(void)
{
	static const char *const names[] = {"ca.pem", "ca.key", "server.pem", "server.key", "other.pem", "other.key",
					    "garbage"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		unlink(path(names[i]));
	rmdir(dir);
}

static bool empty(const struct admin_tls *t)
{
	return !t->cert && !t->key && !t->ca;
}

UNIT_TEST(a_good_set_loads)
{
	struct admin_tls t;
	CHECK_EQ_INT(admin_tls_load(&t, path("server.pem"), path("server.key"), path("ca.pem")), 0);
	CHECK(t.cert && strstr(t.cert, "-----BEGIN CERTIFICATE-----"));
	CHECK(t.key && strstr(t.key, "PRIVATE KEY-----"));
	CHECK(t.ca && strstr(t.ca, "-----BEGIN CERTIFICATE-----"));
	admin_tls_free(&t);
	CHECK(empty(&t));
	/* no client CA: HTTPS only */
	CHECK_EQ_INT(admin_tls_load(&t, path("server.pem"), path("server.key"), NULL), 0);
	CHECK(t.cert && t.key && !t.ca);
	admin_tls_free(&t);
	CHECK_EQ_INT(admin_tls_load(&t, path("server.pem"), path("server.key"), ""), 0);
	CHECK(!t.ca);
	admin_tls_free(&t);
}

UNIT_TEST(bad_files_are_refused)
{
	struct admin_tls t;
	CHECK_EQ_INT(admin_tls_load(&t, path("missing.pem"), path("server.key"), NULL), -1);
	CHECK(empty(&t));
	CHECK_EQ_INT(admin_tls_load(&t, path("server.pem"), path("missing.key"), NULL), -1);
	CHECK(empty(&t));
	CHECK_EQ_INT(admin_tls_load(&t, path("server.pem"), path("server.key"), path("missing.pem")), -1);
	CHECK(empty(&t));
	CHECK_EQ_INT(admin_tls_load(&t, dir, path("server.key"), NULL), -1); /* a directory */
	CHECK_EQ_INT(admin_tls_load(&t, path("garbage"), path("server.key"), NULL), -1);
	CHECK_EQ_INT(admin_tls_load(&t, path("server.pem"), path("garbage"), NULL), -1);
	CHECK_EQ_INT(admin_tls_load(&t, path("server.key"), path("server.key"), NULL), -1); /* a key as certificate */
	CHECK(empty(&t));
}

UNIT_TEST(the_key_must_be_the_certificates)
{
	struct admin_tls t;
	CHECK_EQ_INT(admin_tls_load(&t, path("server.pem"), path("other.key"), NULL), -1);
	CHECK_EQ_INT(admin_tls_load(&t, path("other.pem"), path("server.key"), NULL), -1);
	CHECK_EQ_INT(admin_tls_load(&t, path("other.pem"), path("other.key"), NULL), 0); /* self-signed is fine */
	admin_tls_free(&t);
}

UNIT_TEST(the_ca_file_must_hold_a_certificate)
{
	struct admin_tls t;
	CHECK_EQ_INT(admin_tls_load(&t, path("server.pem"), path("server.key"), path("garbage")), -1);
	CHECK_EQ_INT(admin_tls_load(&t, path("server.pem"), path("server.key"), path("ca.key")), -1);
	CHECK(empty(&t));
}

UNIT_MAIN(T(a_good_set_loads), T(bad_files_are_refused), T(the_key_must_be_the_certificates),
	  T(the_ca_file_must_hold_a_certificate))
