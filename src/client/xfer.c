/* Transfers: creation, the one place where a transfer gets its result
 * (xfer_done), ending its SIP side the right way for its state, and freeing
 * it once nothing refers to it any more (xfer_reap). See cpm.h for the
 * ownership rules. */
#include "cpm.h"

#include <stdlib.h>

#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/su_tag.h>

#include "chat.h"
#include "mconn.h"

struct xfer *xfer_new(struct cpm_app *app, enum xfer_dir dir)
{
	struct xfer *x = calloc(1, sizeof *x);
	if (!x)
		return NULL;
	x->app = app;
	x->dir = dir;
	x->id = ++app->next_id;
	x->src_fd = -1;
	x->part_fd = -1;
	x->started = now_mono();
	x->last_progress = x->started;
	x->next = app->xfers;
	if (app->xfers)
		app->xfers->prev = x;
	app->xfers = x;
	app->nxfers++;
	return x;
}

void xfer_reap(struct xfer *x)
{
	if (x->state != XS_DONE || x->nh || x->conn)
		return;
	struct cpm_app *app = x->app;
	if (x->prev)
		x->prev->next = x->next;
	else
		app->xfers = x->next;
	if (x->next)
		x->next->prev = x->prev;
	app->nxfers--;
	if (x->chat) {
		chat_cli_forget(x);
		chat_free(x);
	}
	msrp_out_free(x);
	msrp_in_free(x);
	free(x);
}

/* End the SIP side of a transfer the right way for its state: BYE an
 * established dialog, CANCEL an INVITE still waiting for its final answer,
 * 480 an incoming one we never answered. Once per transfer. */
void xfer_sip_end(struct xfer *x)
{
	if (!x->nh || x->bye_sent)
		return;
	x->bye_sent = true;
	if (x->dialog_up) {
		vlog(x->app, "[%u] SIP: BYE", x->id);
		nua_bye(x->nh, TAG_END());
	} else if (x->final_seen) {
		/* rejected, declined or already ended: nothing to send */
	} else if (x->dir == XFER_OUT || x->pull) {
		vlog(x->app, "[%u] SIP: CANCEL", x->id);
		nua_cancel(x->nh, TAG_END());
	} else {
		nua_respond(x->nh, SIP_480_TEMPORARILY_UNAVAILABLE, TAG_END());
	}
}

void xfer_done(struct xfer *x, int code, const char *line)
{
	struct cpm_app *app = x->app;
	if (chat_hook_abort(x, code, line))
		return; /* a chat session ends its own way (session_in.c) */
	if (x->state == XS_DONE)
		return;
	x->state = XS_DONE;
	x->success = code == CPM_EXIT_OK;
	progress_clear(app);

	if (x->dir == XFER_IN && x->success) {
		/* keep the dialog and the connection (our REPORT may still be
		 * queued) until the sender's BYE */
		if (!x->repeat)
			app->received++; /* a repeat was counted the first time */
		if (app->o->count && app->received >= app->o->count)
			agent_finish(app, CPM_EXIT_OK);
		return;
	}
	if (x->conn) {
		mconn_close(x->conn);
		x->conn = NULL;
	}
	xfer_sip_end(x);
	if (x->dir == XFER_OUT) {
		if (app->o->cmd == CMD_CHAT) {
			chat_file_done(x, code, line); /* a file sent during the session */
		} else if (app->o->cmd == CMD_BLAST) {
			if (x->success)
				app->blast_ok++;
			else
				app->blast_failed++;
			if (!x->success && line)
				errlog(app, "transfer %u: %s", x->id, line);
			blast_next(app);
		} else {
			/* resume journal: an ended send (delivered, stored,
			 * declined, rejected) is forgotten; a failed one keeps
			 * what was acknowledged for the next run */
			if (app->journal_path[0]) {
				if (code == CPM_EXIT_FAILED)
					journal_save(app, x->acked_off > x->base ? x->acked_off : x->base);
				else
					journal_remove(app);
			}
			if (line)
				out_line(app, "%s", line);
			agent_finish(app, code);
		}
	} else if (x->pull && !x->success) {
		if (line)
			out_line(app, "%s", line);
		agent_finish(app, code);
	}
}
