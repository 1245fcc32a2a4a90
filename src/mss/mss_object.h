/* The MSS object formats: the one module that knows what cpmd stores in a
 * user's Message Storage Server (docs/internals/mss.md). OMA's exact MSS
 * object formats were not available to us, so this is our own clean RFC 5322 /
 * MIME design that carries the CPM identifiers as headers.
 *
 * An object is built once per store attempt and read as a stream
 * (struct mss_reader): its exact size is known before the first byte (IMAP
 * APPEND sends it as the literal's length), and file contents are read from
 * descriptors in bounded chunks, base64-encoded on the fly, never held whole.
 * Pure code apart from pread/fstat/write on descriptors the caller owns; no
 * global state, so any thread may build and read its own objects. */
#ifndef CPM_MSS_OBJECT_H
#define CPM_MSS_OBJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum mss_kind {
	MSS_FT_HISTORY,      /* a file transfer: the file and its metadata */
	MSS_MESSAGE_HISTORY, /* a standalone (pager or large-mode) message */
	MSS_SESSION_HISTORY, /* a chat session: its messages and notifications */
	MSS_EXPIRED_FILE,    /* a file kept for a recipient who never fetched it */
	MSS_KEPT_FILE,       /* a file kept in the user's store by preference */
};
/* "ft-history", "message-history", "session-history", "expired-file", "kept-file" */
const char *mss_kind_name(enum mss_kind k);

enum mss_direction { MSS_DIR_IN, MSS_DIR_OUT }; /* as seen by the mailbox owner */

/* Limits on what peers control (values are cut, never refused: a history is
 * still worth keeping when a peer sent a silly name). */
#define MSS_VALUE_MAX 512       /* bytes of one header value before encoding */
#define MSS_RECIPIENTS_MAX 64   /* recipients listed in one object */
#define MSS_ID_MAX 128          /* item/session id used for the Message-ID */
#define MSS_RECORD_BODY_MAX (256 * 1024) /* one session record's body */
#define MSS_MESSAGE_ID_MAX 200  /* "<kind.id@cpm.mss>" incl. NUL */
#define MSS_FOLDER_MAX 128      /* "CPM/<conversation>" incl. NUL */

/* Bytes of a part's content: a buffer (buf != NULL) or `len` bytes of a
 * descriptor from offset 0 (read with pread: the caller's offset is left
 * alone and a retry can read again). len = UINT64_MAX: fstat's size. */
struct mss_src {
	const void *buf;
	int fd;
	uint64_t len;
};

struct mss_meta {
	enum mss_kind kind;
	const char *item_id;          /* the store item or session id: makes the Message-ID */
	const char *sender;           /* URI */
	const char *const *recipients;/* URIs */
	size_t nrecipients;
	int64_t time;                 /* seconds since the epoch (UTC) */
	const char *conversation_id;  /* may be NULL */
	const char *contribution_id;  /* may be NULL */
	const char *disposition;      /* "delivered", "displayed", "failed", "expired", ... or NULL */
	enum mss_direction direction;
	/* file kinds */
	const char *file_name;        /* UTF-8 as the peer sent it */
	const char *file_type;        /* MIME type; NULL: application/octet-stream */
	const char *file_hash;        /* "sha-1:AB:CD:..." as in the file-selector, or NULL */
	struct mss_src file;
	const char *thumb_type;       /* NULL: no thumbnail */
	struct mss_src thumb;
	/* MSS_MESSAGE_HISTORY: the message as sent (message/cpim or text/plain) */
	const char *body_type;
	struct mss_src body;
	/* MSS_SESSION_HISTORY: the records file (mss_record_append); its size at
	 * build time is what is stored */
	int records_fd;
};

/* One stored object being read. Owns nothing of the caller's descriptors. */
struct mss_reader;

/* Build the object of `m`: 0 and *out, or -1 with errno (EINVAL: a required
 * field is missing or a descriptor is not a regular file; EFBIG; ENOMEM).
 * The Message-ID is mss_message_id(m->kind, m->item_id). */
int mss_object_open(const struct mss_meta *m, struct mss_reader **out);
/* Exact total size in bytes (for CURLOPT_INFILESIZE_LARGE). */
uint64_t mss_reader_size(const struct mss_reader *r);
const char *mss_reader_message_id(const struct mss_reader *r);
/* Copy the next bytes into buf: > 0 bytes, 0 at the end, -1 with errno if a
 * file changed under us (shrank: EIO) or pread failed. Never more than n. */
ssize_t mss_reader_read(struct mss_reader *r, void *buf, size_t n);
/* Back to the first byte (a retried upload). */
void mss_reader_rewind(struct mss_reader *r);
void mss_reader_free(struct mss_reader *r);

/* "<ft-history.ID@cpm.mss>": the same kind and id always give the same
 * Message-ID (a retry is found by UID SEARCH and not stored twice). An id of
 * [A-Za-z0-9-] only (at most MSS_ID_MAX) is used as is, any other as "x." and
 * the hex SHA-1 of its bytes (no collision: clean ids have no '.'). -1 if
 * id is NULL/empty or cap is too small. */
int mss_message_id(char *out, size_t cap, enum mss_kind kind, const char *item_id);

/* The folder of an object (docs/internals/mss.md): "CPM/Files" for kept and
 * expired files, "CPM/<conversation>" for histories with a Conversation-ID,
 * "CPM/Default" for those without. A conversation id that is not [A-Za-z0-9._-]
 * (or starts with '.') becomes "x-" and its SHA-1 in hex. -1 if cap is too small. */
int mss_folder(char *out, size_t cap, enum mss_kind kind, const char *conversation_id);

/* Session records: the caller appends one record per message or disposition
 * notification to a file it owns (O_APPEND) while the session runs; the
 * session history is built from that file at the end. Every record is one
 * write() of a whole MIME part (base64 body) that starts with its own size, so
 * a record torn by a crash is left out at build time (docs/internals/mss.md). */
enum mss_record_kind { MSS_REC_MESSAGE, MSS_REC_NOTIFICATION };
struct mss_record {
	enum mss_record_kind kind;
	int64_t time;
	const char *from, *to;        /* URIs */
	const char *imdn_id;          /* the message's IMDN Message-ID, or the notified one */
	const char *disposition;      /* notification: "delivered", "displayed", ... */
	const char *content_type;     /* of body: message/cpim, text/plain, message/imdn+xml */
	const void *body;
	size_t body_len;              /* <= MSS_RECORD_BODY_MAX */
};
/* 0, or -1 with errno (EINVAL, EFBIG, ENOMEM, or write's). */
int mss_record_append(int fd, const struct mss_record *rec);

#endif
