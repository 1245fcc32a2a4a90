/* admin_tls.h: the admin port's TLS files and the client certificate check. */
#include "admin/admin_tls.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"

/* A PEM file of certificates or a key is a few KiB; a CA bundle (Debian's: ~200 KiB) fits. */
#define ADMIN_TLS_FILE_MAX (1024 * 1024)

/* The whole file, NUL-terminated (malloc'ed), or NULL with a log line naming option and file. */
static char *read_pem(const char *opt, const char *file)
{
	FILE *f = fopen(file, "re");
	struct stat st;
	char *text = NULL;
	if (!f) {
		log_error("admin: --%s %s: %s", opt, file, strerror(errno));
		return NULL;
	}
	if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode) || st.st_size > ADMIN_TLS_FILE_MAX)
		log_error("admin: --%s %s: not a regular file of at most %d bytes", opt, file, ADMIN_TLS_FILE_MAX);
	else if (!(text = malloc((size_t)st.st_size + 1)))
		log_error("admin: --%s %s: out of memory", opt, file);
	else if (fread(text, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
		log_error("admin: --%s %s: %s", opt, file, ferror(f) ? strerror(errno) : "shorter than its size");
		free(text);
		text = NULL;
	} else
		text[st.st_size] = '\0';
	fclose(f);
	return text;
}

static gnutls_datum_t datum(char *text)
{
	return (gnutls_datum_t){(unsigned char *)text, (unsigned)strlen(text)};
}

/* The texts as libmicrohttpd will use them: each parses on its own (so the message names the
 * faulty file), then the key must be the certificate's. */
static int check(const struct admin_tls *t, const char *cert_file, const char *key_file, const char *ca_file)
{
	gnutls_datum_t c = datum(t->cert), k = datum(t->key);
	gnutls_x509_crt_t *chain = NULL;
	unsigned n = 0;
	int rc = gnutls_x509_crt_list_import2(&chain, &n, &c, GNUTLS_X509_FMT_PEM, 0);
	if (rc < 0) {
		log_error("admin: --admin-tls-cert %s: not a PEM certificate chain: %s", cert_file, gnutls_strerror(rc));
		return -1;
	}
	for (unsigned i = 0; i < n; i++)
		gnutls_x509_crt_deinit(chain[i]);
	gnutls_free(chain);
	gnutls_x509_privkey_t pk;
	if ((rc = gnutls_x509_privkey_init(&pk)) < 0)
		return -1;
	rc = gnutls_x509_privkey_import2(pk, &k, GNUTLS_X509_FMT_PEM, NULL, 0);
	gnutls_x509_privkey_deinit(pk);
	if (rc < 0) {
		log_error("admin: --admin-tls-key %s: not an unencrypted PEM private key: %s", key_file, gnutls_strerror(rc));
		return -1;
	}
	gnutls_certificate_credentials_t cred;
	if (gnutls_certificate_allocate_credentials(&cred) < 0)
		return -1;
	rc = gnutls_certificate_set_x509_key_mem2(cred, &c, &k, GNUTLS_X509_FMT_PEM, NULL, 0);
	if (rc < 0)
		log_error("admin: --admin-tls-cert %s and --admin-tls-key %s: %s", cert_file, key_file, gnutls_strerror(rc));
	else if (t->ca) {
		gnutls_datum_t a = datum(t->ca);
		int nca = gnutls_certificate_set_x509_trust_mem(cred, &a, GNUTLS_X509_FMT_PEM);
		if (nca <= 0) {
			log_error("admin: --admin-tls-ca %s: no PEM CA certificate in it%s%s", ca_file, nca < 0 ? ": " : "",
				  nca < 0 ? gnutls_strerror(nca) : "");
			rc = -1;
		}
	}
	gnutls_certificate_free_credentials(cred);
	return rc < 0 ? -1 : 0;
}

int admin_tls_load(struct admin_tls *t, const char *cert_file, const char *key_file, const char *ca_file)
{
	memset(t, 0, sizeof *t);
	if (!(t->cert = read_pem("admin-tls-cert", cert_file)) || !(t->key = read_pem("admin-tls-key", key_file)) ||
	    (ca_file && *ca_file && !(t->ca = read_pem("admin-tls-ca", ca_file))) || check(t, cert_file, key_file, ca_file)) {
		admin_tls_free(t);
		return -1;
	}
	return 0;
}

void admin_tls_free(struct admin_tls *t)
{
	if (t->key) /* a private key: not left in freed memory */
		explicit_bzero(t->key, strlen(t->key));
	free(t->cert);
	free(t->key);
	free(t->ca);
	memset(t, 0, sizeof *t);
}

bool admin_tls_client_ok(struct MHD_Connection *conn, char *why, size_t cap)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	gnutls_session_t s = ci ? (gnutls_session_t)ci->tls_session : NULL;
	unsigned npeers = 0, status = 0;
	if (!s) {
		snprintf(why, cap, "not a TLS connection");
		return false;
	}
	if (!gnutls_certificate_get_peers(s, &npeers) || !npeers) {
		snprintf(why, cap, "no client certificate");
		return false;
	}
	/* chained to --admin-tls-ca (the session's trust, set by libmicrohttpd from it), in its
	 * validity period, and not restricted to other uses than TLS client authentication */
	gnutls_typed_vdata_st purpose = {GNUTLS_DT_KEY_PURPOSE_OID, (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT, 0};
	int rc = gnutls_certificate_verify_peers(s, &purpose, 1, &status);
	if (rc < 0) {
		snprintf(why, cap, "client certificate not verified: %s", gnutls_strerror(rc));
		return false;
	}
	if (status) {
		gnutls_datum_t out = {NULL, 0};
		if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &out, 0) < 0)
			out.data = NULL;
		snprintf(why, cap, "client certificate refused: %s", out.data ? (const char *)out.data : "not trusted");
		gnutls_free(out.data);
		for (size_t n = strlen(why); n && why[n - 1] == ' ';) /* GnuTLS ends each sentence with one */
			why[--n] = '\0';
		return false;
	}
	return true;
}
