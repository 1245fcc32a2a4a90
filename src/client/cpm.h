/* cpm: the CPM client (device / user agent): file transfer and standalone messages.
 *
 * One process, one thread, one su_root event loop: sofia-sip nua does the
 * SIP side (REGISTER, INVITE, BYE), our own non-blocking TCP connections do
 * MSRP (mconn.c). A transfer (struct xfer) joins one SIP dialog and one MSRP
 * connection; `send` runs one outgoing transfer, `blast` many, `receive`
 * takes any number of incoming ones in parallel.
 *
 * Files, one job each:
 *   main.c       command line, usage, exit codes
 *   agent.c      nua set-up, event dispatch, the loop, tick, signals, shutdown
 *   xfer.c       transfer objects: result (xfer_done), SIP ending, freeing
 *   sip_out.c    send / blast: INVITE with our offer, meaning of the answer
 *   sip_in.c     incoming INVITE: checks, 200/603/180, MSRP start on ACK
 *   offer.c      SDP offers/answers and multipart bodies (no sofia)
 *   mconn.c      one MSRP TCP connection: connect, read + parse, write queue
 *   msrp_out.c   sending a file as one chunked MSRP message
 *   msrp_in.c    receiving a file into --dir (part file, hash, rename)
 *   pull.c       fetch (RFC 5547 pull of a stored item) and list
 *   notify.c     incoming SIP MESSAGEs: delivery notifications, deferred lists,
 *                standalone messages (to msg_in.c)
 *   msg_out.c    `message`: one pager-mode standalone message (SIP MESSAGE, CPIM)
 *   msg_in.c     standalone messages in: print, drop repeats, send delivered /
 *                displayed reports (IMDN)
 *   largemsg.c   standalone messages in Large Message Mode: the INVITE, the
 *                message sent from memory; recognising an incoming one
 *   resume.c     what resume keeps on disk: the send journal, kept partials
 *   hash_cache.c the sha-1 of a file already sent, kept while the file is unchanged
 *   safe_name.c  turning a peer's file name into a safe local one (no sofia)
 *   progress.c   progress bar on a tty
 *   util.c       UUIDs, MIME types, dates, addresses, logging
 *
 * Ownership: the app owns every xfer (doubly linked list); an xfer owns its
 * nua handle (bound with nua_handle_bind), its mconn and its files. An xfer
 * is freed by xfer_reap() once its handle is destroyed and its connection
 * closed; nothing frees an xfer from inside a callback that still uses it.
 */
#ifndef CPM_CLIENT_H
#define CPM_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <openssl/evp.h>
#include <sofia-sip/nua.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/su_wait.h>

#include "cpm/hex.h"
#include "cpm/icsi.h"
#include "cpm/msrp.h"
#include "cpm/random.h"
#include "cpm/sdp.h"
#include "cpm/wbuf.h"

/* Exit codes (documented in docs/internals/cpm.md and --help). */
enum {
	CPM_EXIT_OK = 0,
	CPM_EXIT_FAILED = 1,
	CPM_EXIT_USAGE = 2,
	CPM_EXIT_DECLINED = 3,
	CPM_EXIT_REJECTED = 4,
};

/* The percent-encoded FT ICSI, for "+g.3gpp.icsi-ref=\"...\"" built here. */
#define CPM_ICSI_FT_ENC "urn%3Aurn-7%3A3gpp-service.ims.icsi.oma.cpm.filetransfer"

/* Our own limits (what we send, not what a peer controls). */
#define CPM_CHUNK_DEFAULT 65536u
#define CPM_CHUNK_MIN 1024u
#define CPM_CHUNK_MAX (4u * 1024 * 1024)
#define CPM_WINDOW_BYTES (4u * 1024 * 1024) /* unacknowledged bytes in flight */
#define CPM_THUMB_MAX (100u * 1024)
#define CPM_PROGRESS_TIMEOUT 30 /* seconds without progress: failed: timeout */
#define CPM_URI_MAX 512
/* Incoming transfers at once (each holds two sockets, a file and ~150 KB):
 * beyond this an INVITE gets 486, so a flood cannot exhaust fds or memory. */
#define CPM_MAX_TRANSFERS 2000
/* --expires: at most 10 years (of 365.25 days) */
#define CPM_EXPIRES_MAX 315576000ULL
/* Resume bookkeeping on disk (send journal, kept partial's sidecar) is
 * rewritten at most every this many bytes or seconds, and at the end. */
#define CPM_RESUME_SAVE_BYTES (1024u * 1024)
#define CPM_RESUME_SAVE_SECONDS 1.0
/* Re-REGISTER after losing the registration: 1 s, doubling, at most 30 s. */
#define CPM_REREG_MIN 1.0
#define CPM_REREG_MAX 30.0
/* Stored item ids (store-and-forward contract §4: [A-Za-z0-9_-]{1,32}). */
#define CPM_ITEM_ID_MAX 32
/* Large Message Mode (docs/internals/messaging.md §2): an incoming message is received
 * into memory (a memfd) until it is whole, so its size is bounded (the whole CPIM body;
 * cpmd's --max-message-size default is the same). A message whose CPIM body is over
 * CPM_PAGER_MAX goes in large mode (RFC 3428 §8: 1300 bytes); its text (TEXT "-": standard
 * input) may be up to CPM_LARGE_TEXT_MAX. */
#define CPM_MSG_MAX (16u * 1024 * 1024)
#define CPM_PAGER_MAX 1300u
#define CPM_LARGE_TEXT_MAX (CPM_MSG_MAX - 4096)
/* Message-IDs of standalone messages remembered by `receive` to drop a repeat (a server that
 * crashed between our 200 and its bookkeeping sends it again): the last this many. */
#define CPM_SEEN_MSGIDS 256
#define CPM_MSGID_MAX 128 /* IMDN_MAX_MSGID */
/* A fetched stored message is read into memory up to this (bigger: saved like a file); a
 * large message may be as big as cpmd's --max-message-size default. */
#define CPM_FETCH_MSG_MAX CPM_MSG_MAX

enum cpm_cmd { CMD_NONE, CMD_SEND, CMD_RECEIVE, CMD_BLAST, CMD_FETCH, CMD_LIST, CMD_MESSAGE, CMD_CHAT };
enum cpm_answer { ANSWER_ACCEPT, ANSWER_DECLINE, ANSWER_IGNORE, ANSWER_UNAVAILABLE };

struct cpm_opts {
	enum cpm_cmd cmd;
	const char *server;           /* ADDR:PORT as given */
	char server_host[256];
	uint16_t server_port;
	/* --outbound-proxy SIP-URI (NULL: none). Every request but REGISTER goes to the first
	 * hop, the outbound proxy when given, else --server; REGISTER always goes to --server
	 * (the registrar). */
	const char *outbound_proxy;
	char hop[300];                /* the first hop as ADDR:PORT (for messages) */
	char hop_host[256];
	uint16_t hop_port;
	const char *user;             /* sip:U@D */
	char aor[CPM_URI_MAX];        /* normalised, with "sip:" */
	char domain[256];
	const char *device;
	const char *password;         /* --password / $CPM_PASSWORD: digest challenges (NULL: none) */
	bool tcp;                     /* a stream transport: TCP, or TLS (then tls too) */
#define CPM_SYSTEM_CA "/etc/ssl/certs/ca-certificates.crt" /* Debian's trusted CAs */
	bool tls;                     /* --transport tls: SIP over TLS, the server checked */
	const char *ca;               /* --ca FILE: CAs trusted for the server's certificate */
	const char *cert, *key;       /* --cert/--key FILE: our client certificate (TLS; both or NULL) */
	bool verbose;
	size_t chunk_size;
	const char *push_params;      /* --push PROVIDER:PRID[:PARAM]: RFC 8599 Contact URI params */
	char local_ip[64];            /* address used to reach the first hop */

	/* send / blast */
	const char *target;
	char target_uri[CPM_URI_MAX];
	const char *file;
	const char *thumbnail;
	const char *conversation_id;
	const char *in_reply_to;
	unsigned invite_timeout;      /* seconds without a final answer */
	unsigned long long expires;   /* --expires (Cpm-Expires); 0 = not given */
	const char *journal;          /* --journal DIR, or NULL for the default */
	bool no_resume;               /* --no-resume */
	const char *item_id;          /* fetch ID */
	unsigned count;               /* blast: transfers; receive: files (0 = no limit) */
	unsigned parallel;
	uint64_t blast_size;

	/* message */
	const char *text;
	bool no_report;               /* --no-report: ask for no IMDN */
	bool large;                   /* --large: Large Message Mode whatever the size (largemsg.c) */

	/* receive */
	bool read;                    /* --read: send `displayed` reports when asked */
	/* --disk-thread: incoming files of 256 KiB and up written and hashed by a worker thread
	 * (msrp_in_disk.c). auto: only with CPM_DISK_THREAD_AUTO_CPUS online CPUs or more (on two
	 * cores shared with the sender and the server it cost 20 % and more CPU: BENCHMARKS) */
	enum cpm_disk_thread { CPM_DISK_THREAD_AUTO, CPM_DISK_THREAD_ON, CPM_DISK_THREAD_OFF } disk_thread;
#define CPM_DISK_THREAD_AUTO_CPUS 4
	const char *dir;
	char dir_abs[4096];
	unsigned timeout;             /* receive: 0 = none */
	enum cpm_answer answer;
	double answer_delay;
	/* chat sessions (chat.c, session_in.c; docs/internals/messaging.md §5-7) */
	const char *reply;            /* receive --reply TEXT: answer each chat message with TEXT */
};

enum xfer_dir { XFER_OUT, XFER_IN };

enum xfer_state {
	XS_INVITING,   /* out: INVITE sent, no final answer yet */
	XS_RINGING,    /* in: INVITE received, until the ACK of our 200 */
	XS_CONNECTING, /* TCP connect in progress */
	XS_ACTIVE,     /* MSRP running */
	XS_DONE,       /* result printed; waiting for SIP/TCP to wind down */
};

struct inflight {
	char tid[MSRP_TID_MAX + 1];
	uint64_t end; /* offset just past the chunk's last byte */
	bool acked;
};

struct mconn;
struct chat_sess;
struct cpm_app;

/* Chunks of an incoming file whose 200 waits for the disk worker (msrp_in_disk.c); the input
 * is held while this many wait (a 2 MiB ring holds 32 chunks of 64 KiB). */
#define IN_DISK_ACKS 64

struct in_pend;

struct xfer {
	struct cpm_app *app;
	struct xfer *prev, *next;
	enum xfer_dir dir;
	enum xfer_state state;
	unsigned id;                  /* for logs */
	nua_handle_t *nh;
	bool dialog_up;               /* 200 sent/received: BYE needed to end */
	bool final_seen;              /* final response received (out) or sent (in) */
	bool bye_sent;                /* BYE/CANCEL/480 sent: once only */
	struct mconn *conn;
	double last_progress;         /* monotonic seconds */
	double started;
	double answer_at;             /* in: > 0 answer then (--answer-delay); 0 not
				       * scheduled (ignore); -1 answered with 200 */
	double invite_deadline;       /* out: no final answer by then */

	/* description of the file (both directions) */
	struct sdp_file_selector sel;
	char ftid[SDP_MAX_TOKEN + 1];
	char local_sid[32];
	char local_path[256];         /* our a=path URI */
	char remote_path[SDP_MAX_PATH + 1];
	char msgid[MSRP_MSGID_MAX + 1];
	char remote_host[SDP_MAX_TOKEN + 1]; /* where to connect (first a=path URI) */
	uint16_t remote_port;
	bool remote_tls;              /* the path is msrps: (RFC 4975 §14) */
	char remote_fp[SDP_MAX_FINGERPRINT + 1]; /* its SDP a=fingerprint, or "" */
	char safe[256];               /* in: safe local name of the file */
	bool success;
	bool repeat;                  /* a re-delivery of a file this --dir already has (recv_log.c) */                 /* set by xfer_done */
	bool pull;                    /* fetch: an incoming file we asked for */
	bool msg;                     /* a standalone message (message/cpim), received into memory
				       * (a memfd as part file) and printed by msg_in.c: a fetched
				       * stored one, or an incoming large message (is_msg) */
	uint64_t base;                /* resume: file offset where our range starts */
	bool offered_range;           /* out/pull: our offer had a=file-range */
	char display[64];             /* short name for progress/logs */

	/* out */
	int src_fd;                   /* file to send, or -1 */
	bool src_regular;             /* src_fd is a regular file: bodies may leave by sendfile() */
	bool src_dash_free;           /* the file holds no run of seven '-': no chunk needs the tid check */
	const uint8_t *src_mem;       /* blast: shared random buffer */
	uint64_t next_off;            /* next byte to put on the wire */
	uint64_t acked_off;           /* all bytes below are acknowledged */
	bool zero_sent;
	struct inflight *ring;
	size_t ring_cap, ring_head, ring_len;
	char *chunk_buf;
	bool report_ok;
	char stored_id[CPM_ITEM_ID_MAX + 1]; /* Cpm-Stored of the final 200/REPORT */

	/* a standalone message in Large Message Mode (largemsg.c) */
	bool msg_from_store;          /* in: the server delivers it from its store (deferred ICSI),
				       * so it may be a repeat after a server crash (msg_in.c) */
	bool is_msg;                  /* a large-message session: no selector on the wire (our
				       * offer/answer say accept-types message/cpim); in: the size
				       * is the first chunk's Byte-Range total (at most CPM_MSG_MAX) */

	/* a 1-1 chat session (chat.h): the dialog and MSRP connection are this xfer's, the
	 * session's own state is there; NULL for a file or a large message */
	struct chat_sess *chat;

	/* in */
	int part_fd;
	char part_name[288];
	uint64_t contig;              /* bytes from the start written in order */
	uint64_t ooo_bytes;           /* bytes written out of order */
	bool ooo;
	bool got_last;                /* '$' seen */
	bool have_msgid;
	uint64_t cur_off;             /* current chunk: file offset of its next byte */
	bool cur_ours;                /* current SEND carries our file */
	bool cur_open;                /* between a SEND's head and its end-line */
	int cur_status;               /* current SEND: 200 so far, or the error to answer */
	EVP_MD_CTX *md;
	uint8_t *thumb;               /* decoded thumbnail from the INVITE */
	size_t thumb_len;
	char thumb_ext[16];
	char meta_name[300];          /* sidecar of the part file ("" = none) */
	bool meta_kept;               /* resumed from a kept partial */
	uint64_t meta_saved;          /* contig when the sidecar was last written */
	double meta_t;
	/* the part file written and hashed off the loop (msrp_in_disk.c, common/disk_ring.h) */
	struct disk_ring *disk;       /* NULL: written and hashed inline (a small file, a message) */
	bool disk_wanted;             /* decided in msrp_in_prepare: the ring starts at the first byte */
	int disk_widx;                /* its eventfd in the su_root (0: none) */
	struct in_pend *disk_fin;     /* the '$' chunk waiting for the worker's digest */
	struct in_pend *disk_acks[IN_DISK_ACKS]; /* chunks whose 200 waits for their bytes' write */
	unsigned disk_ack_n;
	char item_id[CPM_ITEM_ID_MAX + 1]; /* pull: the stored item */
};

struct chat_cli;

struct cpm_app {
	struct cpm_opts *o;
	struct chat_cli *chat_cli;    /* `chat`: the command's state (chat.c) */
	su_root_t *root;
	nua_t *nua;
	su_timer_t *tick;
	nua_handle_t *reg_nh;
	/* challenges answered in a row, per request handle (agent.c: a loop guard; per handle, so
	 * 32 transfers in flight each get their own first challenge answered) */
#define CPM_AUTH_SLOTS 256
	struct {
		const void *nh;
		unsigned rounds;
	} auth_rounds[CPM_AUTH_SLOTS];
	bool registered;
	bool unregistering;
	int dir_fd;                   /* receive: --dir, opened once */
	int sig_fd;
	int sig_index;
	struct xfer *xfers;
	unsigned nxfers;
	unsigned next_id;
	int exit_code;
	bool shutting_down;
	double shutdown_deadline;
	double deadline;              /* receive --timeout */
	char instance[64];            /* urn:uuid:... */
	char features[256];           /* Contact feature tags */
	char proxy_tcp[320];          /* the first hop over TCP (big requests) */
	char registrar[320];          /* --server as a URI: where REGISTER goes */
	char contact[400];            /* our Contact with the feature tags */
	bool ever_registered;
	bool reg_lost;                /* registration lost: re-REGISTER with back-off */
	double reg_backoff;
	double reg_retry_at;          /* 0 = no retry scheduled */

	/* send: what the INVITE (and a fallback INVITE after 488) needs */
	struct sdp_file_selector send_sel;
	long send_mtime;
	int send_fd;
	bool send_dash_free; /* send_fd's file holds no run of seven '-' (hash_cache_sha1) */
	uint8_t *send_thumb;
	size_t send_thumb_len;
	const char *send_thumb_type;
	char imdn_id[SDP_MAX_TOKEN + 1]; /* file-transfer-id of the first attempt */
	char journal_path[4200];      /* "" = no journal */
	char recv_log[4200];          /* receive: recv_log.c ("" = none) */
	uint64_t journal_acked;       /* what the journal says */
	char *msg_cpim;               /* message: the whole CPIM body we send (large mode) */
	size_t msg_cpim_len;
	double journal_t;

	/* message: our MESSAGE */
	nua_handle_t *msg_nh;
	/* standalone messages in: the last Message-IDs (a ring), reports in flight */
	char seen[CPM_SEEN_MSGIDS][CPM_MSGID_MAX + 1];
	unsigned seen_next;
	unsigned reports_pending;

	/* results */
	unsigned received;
	unsigned blast_started, blast_ok, blast_failed;
	double blast_t0;
	char blast_run[8];
	uint8_t *blast_buf;
	struct sdp_file_selector blast_sel;
	bool progress_tty;
};

/* agent.c */
int agent_run(struct cpm_app *app);
void agent_finish(struct cpm_app *app, int exit_code); /* start the staged shutdown */

/* xfer.c */
struct xfer *xfer_new(struct cpm_app *app, enum xfer_dir dir);
/* digest_client.c: our Digest client (SHA-256 and MD5) in place of sofia's; once, before
 * nua_create. */
int cpm_digest_client_register(void);
/* The transfer has its result: `code` is an exit code (CPM_EXIT_*); `line`
 * (may be NULL) is the stdout result line of send. Tears down MSRP and SIP
 * (a successful incoming transfer waits for the sender's BYE instead). */
void xfer_done(struct xfer *x, int code, const char *line);
void xfer_sip_end(struct xfer *x); /* BYE / CANCEL / 480 as the state needs, once */
void xfer_reap(struct xfer *x);    /* free if done, handle destroyed, connection closed */

/* sip_out.c */
int send_start(struct cpm_app *app);
int blast_start(struct cpm_app *app);
void blast_next(struct cpm_app *app);
void blast_summary(struct cpm_app *app);
/* What an answer to our INVITE means before a command's own handling (send and fetch share
 * it): a 1xx is logged (HANDLED); a late 2xx — we gave up, a CANCEL crossed it — is BYEd
 * (HANDLED); a final answer on a finished transfer is ignored (HANDLED); else a timely 2xx
 * (ANSWERED) or a failure to report (FAILED), both logged. */
enum xfer_answer { XA_HANDLED, XA_ANSWERED, XA_FAILED };
enum xfer_answer xfer_answer_classify(struct xfer *x, int status, const char *phrase);
void out_invite_answer(struct xfer *x, int status, const char *phrase, const sip_t *sip);
void sip_ctype_string(const sip_content_type_t *c, char *out, size_t cap);

/* sip_out.c: the INVITE of an outgoing transfer x (x->nh made here): the CPM headers
 * (Contribution-ID, Conversation-ID, InReplyTo-Contribution-ID, Cpm-Expires), the service
 * (P-Preferred-Service URN, Accept-Contact value), our Contact, the body (over TCP when
 * over 1500 bytes on UDP). 0, or -1: x is done, for the caller to reap. */
int xfer_invite(struct xfer *x, const char *service, const char *accept_contact, const char *body,
		const char *ctype);
/* sip_out.c: the one send INVITE (base > 0: resume from that offset) */
int send_invite(struct cpm_app *app, uint64_t base);

/* pull.c */
int fetch_start(struct cpm_app *app);
int list_start(struct cpm_app *app);
void pull_answer(struct xfer *x, int status, const char *phrase, const sip_t *sip);
bool list_answer(struct cpm_app *app, nua_handle_t *nh, int status, const char *phrase, const sip_t *sip);
bool local_response(int status, const sip_t *sip); /* sip_out.c */
/* sip_out.c: the stdout line for a response local_response() says our own
 * stack made up: "failed: no answer from the server at ADDR:PORT (udp|tcp)"
 * for its 503 (transport error) and 408 (timeout), else "failed: SIP N PHRASE".
 * ADDR:PORT is the first hop (o->hop); local_failure_line_to names HOP instead
 * (REGISTER, which goes to --server even when there is an outbound proxy). */
void local_failure_line_to(const struct cpm_app *app, const char *hop, int status, const char *phrase,
			   const sip_t *sip, char *out, size_t cap);
void local_failure_line(const struct cpm_app *app, int status, const char *phrase, const sip_t *sip, char *out,
			size_t cap);

/* notify.c: an incoming MESSAGE (answered here, handle destroyed) */
void notify_message(struct cpm_app *app, nua_handle_t *nh, const sip_t *sip);
/* The answer to a MESSAGE we sent: the `message` command's, the list query's (pull.c), or a
 * report's (msg_in.c). */
void message_answered(struct cpm_app *app, nua_handle_t *nh, int status, const char *phrase, const sip_t *sip);

/* msg_out.c */
int message_start(struct cpm_app *app);
/* msg_out.c, for other senders of standalone messages (cpm chat's fallback): the CPIM of one
 * text message to TARGET (msgid gets its imdn.Message-ID; *body malloc()ed), and its pager
 * MESSAGE with the CPM headers (o->conversation_id when set): the handle, whose answers come
 * to message_answered (NULL: not sent). message_stored: a 2xx that says the server kept it
 * (202 Accepted, Cpm-Stored). */
int message_build(struct cpm_app *app, const char *text, size_t tlen, char msgid[33], char **body, size_t *len);
nua_handle_t *message_send(struct cpm_app *app, const char *body, size_t len);
bool message_stored(int status, const sip_t *sip);
void message_answer(struct cpm_app *app, int status, const char *phrase, const sip_t *sip);

/* msg_in.c: a standalone message (message/cpim body, any content but an IMDN). Prints
 * `message SENDER ID TEXT` (a repeat of a recent Message-ID is not printed again) and sends
 * the reports it asked for (delivered; displayed with --read). Returns the SIP status to
 * answer (200, or 400 with why); call msg_in_reports after the 200 went. */
struct msg_in_reports {
	char to[CPM_URI_MAX];            /* the original sender ("" = none to send) */
	char msgid[CPM_MSGID_MAX + 1];
	char datetime[64];
	bool delivered, displayed;
};
int msg_in(struct cpm_app *app, const char *body, size_t len, bool from_store, struct msg_in_reports *rep, char *why,
	   size_t cap);
void msg_in_reports(struct cpm_app *app, const struct msg_in_reports *rep);
/* a report MESSAGE of ours was answered */
void msg_in_report_answered(struct cpm_app *app, nua_handle_t *nh, int status, const char *phrase);
/* the deferred list of a MESSAGE or of `list`'s 200: prints `deferred ...`;
 * returns items printed, or < 0 on a bad body */
int deferred_print(struct cpm_app *app, const char *body, size_t len);

/* resume.c: send journal (one file per user/target/file/size/mtime/sha-1) */
void journal_init(struct cpm_app *app, const char *path, long long mtime_ns);
void journal_save(struct cpm_app *app, uint64_t acked);
void journal_progress(struct cpm_app *app, uint64_t acked);
void journal_remove(struct cpm_app *app);
/* resume.c: kept partial files of interrupted incoming transfers, each with a
 * sidecar DIR/.NAME.cpm-part.meta (name, size, type, sha-1, bytes, item id) */
struct partial {
	char part[288];
	char meta[300];
	uint64_t bytes;                 /* bytes from the start we hold */
	struct sdp_file_selector sel;
	char item_id[CPM_ITEM_ID_MAX + 1];
};
/* A kept partial with the same name, size and sha-1 as `sel` (or, when
 * item_id is given, of that item) holding at least `need` bytes. 0 found. */
int partial_find(struct cpm_app *app, const struct sdp_file_selector *sel, const char *item_id,
		 uint64_t need, struct partial *out);
void partial_save(struct xfer *x);     /* (re)write the sidecar now */
void partial_progress(struct xfer *x); /* ... at most every 1 MiB / 1 s */
void partial_drop_meta(struct xfer *x);
void partial_sweep_tmp(struct cpm_app *app); /* start-up: sidecar temporaries of killed processes */

/* recv_log.c: Message-IDs of files this user's --dir already has (a re-delivery after a
 * server crash is acknowledged, not saved twice). */
void recv_log_init(struct cpm_app *app);
bool recv_log_seen(struct cpm_app *app, const char *msgid, const char *sha1hex);
void recv_log_add(struct cpm_app *app, const char *msgid, const char *sha1hex);
/* resume.c: the state directory (--journal, else $XDG_STATE_HOME/cpm or ~/.local/state/cpm), created. */
int cpm_state_dir(const struct cpm_opts *o, char *out, size_t cap);
/* resume.c: the small "key value" text files of the state directory: written through
 * NAME.tmp.PID + rename, read whole (at most cap-1 bytes, NUL-terminated), one value found. */
int state_write_atomic(int dirfd, const char *name, const char *buf, size_t len);
int state_read_small(int dirfd, const char *name, char *buf, size_t cap);
bool state_kv_get(const char *text, const char *key, char *out, size_t cap);
bool state_kv_u64(const char *text, const char *key, uint64_t *out);

/* hash_cache.c: the sha-1 of the open file fd (path as given, st its fstat) and its length,
 * from the state directory's entry for this file when that entry still describes it
 * (device, inode, size, mtime and ctime to the nanosecond), else by reading it all; a
 * result worth keeping is recorded. o NULL or --no-resume: always read, nothing recorded.
 * *cached tells which. *dash_free: the file holds no run of seven '-' (known from the same
 * read, or from an entry that recorded it; false when not known), so no chunk of it can hold
 * an MSRP end-line. 0, or -1 with errno. */
struct stat;
int hash_cache_sha1(const struct cpm_opts *o, const char *path, int fd, const struct stat *st, uint8_t out[20],
		    uint64_t *size, bool *cached, bool *dash_free);

/* sip_in.c */
void in_invite(struct cpm_app *app, nua_handle_t *nh, const sip_t *sip);
void in_answer_now(struct xfer *x);
void in_ack(struct xfer *x);
void sip_reinvite(struct xfer *x);

/* offer.c (no sofia) */
void xfer_local_path(const struct cpm_opts *o, struct xfer *x);
int offer_build(const struct cpm_opts *o, struct xfer *x, long mtime, const uint8_t *thumb,
		size_t thumb_len, const char *thumb_type, char **body, char *ctype, size_t ctype_cap);
int offer_parse_body(const char *ctype, const char *body, size_t len, struct sdp_ft *sdp,
		     struct xfer *thumb_into, char *err, size_t errcap);
int answer_build(const struct cpm_opts *o, struct xfer *x, char *buf, size_t cap);
int pull_offer_build(const struct cpm_opts *o, struct xfer *x, char *buf, size_t cap);
/* The SDP of a large message (x->is_msg): a=accept-types:message/cpim, no file-selector;
 * dir SENDONLY (our offer, with a=max-size = the message's size) or RECVONLY (our answer). */
int msg_sdp_build(const struct cpm_opts *o, struct xfer *x, enum sdp_dir dir, char *buf, size_t cap);
/* The body of a large message's INVITE: our SDP (sendonly), and when head is given a
 * multipart/mixed with a message/cpim part holding it (the message's CPIM headers,
 * messaging.md §2). *body malloc()ed. 0 or -1. */
int msg_offer_body(const struct cpm_opts *o, struct xfer *x, const char *head, size_t head_len, char **body,
		   char *ctype, size_t ctype_cap);

/* chat.c, session_in.c, chat_msrp.c: 1-1 chat sessions (chat.h has the rest) */
int chat_start(struct cpm_app *app);                  /* `chat TARGET` */
/* An incoming INVITE for a chat session (session ICSI, or an SDP that is sendrecv with
 * accept-types message/cpim and no file-selector)? */
bool session_in_wanted(const sip_t *sip);
void session_in_invite(struct cpm_app *app, nua_handle_t *nh, const sip_t *sip);
/* Hooks for the transfer code: each returns true when x was a chat session and was handled. */
bool chat_hook_answer(struct xfer *x, int status, const char *phrase, const sip_t *sip); /* nua_r_invite */
bool chat_hook_ack(struct xfer *x);             /* our 200 was ACKed */
bool chat_hook_bye(struct xfer *x);             /* the peer's BYE */
bool chat_hook_answer_now(struct xfer *x);      /* --answer-delay elapsed */
/* The session ends now for a reason of ours (shutdown, timeout, xfer_done/msrp_in_abort on a
 * session): code/line as xfer_done's (line NULL: none). */
bool chat_hook_abort(struct xfer *x, int code, const char *line);
/* The 200 ms tick, for a session (instead of the transfers' progress timeout). */
void chat_tick(struct xfer *x, double now);
/* A file transfer of `cpm chat` ended (xfer_done): `file delivered|stored|failed NAME`. */
void chat_file_done(struct xfer *x, int code, const char *line);
void chat_free(struct xfer *x);                 /* xfer_reap */
void chat_cli_free(struct cpm_app *app);        /* agent_run, at the end */
void chat_cli_app_tick(struct cpm_app *app);    /* the 200 ms tick (stdin read by polling) */
/* The answer to a standalone message `cpm chat` sent for lack of a session (message_answered). */
bool chat_pager_answered(struct cpm_app *app, nua_handle_t *nh, int status, const char *phrase, const sip_t *sip);
/* offer.c: our SDP of a chat session (sendrecv, accept-types message/cpim,
 * accept-wrapped-types text/plain message/imdn+xml), offer or answer. */
int chat_sdp_build(const struct cpm_opts *o, struct xfer *x, char *buf, size_t cap);
/* sip_out.c: the file-selector (name, size, type, sha-1) of a file to send, its open
 * descriptor and stat; *cached (if not NULL): the sha-1 came from hash_cache.c; *dash_free
 * (if not NULL): the file holds no run of seven '-' (hash_cache_sha1). 0, or -1 with a reason
 * in err. */
struct stat;
int send_file_open(const struct cpm_opts *o, const char *path, int *fd, struct sdp_file_selector *sel,
		   struct stat *st, bool *cached, bool *dash_free, char *err, size_t errcap);
/* sip_out.c: start an outgoing file transfer of an open file (fd is the transfer's from
 * then on, also on failure); dash_free as send_file_open found it. 0 or -1. */
int send_file_xfer(struct cpm_app *app, const struct sdp_file_selector *sel, int fd, long mtime, bool dash_free);
/* msg_in.c: TEXT of a `message` or `chat` line (messaging.md §7): `\\` as `\\\\`, newline
 * `\\n`, CR `\\r`, tab `\\t`, other control characters and bytes that are not UTF-8 as
 * `\\xHH`; cut with "..." at cap (4 * t.len + 4 always holds it whole). */
void text_line(char *out, size_t cap, struct cpm_str t);
/* msrp_in.c: answer a request on x's MSRP connection, From-Path x->local_path (honours
 * its Failure-Report: no → nothing, partial → errors only). */
void in_respond(struct xfer *x, const struct msrp_msg *m, int status, const char *comment);
/* The same, for a request kept apart from the parser (msrp_in_disk.c). */
void in_respond_tid(struct xfer *x, const char *tid, enum msrp_report_mode fr, struct cpm_str from_path, int status,
		    const char *comment);
/* largemsg.c: an ICSI (its last label, "session", "largemsg"...) named in Accept-Contact,
 * P-Asserted-Service or P-Preferred-Service. */
bool sip_names_icsi(const sip_t *sip, const char *name);

/* largemsg.c: Large Message Mode (docs/internals/messaging.md §2) */
/* Does a message whose CPIM body has len bytes go in large mode (--large, or over
 * CPM_PAGER_MAX)? */
bool largemsg_wanted(const struct cpm_opts *o, size_t cpim_len);
/* Send the CPIM body (app->msg_cpim, kept until the end; msg_out.c's message_start builds
 * it and hands over when largemsg_wanted) in large mode: INVITE with the
 * largemsg ICSI, one MSRP SEND from memory, BYE. `head` (may be NULL) is the CPIM part put
 * in the INVITE (the message's headers, no content). The result line is printed by
 * xfer_done: sent, stored, rejected: ..., failed: .... 0 or -1 (nothing started). */
int largemsg_send(struct cpm_app *app, const char *head, size_t head_len);
/* Is this INVITE a large message (largemsg or deferred ICSI in Accept-Contact /
 * P-Asserted-Service / P-Preferred-Service, or an offer with accept-types message/cpim
 * and no file-selector)? *deferred: pushed from the server's store. The bytes are then
 * received into memory (x->msg, msrp_in.c) and printed by msg_in.c like any message. */
bool largemsg_incoming(const sip_t *sip, const struct sdp_ft *offer, bool *deferred);

/* msrp_out.c */
/* Where x's MSRP connection goes: the first URI of the peer's a=path (or c=/m= when both
 * sides do CEMA), and x->remote_path = the whole path. 0, or -1 for an unusable path. */
int xfer_set_remote(struct xfer *x, const struct sdp_ft *s);
/* Opens x->conn to x->remote_host:port, over TLS when the path is msrps (the server's
 * certificate checked against --ca and the SDP fingerprint: mconn_start_tls). 0, or -1 with
 * the reason in err. */
struct mconn_ops;
int xfer_conn_open(struct xfer *x, size_t wcap, size_t rextra, const struct mconn_ops *ops, void *arg, char *err,
		   size_t errcap);
int msrp_out_start(struct xfer *x, const struct sdp_ft *answer, char *err, size_t errcap);
void msrp_out_free(struct xfer *x);

/* msrp_in.c */
int msrp_in_prepare(struct xfer *x, char *err, size_t errcap); /* part file, before 200 */
int msrp_in_start(struct xfer *x, char *err, size_t errcap);   /* connect, after ACK */
/* keep: an interruption (the partial file and its sidecar stay for a
 * resume); false: the peer ended it or the data is wrong (removed) */
void msrp_in_abort(struct xfer *x, const char *reason, bool keep);
void msrp_in_free(struct xfer *x);
/* The last byte is in and written: check size and sha-1 (digest: the disk worker's; NULL:
 * the inline hash), answer m, rename, report, print. */
void msrp_in_finish(struct xfer *x, const struct msrp_msg *m, const uint8_t *digest);
/* Hash the kept prefix [0, x->base) of the part file into x->md (on the loop). 0 or -1. */
int msrp_in_hash_prefix(struct xfer *x);

/* msrp_in_disk.c: the part file's write and sha-1 on a worker thread (common/disk_ring.h) */
/* Whether a file of this transfer goes through the worker (decided before the 200 OK). */
bool in_disk_wanted(const struct xfer *x);
/* n in-order bytes at x->contig: into the ring (the connection is held while it is nearly
 * full); starts the worker at the first. 1: no worker could start, the caller writes inline;
 * 0; -errno. */
int in_disk_push(struct xfer *x, const char *p, size_t n);
/* Chunk m (ours, 200) ended: true if its 200 waits until the worker wrote its bytes (sent
 * from the worker's wake-up, in order); false: answer now. */
bool in_disk_ack(struct xfer *x, const struct msrp_msg *m);
/* The connection's input is all parsed: wake the worker for the 200s that wait. */
void in_disk_drained(struct xfer *x);
/* The '$' chunk m completed the file: hold the input, let the worker finish, then
 * msrp_in_finish() from its wake-up. false: no worker (the caller finishes inline). */
bool in_disk_final(struct xfer *x, const struct msrp_msg *m);
/* Bytes of the part file written in order for sure (the sidecar's count). */
uint64_t in_disk_contig(const struct xfer *x);
/* Stop the worker (contig drops to what it wrote). Safe to call again, and without one. */
void in_disk_stop(struct xfer *x);

/* progress.c */
void progress_update(struct cpm_app *app, const struct xfer *x, uint64_t done, uint64_t total,
		     bool force);
void progress_clear(struct cpm_app *app);

/* util.c */
double now_mono(void);
void uuid_v4(char out[37]);
void uuid_v5(char out[37], const char *name);
const char *mime_guess(const char *path);
const char *mime_ext(const char *ctype);            /* "jpg" for image/jpeg, "bin" otherwise */
void rfc5322_date(char *out, size_t cap, long t);
void rfc3339_now(char *out, size_t cap); /* "2026-12-03T10:00:00.123Z" (CPIM DateTime) */
/* The CPM headers of a request we start (send, message): a fresh Contribution-ID (into contrib),
 * Conversation-ID (--conversation-id or a fresh one), P-Preferred-Service: service,
 * InReplyTo-Contribution-ID (--in-reply-to) and, when expires, Cpm-Expires (--expires), as
 * SIPTAG_HEADER_STR lines. */
void cpm_request_headers(const struct cpm_opts *o, const char *service, bool expires, char contrib[37], char *out,
			 size_t cap);
int local_ip_for(const char *host, uint16_t port, char *out, size_t cap);
/* The sha-1 and length of what fd holds (pread from 0). dashes (may be NULL): whether the bytes
 * hold a run of seven '-' anywhere (the start of any MSRP end-line), found in the same pass. */
int sha1_fd(int fd, uint8_t out[20], uint64_t *size, bool *dashes);
void out_line(struct cpm_app *app, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void vlog(const struct cpm_app *app, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void errlog(struct cpm_app *app, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
