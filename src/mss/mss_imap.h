/* The MSS client over IMAP (libcurl): stores one object in a user's folder,
 * acting for the user through the server's master user (Dovecot:
 * "user*master"). Synchronous and blocking: call it from a worker thread,
 * never from the event loop. Thread-safe: libcurl is initialised once
 * (pthread_once), every call has its own easy handle and connection, and
 * nothing is shared between calls. docs/internals/mss.md. */
#ifndef CPM_MSS_IMAP_H
#define CPM_MSS_IMAP_H

#include <stddef.h>

#include "mss/mss_object.h"

struct mss_imap_cfg {
	const char *url;             /* "imap://HOST:PORT" or "imaps://HOST:PORT" */
	const char *master_user;
	const char *master_password;
	const char *ca_file;         /* imaps: CA bundle; NULL: the system's */
	long connect_timeout_ms;     /* 0: 10 s */
	long response_timeout_s;     /* a server that stops answering; 0: 30 s */
	long low_speed_time_s;       /* upload slower than 1 KiB/s this long; 0: 60 s */
	const char *check_user;      /* mss_imap_check logs in as "check_user*master";
					NULL: as the master user alone */
};

enum mss_result {
	MSS_STORED = 0,     /* appended now */
	MSS_ALREADY = 1,    /* an object with this Message-ID is in the folder */
	MSS_TRANSIENT = -1, /* server down, timeout, refused login: retry later */
	MSS_PERMANENT = -2, /* retrying cannot help (too big, no permission, bad argument) */
};

/* Store the object of `r` (its Message-ID: mss_reader_message_id) in `folder`
 * of `user` (the IMAP login name), creating the folder path if missing. A
 * UID SEARCH for the Message-ID comes first, so a retry never stores twice.
 * `why` gets one line for the log on every result but MSS_STORED. The reader
 * stays the caller's (rewound here before use). */
enum mss_result mss_imap_store(const struct mss_imap_cfg *cfg, const char *user, const char *folder,
			       struct mss_reader *r, char *why, size_t whylen);

/* Start-up check of --mss: log in with the master credentials (Dovecot
 * accepts a master passdb entry only together with a user to act for, hence
 * cfg->check_user) and send NOOP. */
enum mss_result mss_imap_check(const struct mss_imap_cfg *cfg, char *why, size_t whylen);

#endif
