/* 1-1 chat sessions of the client (docs/internals/messaging.md §5-7, docs/internals/cpm.md
 * "Chat sessions"): `cpm chat TARGET` invites (chat.c), `cpm receive` accepts (session_in.c),
 * and both run the same MSRP session (chat_msrp.c) over the xfer that holds the SIP dialog
 * and the MSRP connection (x->conn): we connect to the server's a=path (we are always
 * active), bind with an empty SEND, then send and receive whole messages:
 *   - a chat message: SEND message/cpim (cpim_build: imdn.Message-ID, DateTime,
 *     Disposition-Notification), the CPIM content text/plain, chunked by --chunk-size;
 *   - a report: SEND message/cpim wrapping message/imdn+xml (imdn_build_cpim).
 * What comes in is kept in memory until its last chunk (at most CHAT_IN_MAX, 413 beyond),
 * then printed: `chat SENDER CONVERSATION-ID TEXT` or `notification STATUS ID`.
 *
 * Ownership: the session belongs to its xfer (x->chat), freed with it (xfer_reap calls
 * chat_free). Loop thread only. */
#ifndef CPM_CLIENT_CHAT_H
#define CPM_CLIENT_CHAT_H

#include "cpm.h"

/* A chat line from stdin, and an incoming message, are at most this big: far beyond a=max-size
 * (cpmd's default 65536), so that the server's 413 is what a too long line meets. */
#define CHAT_LINE_MAX (1024u * 1024)
#define CHAT_IN_MAX (1024u * 1024)
/* Chunks sent and not answered yet (Failure-Report: yes), and bytes queued: reading stdin
 * stops beyond them (back-pressure from the session to the user). */
#define CHAT_WAIT_MAX 64
#define CHAT_QUEUE_MAX (2u * 1024 * 1024)
/* imdn.Message-IDs remembered per session: a repeat is acknowledged, not printed twice. */
#define CHAT_SEEN 64
#define CHAT_ID_MAX 64 /* our imdn.Message-IDs are 32 characters; a peer's up to this */
#define CHAT_CONV_MAX 128

/* One outgoing message: its CPIM body, sent chunk by chunk. */
struct chat_out {
	struct chat_out *next;
	char msgid[MSRP_MSGID_MAX + 1]; /* MSRP Message-ID */
	char imdn_id[CHAT_ID_MAX + 1];  /* its imdn.Message-ID (for the user's lines) */
	bool is_chat;                   /* a chat message (a report's refusal is only logged) */
	char *body;
	size_t len, off;                /* bytes; next byte to put in a chunk */
};

/* A chunk that waits for its response. */
struct chat_wait {
	char tid[MSRP_TID_MAX + 1];
	char imdn_id[CHAT_ID_MAX + 1];
	bool is_chat;
};

struct chat_sess {
	struct xfer *x;
	bool inviter;                   /* cpm chat (we sent the INVITE) */
	char conv_id[CHAT_CONV_MAX + 1];
	char peer_uri[CPM_URI_MAX];     /* the other user: To of what we send, SENDER of `session` */
	bool connected;                 /* MSRP connected and our binding SEND queued */
	bool ended;                     /* the session is over (its line printed) */
	bool bye_by_us;                 /* we ended it (EOF, /quit) */
	/* outgoing */
	struct chat_out *q_head, *q_tail;
	size_t q_bytes;
	struct chat_wait wait[CHAT_WAIT_MAX];
	unsigned nwait;
	char refused_id[CHAT_ID_MAX + 1]; /* the last message whose refusal was reported */
	unsigned sent, refused;
	/* incoming: the message being assembled */
	char in_msgid[MSRP_MSGID_MAX + 1];
	char *in_buf;
	size_t in_len, in_cap;
	int in_status;                  /* 0, or the error to answer for the rest of it */
	char seen[CHAT_SEEN][CHAT_ID_MAX + 1];
	unsigned nseen;
	unsigned received;
	double idle_since;              /* chat: EOF seen, waiting for the answers (0: not) */
};

/* chat_msrp.c */
struct chat_sess *chat_new(struct xfer *x, bool inviter);
/* Connect to x->remote_host:port (the first URI of the server's a=path) and bind. 0, or -1
 * with a reason. */
int chat_msrp_start(struct chat_sess *c, char *err, size_t cap);
/* Queue a chat message (text/plain content) to the peer. imdn_id gets its imdn.Message-ID.
 * 0, or -1 (cannot build, out of memory). */
int chat_send_text(struct chat_sess *c, const char *text, size_t len, char imdn_id[CHAT_ID_MAX + 1]);
/* Nothing queued and every chunk answered. */
bool chat_quiet(const struct chat_sess *c);
/* Bytes queued that the connection has not taken: stdin is not read above CHAT_QUEUE_MAX. */
size_t chat_backlog(const struct chat_sess *c);
void chat_msrp_close(struct chat_sess *c);

/* chat.c: the inviter's side (`cpm chat`) */
void chat_cli_ended(struct xfer *x, int code, const char *line); /* the session is over */
void chat_cli_tick(struct xfer *x, double now);
void chat_cli_forget(struct xfer *x);           /* the session's xfer is freed */
/* session_in.c: the invited side (`cpm receive`) */
void session_in_ended(struct xfer *x, bool accepted); /* prints `session ... ended` */

/* chat.c / session_in.c: the MSRP side tells its owner */
void chat_on_lost(struct chat_sess *c, const char *reason); /* MSRP connection gone */
void chat_on_drained(struct chat_sess *c);                  /* room again (stdin) */

#endif
