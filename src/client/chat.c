/* `cpm chat TARGET`: one 1-1 chat session (docs/internals/messaging.md §5-7).
 *
 * INVITE with the session ICSI and our sendrecv MSRP offer (xfer_invite, the one INVITE
 * sender); on 200, MSRP to the server's path (chat_msrp.c); then standard input is read
 * without blocking the loop (fd 0 in the su_root; a regular file or /dev/null, which epoll
 * cannot watch, is read on the tick): each line is a chat message, `/file PATH` sends that
 * file in the same conversation (its own INVITE with the session's Conversation-ID and a new
 * Contribution-ID, messaging.md §6) while the chat goes on, `/quit` or EOF ends it: once
 * every message sent has its answer (at most CHAT_QUIT_WAIT s) the session is BYEd, and the
 * process exits when the file transfers in flight have ended.
 *
 * stdout: `chat SENDER CONVERSATION-ID TEXT` and `notification STATUS ID` as they come,
 * `file delivered|stored|failed NAME` per file; when the session cannot be set up, one
 * `declined` / `rejected: CODE PHRASE` / `failed: REASON` line (exit 3 / 4 / 1).
 * stderr: `cpm: conversation-id ID`, `cpm: message-id ID` per line sent, refusals.
 * Exit 0 when the session ended normally (our BYE or the peer's) and every file ended
 * delivered or stored; 1 otherwise. */
#include "chat.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cpm/deferred.h"

/* After EOF, how long the answers of the last messages are waited for before the BYE. */
#define CHAT_QUIT_WAIT 10.0
/* stdin bytes read per wake-up. */
#define CHAT_READ_CHUNK 65536
/* Fallback (no session): standalone messages waiting for their answer; stdin waits beyond. */
#define CHAT_PAGER_MAX 16

struct chat_cli {
	struct xfer *x;            /* the session (NULL once reaped) */
	struct chat_sess *c;
	char conv[CHAT_CONV_MAX + 1];
	int stdin_idx;             /* su_root registration of fd 0 (0: none) */
	bool stdin_poll;           /* fd 0 cannot be watched: read it on the tick */
	bool stdin_on;             /* fd 0 is being read */
	bool eof;                  /* EOF or /quit: no more input */
	double eof_at;
	char *line;                /* the line being read (CHAT_LINE_MAX + 1) */
	size_t len;
	bool skipping;             /* the current line is over CHAT_LINE_MAX: dropped */
	bool established;          /* 200 received */
	bool over;                 /* the session is over (BYE, failure) */
	int code;                  /* the exit code so far */
	unsigned files_active, files_failed;
	/* no session (480 / 408): what the user types goes as standalone messages
	 * (messaging.md §5), each a pager MESSAGE in this conversation */
	bool fallback;
	struct {
		nua_handle_t *nh;
		char id[33];
	} pager[CHAT_PAGER_MAX];
	unsigned npager;
};

/* ---------------------------------------------------------------- the end */

static void cli_check_finish(struct cpm_app *app)
{
	struct chat_cli *k = app->chat_cli;

	if (!k || app->shutting_down)
		return;
	if (k->c && !k->over && k->established && k->eof &&
	    (chat_quiet(k->c) || now_mono() - k->eof_at > CHAT_QUIT_WAIT)) {
		/* every message answered (or given up on): our BYE ends the session normally */
		vlog(app, "chat: ending the session");
		k->c->bye_by_us = true;
		chat_hook_abort(k->x, CPM_EXIT_OK, NULL);
	}
	/* the session's dialog over too (its BYE answered: the MSRP connection closes after
	 * it), and every file ended */
	if (k->over && k->files_active == 0 && (!k->x || !k->x->nh) && (!k->fallback || (k->eof && !k->npager)))
		agent_finish(app, k->code != CPM_EXIT_OK ? k->code : k->files_failed ? CPM_EXIT_FAILED : CPM_EXIT_OK);
}

/* ---------------------------------------------------------------- standard input */

static int on_stdin(su_root_magic_t *m, su_wait_t *w, su_wakeup_arg_t *arg);

/* Can epoll watch fd 0? Not a regular file nor /dev/null (EPERM): asked once on a
 * throw-away epoll set, so that sofia does not complain on stderr. */
static bool stdin_pollable(void)
{
	struct epoll_event ev = {.events = EPOLLIN};
	int ep = epoll_create1(EPOLL_CLOEXEC);
	bool ok = ep >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev) == 0;

	if (ep >= 0)
		close(ep);
	return ok;
}

static void stdin_update(struct cpm_app *app)
{
	struct chat_cli *k = app->chat_cli;
	bool want = k->fallback ? !k->eof && k->npager < CHAT_PAGER_MAX
				: k->c && k->c->connected && !k->over && !k->eof && chat_backlog(k->c) < CHAT_QUEUE_MAX;

	if (want == k->stdin_on)
		return;
	k->stdin_on = want;
	if (k->stdin_poll)
		return; /* read on the tick while stdin_on */
	if (!k->stdin_idx && want) {
		su_wait_t wt;
		if (!stdin_pollable() || su_wait_create(&wt, 0, SU_WAIT_IN) != 0) {
			/* a regular file or /dev/null: epoll refuses them, and reads never block */
			k->stdin_poll = true;
			return;
		}
		k->stdin_idx = su_root_register(app->root, &wt, on_stdin, app, 0);
		if (k->stdin_idx <= 0) {
			su_wait_destroy(&wt);
			k->stdin_idx = 0;
			k->stdin_poll = true;
		}
		return;
	}
	if (k->stdin_idx)
		su_root_eventmask(app->root, k->stdin_idx, 0, want ? SU_WAIT_IN : 0);
}

static void stdin_stop(struct cpm_app *app)
{
	struct chat_cli *k = app->chat_cli;

	if (k->stdin_idx > 0)
		su_root_deregister(app->root, k->stdin_idx);
	k->stdin_idx = 0;
	k->stdin_on = false;
	k->stdin_poll = false;
}

/* `/file PATH`: its own transfer in this conversation (o->conversation_id is the session's) */
static void chat_file(struct cpm_app *app, const char *path)
{
	struct chat_cli *k = app->chat_cli;
	struct sdp_file_selector sel;
	struct stat st;
	char err[600], name[3 * SDP_MAX_FILENAME + 1];
	const char *slash = strrchr(path, '/');
	int fd;

	deferred_safe_display(name, sizeof name, slash ? slash + 1 : path);
	bool dash_free = false;
	if (send_file_open(app->o, path, &fd, &sel, &st, NULL, &dash_free, err, sizeof err) < 0 ||
	    send_file_xfer(app, &sel, fd, (long)st.st_mtime, dash_free) < 0) {
		errlog(app, "%s", err[0] ? err : "cannot start the file transfer");
		out_line(app, "file failed %s", name);
		k->files_failed++;
		return;
	}
	k->files_active++;
	errlog(app, "file %s: %llu bytes in conversation %s", name, (unsigned long long)sel.size, k->conv);
}

/* No session: the line as a standalone message (the pager sender of `cpm message`). */
static void chat_fallback_send(struct cpm_app *app, const char *line, size_t len)
{
	struct chat_cli *k = app->chat_cli;
	char id[33];
	char *body = NULL;
	size_t n;

	if (message_build(app, line, len, id, &body, &n) < 0) {
		errlog(app, "cannot build a standalone message of that line");
		return;
	}
	errlog(app, "message-id %s", id);
	if (n > CPM_PAGER_MAX) {
		/* one MESSAGE must stay small (RFC 3428 §8); the large mode sends one message per run */
		errlog(app, "message %s: too long for a standalone message from a chat (%zu bytes of CPIM, at most %u)",
		       id, n, CPM_PAGER_MAX);
		out_line(app, "message failed %s", id);
		free(body);
		return;
	}
	nua_handle_t *nh = message_send(app, body, n);
	free(body);
	if (!nh) {
		out_line(app, "message failed %s", id);
		return;
	}
	k->pager[k->npager].nh = nh;
	snprintf(k->pager[k->npager].id, sizeof k->pager[0].id, "%s", id);
	k->npager++;
}

bool chat_pager_answered(struct cpm_app *app, nua_handle_t *nh, int status, const char *phrase, const sip_t *sip)
{
	struct chat_cli *k = app->chat_cli;

	if (!k)
		return false;
	for (unsigned i = 0; i < k->npager; i++) {
		if (k->pager[i].nh != nh)
			continue;
		if (status < 200)
			return true;
		if (status >= 300)
			errlog(app, "message %s: %d %s", k->pager[i].id, status, phrase);
		out_line(app, "message %s %s", status >= 300 ? "failed" : message_stored(status, sip) ? "stored" : "sent",
			 k->pager[i].id);
		nua_handle_destroy(nh);
		k->pager[i] = k->pager[--k->npager];
		stdin_update(app);
		cli_check_finish(app);
		return true;
	}
	return false;
}

static void chat_line(struct cpm_app *app, char *line, size_t len)
{
	struct chat_cli *k = app->chat_cli;
	char id[CHAT_ID_MAX + 1];

	if (len && line[len - 1] == '\r')
		len--;
	line[len] = '\0';
	if (len == 0)
		return;
	if (!strcmp(line, "/quit")) {
		k->eof = true;
		k->eof_at = now_mono();
		return;
	}
	if (!strncmp(line, "/file ", 6)) {
		const char *p = line + 6;
		while (*p == ' ')
			p++;
		chat_file(app, p);
		return;
	}
	if (k->fallback) {
		chat_fallback_send(app, line, len);
		return;
	}
	if (k->over || !k->c || chat_send_text(k->c, line, len, id) < 0) {
		errlog(app, "message not sent (the session is over)");
		return;
	}
	errlog(app, "message-id %s", id);
}

/* Bytes from stdin: cut into lines. */
static void chat_input(struct cpm_app *app, const char *p, size_t n)
{
	struct chat_cli *k = app->chat_cli;

	for (size_t i = 0; i < n && !k->eof; i++) {
		if (p[i] == '\n') {
			if (!k->skipping)
				chat_line(app, k->line, k->len);
			k->skipping = false;
			k->len = 0;
			continue;
		}
		if (k->skipping)
			continue;
		if (k->len == CHAT_LINE_MAX) {
			errlog(app, "a line longer than %u bytes: dropped", CHAT_LINE_MAX);
			k->skipping = true;
			continue;
		}
		k->line[k->len++] = p[i];
	}
}

static void stdin_read(struct cpm_app *app)
{
	struct chat_cli *k = app->chat_cli;
	char *buf = malloc(CHAT_READ_CHUNK);
	ssize_t r = buf ? read(0, buf, CHAT_READ_CHUNK) : -1;

	if (r > 0) {
		chat_input(app, buf, (size_t)r);
	} else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
		if (k->len && !k->skipping)
			chat_line(app, k->line, k->len); /* a last line without its newline */
		k->len = 0;
		if (!k->eof)
			k->eof_at = now_mono();
		k->eof = true;
	}
	free(buf);
	if (k->eof)
		stdin_stop(app);
	else
		stdin_update(app);
	cli_check_finish(app);
}

static int on_stdin(su_root_magic_t *m, su_wait_t *w, su_wakeup_arg_t *arg)
{
	stdin_read(arg);
	return 0;
}

void chat_on_drained(struct chat_sess *c)
{
	struct cpm_app *app = c->x->app;

	if (!c->inviter || !app->chat_cli)
		return;
	stdin_update(app);
	cli_check_finish(app);
}

/* ---------------------------------------------------------------- the session */

int chat_start(struct cpm_app *app)
{
	struct cpm_opts *o = app->o;
	struct chat_cli *k = calloc(1, sizeof *k);
	struct xfer *x = k ? xfer_new(app, XFER_OUT) : NULL;
	struct chat_sess *c = x ? chat_new(x, true) : NULL;
	char *sdp = c ? malloc(SDP_MAX_BYTES) : NULL;

	if (k)
		k->line = malloc(CHAT_LINE_MAX + 1);
	if (!sdp || !k->line) {
		out_line(app, "failed: out of memory");
		free(sdp);
		if (x) {
			x->state = XS_DONE;
			xfer_reap(x);
		}
		if (k)
			free(k->line);
		free(k);
		return -1;
	}
	app->chat_cli = k;
	k->x = x;
	k->c = c;
	/* the session's Conversation-ID is every file's too (messaging.md §6) */
	if (o->conversation_id)
		snprintf(k->conv, sizeof k->conv, "%s", o->conversation_id);
	else
		uuid_v4(k->conv);
	o->conversation_id = k->conv;
	snprintf(c->conv_id, sizeof c->conv_id, "%s", k->conv);
	snprintf(c->peer_uri, sizeof c->peer_uri, "%s", o->target_uri);
	snprintf(x->display, sizeof x->display, "chat");
	errlog(app, "conversation-id %s", k->conv);
	int n = chat_sdp_build(o, x, sdp, SDP_MAX_BYTES);
	if (n < 0 || xfer_invite(x, CPM_ICSI_SESSION, "*;" CPM_SESSION_ICSI_TAG, sdp, "application/sdp") < 0) {
		free(sdp);
		out_line(app, "failed: cannot start the session");
		k->over = true;
		x->state = XS_DONE;
		xfer_reap(x);
		k->x = NULL;
		k->c = NULL;
		return -1;
	}
	free(sdp);
	return 0;
}

/* The answer to our session INVITE. */
static void cli_answer(struct xfer *x, int status, const char *phrase, const sip_t *sip)
{
	struct cpm_app *app = x->app;
	struct chat_cli *k = app->chat_cli;
	char line[600], err[256], ct[512];
	enum xfer_answer a = xfer_answer_classify(x, status, phrase);

	if (a == XA_HANDLED)
		return;
	if (a == XA_FAILED) {
		/* messaging.md §5: the recipient has no device or nobody answered: what the user
		 * types is kept, as standalone messages (cpmd stores them) */
		k->fallback = (status == 480 || status == 408) && !local_response(status, sip);
		if (status == 603)
			chat_hook_abort(x, CPM_EXIT_DECLINED, "declined");
		else if (local_response(status, sip)) {
			local_failure_line(app, status, phrase, sip, line, sizeof line);
			chat_hook_abort(x, CPM_EXIT_FAILED, line);
		} else {
			snprintf(line, sizeof line, "rejected: %d %s", status, phrase);
			chat_hook_abort(x, CPM_EXIT_REJECTED, line);
		}
		return;
	}
	struct sdp_ft *ans = calloc(1, sizeof *ans);
	const sip_payload_t *pl = sip ? sip->sip_payload : NULL;
	sip_ctype_string(sip ? sip->sip_content_type : NULL, ct, sizeof ct);
	int rc = ans ? offer_parse_body(ct, pl ? pl->pl_data : NULL, pl ? pl->pl_len : 0, ans, NULL, err, sizeof err) : -1;
	if (rc == 0 && (ans->port == 0 || ans->setup == SDP_SETUP_ACTIVE || xfer_set_remote(x, ans) < 0)) {
		rc = -1;
		snprintf(err, sizeof err, "no usable MSRP stream in the answer");
	}
	if (!ans)
		snprintf(err, sizeof err, "out of memory");
	free(ans);
	k->established = true; /* a dialog exists now: it is BYEd whatever follows */
	if (rc != 0 || chat_msrp_start(x->chat, err, sizeof err) < 0) {
		snprintf(line, sizeof line, "failed: %s", err);
		chat_hook_abort(x, CPM_EXIT_FAILED, line);
		return;
	}
	errlog(app, "session with %s established", app->o->target_uri);
}

bool chat_hook_answer(struct xfer *x, int status, const char *phrase, const sip_t *sip)
{
	if (!x->chat)
		return false;
	if (x->chat->inviter)
		cli_answer(x, status, phrase, sip);
	return true;
}

void chat_on_lost(struct chat_sess *c, const char *reason)
{
	char line[300];

	if (c->ended)
		return;
	if (c->inviter) {
		snprintf(line, sizeof line, "failed: MSRP %s", reason);
		chat_hook_abort(c->x, CPM_EXIT_FAILED, line);
	} else {
		chat_hook_abort(c->x, CPM_EXIT_FAILED, NULL);
	}
}

/* The inviter's side of an end (session_in.c has the other). */
void chat_cli_ended(struct xfer *x, int code, const char *line)
{
	struct cpm_app *app = x->app;
	struct chat_cli *k = app->chat_cli;

	if (!k)
		return;
	if (line)
		out_line(app, "%s", line);
	if (k->code == CPM_EXIT_OK)
		k->code = code;
	k->over = true;
	if (k->fallback) {
		errlog(app, "no session: each line goes as a standalone message to %s", app->o->target_uri);
		stdin_update(app);
	} else {
		stdin_stop(app);
	}
	cli_check_finish(app);
}

void chat_cli_tick(struct xfer *x, double now)
{
	struct cpm_app *app = x->app;
	struct chat_cli *k = app->chat_cli;

	if (!k)
		return;
	if (x->state == XS_INVITING && x->invite_deadline > 0 && now >= x->invite_deadline) {
		errlog(app, "no final answer to the INVITE within %u s", app->o->invite_timeout);
		chat_hook_abort(x, CPM_EXIT_FAILED, "failed: timeout");
	} else if (x->state == XS_CONNECTING && now - x->last_progress > CPM_PROGRESS_TIMEOUT) {
		chat_hook_abort(x, CPM_EXIT_FAILED, "failed: MSRP connect timeout");
	}
	cli_check_finish(app);
}

/* A file of this conversation ended. */
void chat_file_done(struct xfer *x, int code, const char *line)
{
	struct cpm_app *app = x->app;
	struct chat_cli *k = app->chat_cli;
	char name[3 * SDP_MAX_FILENAME + 1];

	deferred_safe_display(name, sizeof name, x->display);
	if (code == CPM_EXIT_OK) {
		out_line(app, "file %s %s", x->stored_id[0] ? "stored" : "delivered", name);
	} else {
		if (line)
			errlog(app, "file %s: %s", name, line);
		out_line(app, "file failed %s", name);
		if (k)
			k->files_failed++;
	}
	if (k && k->files_active)
		k->files_active--;
	cli_check_finish(app);
}

void chat_cli_app_tick(struct cpm_app *app)
{
	struct chat_cli *k = app->chat_cli;

	if (!k || app->shutting_down)
		return;
	if (k->stdin_poll && k->stdin_on)
		stdin_read(app); /* a regular file or /dev/null: never blocks */
	cli_check_finish(app);
}

void chat_cli_free(struct cpm_app *app)
{
	struct chat_cli *k = app->chat_cli;

	if (!k)
		return;
	stdin_stop(app);
	free(k->line);
	free(k);
	app->chat_cli = NULL;
}

void chat_cli_forget(struct xfer *x)
{
	struct chat_cli *k = x->app->chat_cli;

	if (k && k->x == x) {
		k->x = NULL;
		k->c = NULL;
		cli_check_finish(x->app);
	}
}
