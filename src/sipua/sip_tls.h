/* sip_tls: the certificate directory sofia-sip's TLS transport wants. sofia (1.12.11, Debian 12)
 * takes no file names: TPTAG_CERTIFICATE / NUTAG_CERTIFICATE_DIR name a directory holding
 * agent.pem (private key + certificate chain, one file) and cafile.pem (trusted CAs). We build
 * one from --tls-key/--tls-cert/--tls-ca in a fresh 0700 directory, sofia reads it while the
 * transport is created, and we remove it at once: the key never lingers in a shared place. */
#ifndef CPM_SIPUA_SIP_TLS_H
#define CPM_SIPUA_SIP_TLS_H

#include <stddef.h>

/* A path to a temporary directory fits in this (TMPDIR is bounded to leave room). */
#define SIP_TLS_DIR_MAX 512

/* Builds the directory: agent.pem = key then cert; cafile.pem = ca, or the cert itself when
 * ca is NULL (a self-signed certificate trusts itself). cert/key NULL (a client that shows
 * no certificate): no agent.pem. Returns 0, or -1 with a reason in
 * why (a file that cannot be read, no room in TMPDIR). */
int sip_tls_dir_make(const char *cert, const char *key, const char *ca, char dir[SIP_TLS_DIR_MAX], char *why,
		     size_t whylen);
/* Removes what sip_tls_dir_make made (the two files and the directory). */
void sip_tls_dir_remove(const char *dir);

#endif
