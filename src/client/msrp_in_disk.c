/* cpm receive's part file written and hashed off its loop (issue 12 §4): the client's adapter
 * of the disk ring cpmd's relay uses too (common/disk_ring.h). The profile of a big receive
 * named the part-file write and SHA-1 (29 % libcrypto) on the loop thread; with the worker the
 * loop only parses and copies.
 *
 * When: a file of DISK_RING_MIN_FILE bytes and up (a thread start costs more than hashing a
 * smaller one; CPM_TEST_RECV_RING_MIN overrides it for the tests), not a message received
 * into memory. The worker starts at the first in-order body byte, on a dup of the part file,
 * from x->base: a kept partial's prefix is hashed by the worker first.
 *
 * What the ring changes, and what it keeps:
 * - In-order bytes go to the ring; bytes beyond a hole (out of order) are still written
 *   inline by msrp_in.c and the file is hashed from disk at the end, as before.
 * - Back-pressure: when less than one receive buffer is free, the connection is held
 *   (mconn_hold: no read, no parse) until the worker freed half the ring.
 * - A chunk is acknowledged (200) only once the worker has written it: the server resumes a
 *   delivery from what the device acknowledged and finds a kept partial only if it holds that
 *   much (t_cpm_sf_push_resume kills the device mid-file). The 200s wait in order in
 *   x->disk_acks (the worker wakes the loop when the first is written); the input is held
 *   while IN_DISK_ACKS wait. The sidecar's `bytes` counts only what was written too
 *   (in_disk_contig). Stopping the worker (an abort) loses what the ring still holds (at most
 *   2 MiB, never acknowledged).
 * - The '$' chunk: the input is held, the worker finishes the file and its digest, and its
 *   wake-up runs the checks, rename and answer of msrp_in_finish().
 * - A write error ends the transfer with the same log line and failure as an inline one
 *   ("write NAME: ERROR", the open chunk or the '$' answered 400, "bad chunk (answered 400)").
 */
#include "cpm.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "common/disk_ring.h"
#include "mconn.h"

/* The largest body event one parse pass of mconn can deliver: its receive buffer (the 64 KiB
 * of room msrp_in_start asks for plus the parser's 2 * MSRP_MAX_HEADER_BYTES). */
#define IN_DISK_LOW_ROOM ((size_t)(64 * 1024 + 2 * MSRP_MAX_HEADER_BYTES))

/* A request answered once the worker has written its bytes (a chunk's 200, the '$' chunk's
 * checks): what in_respond and the success REPORT use of it. */
struct in_pend {
	uint64_t end; /* the file holds [0, end) when it may be answered */
	char tid[MSRP_TID_MAX + 1];
	enum msrp_method method;
	enum msrp_report_mode sr, fr;
	size_t path_len, mid_len;
	char bytes[];
};

static struct in_pend *pend_new(const struct msrp_msg *m, uint64_t end)
{
	struct in_pend *p = malloc(sizeof *p + m->from_path.len + m->message_id.len + 1);

	if (!p)
		return NULL;
	p->end = end;
	memcpy(p->tid, m->tid, sizeof p->tid);
	p->method = m->method;
	p->sr = m->success_report;
	p->fr = m->failure_report;
	p->path_len = m->from_path.len;
	p->mid_len = m->message_id.len;
	memcpy(p->bytes, m->from_path.p, p->path_len);
	memcpy(p->bytes + p->path_len, m->message_id.p, p->mid_len);
	return p;
}

/* The request again, as the parser gave it (only what the answers read). */
static void pend_msg(const struct in_pend *p, struct msrp_msg *m)
{
	memset(m, 0, sizeof *m);
	memcpy(m->tid, p->tid, sizeof m->tid);
	m->method = p->method;
	m->success_report = p->sr;
	m->failure_report = p->fr;
	m->from_path = (struct cpm_str){p->bytes, p->path_len};
	m->message_id = (struct cpm_str){p->bytes + p->path_len, p->mid_len};
}

static void pend_respond(struct xfer *x, const struct in_pend *p, int status)
{
	in_respond_tid(x, p->tid, p->fr, (struct cpm_str){p->bytes, p->path_len}, status, NULL);
}

static void acks_drop(struct xfer *x)
{
	for (unsigned i = 0; i < x->disk_ack_n; i++)
		free(x->disk_acks[i]);
	x->disk_ack_n = 0;
}

/* Answer, in order, the chunks the worker has written; arm its wake-up for the next one. */
static void acks_flush(struct xfer *x)
{
	unsigned done = 0;

	while (done < x->disk_ack_n) {
		struct in_pend *p = x->disk_acks[done];
		/* kick: after a wake-up the peer may wait for these 200s to send more */
		if (!disk_ring_wake_at(x->disk, p->end, true))
			break;
		pend_respond(x, p, 200);
		free(p);
		done++;
	}
	memmove(x->disk_acks, x->disk_acks + done, (x->disk_ack_n - done) * sizeof x->disk_acks[0]);
	x->disk_ack_n -= done;
}

/* --disk-thread: on, off, or auto (a spare core is likely). */
static bool disk_thread_on(const struct cpm_opts *o)
{
	if (o->disk_thread != CPM_DISK_THREAD_AUTO)
		return o->disk_thread == CPM_DISK_THREAD_ON;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	return cpus >= CPM_DISK_THREAD_AUTO_CPUS;
}

bool in_disk_wanted(const struct xfer *x)
{
	const char *env = getenv("CPM_TEST_RECV_RING_MIN");
	uint64_t min = env && *env ? strtoull(env, NULL, 10) : DISK_RING_MIN_FILE;

	return !x->msg && !x->is_msg && x->sel.size >= min && disk_thread_on(x->app->o);
}

static void in_disk_unhold(struct xfer *x)
{
	if (x->conn && x->state != XS_DONE)
		mconn_hold(x->conn, false);
}

/* The worker freed room, wrote what a 200 waits for, finished, or failed. */
static int in_disk_wakeup(su_root_magic_t *magic, su_wait_t *w, su_wakeup_arg_t *arg)
{
	struct xfer *x = arg;
	struct disk_ring_result res;
	struct in_pend *fin;

	(void)magic;
	(void)w;
	if (!x->disk)
		return 0;
	disk_ring_poll(x->disk, &res);
	if (res.finished && res.err) {
		if (res.write_err)
			errlog(x->app, "write %s: %s", x->part_name, strerror(-res.err));
		else
			errlog(x->app, "cannot read back %s/%s: %s", x->app->o->dir_abs, x->part_name,
			       strerror(-res.err));
		/* the first request whose bytes did not reach the file is answered 400 (MSRP has
		 * no 5xx), as msrp_in.c's in_end answers an inline write error */
		fin = x->disk_ack_n ? x->disk_acks[0] : x->disk_fin;
		if (fin) {
			pend_respond(x, fin, 400);
			msrp_in_abort(x, "bad chunk (answered 400)", false); /* stops the worker */
		} else if (x->cur_open && x->cur_ours && x->cur_status == 200) {
			/* the open chunk is answered 400 at its end-line; its other bytes go nowhere */
			in_disk_stop(x);
			x->cur_status = 500;
			in_disk_unhold(x);
		} else {
			msrp_in_abort(x, "bad chunk (answered 400)", false);
		}
		return 0;
	}
	acks_flush(x);
	if (res.finished && x->disk_fin) {
		fin = x->disk_fin;
		x->disk_fin = NULL;
		in_disk_stop(x);
		struct msrp_msg *m = malloc(sizeof *m); /* large (the parser's header store) */
		if (m) {
			pend_msg(fin, m);
			msrp_in_finish(x, m, res.digest);
		} else {
			msrp_in_abort(x, "out of memory", true);
		}
		free(m);
		free(fin);
		in_disk_unhold(x);
		return 0;
	}
	if (!x->disk_fin && x->disk_ack_n < IN_DISK_ACKS && disk_ring_has_room(x->disk))
		in_disk_unhold(x);
	return 0;
}

static int in_disk_start(struct xfer *x)
{
	su_wait_t w;
	int rc = disk_ring_create(&x->disk, x->base, IN_DISK_LOW_ROOM);

	if (rc)
		return rc;
	if (su_wait_create(&w, disk_ring_efd(x->disk), SU_WAIT_IN))
		return -ENOMEM;
	x->disk_widx = su_root_register(x->app->root, &w, in_disk_wakeup, x, 0);
	if (x->disk_widx <= 0) {
		x->disk_widx = 0;
		su_wait_destroy(&w);
		return -EIO;
	}
	return disk_ring_start(x->disk, x->part_fd);
}

int in_disk_push(struct xfer *x, const char *p, size_t n)
{
	int rc;

	if (!x->disk) {
		if (!x->disk_wanted)
			return 1;
		x->disk_wanted = false;
		rc = in_disk_start(x);
		if (rc) {
			in_disk_stop(x);
			vlog(x->app, "[%u] no disk worker (%s): the part file is written inline", x->id,
			     strerror(-rc));
			/* the worker would have hashed a kept prefix: the loop does it */
			return msrp_in_hash_prefix(x) < 0 ? -EIO : 1;
		}
	}
	rc = disk_ring_push(x->disk, p, n);
	if (rc < 0)
		return rc; /* -ENOBUFS: the hold below keeps it from happening */
	if (rc == 1)
		mconn_hold(x->conn, true);
	return 0;
}

bool in_disk_ack(struct xfer *x, const struct msrp_msg *m)
{
	struct in_pend *p;

	if (!x->disk || x->cur_off > x->contig)
		return false; /* written inline (no worker, or beyond a hole) */
	if (!x->disk_ack_n && disk_ring_wake_at(x->disk, x->cur_off, false))
		return false; /* written already */
	p = pend_new(m, x->cur_off);
	if (!p)
		return false; /* cannot happen in practice; a resume may then send bytes again */
	x->disk_acks[x->disk_ack_n++] = p;
	/* The worker is kicked once per read pass (in_disk_drained), not per chunk: a wake-up
	 * per chunk costs a futex and two context switches each (measured: more CPU). */
	if (x->disk_ack_n == IN_DISK_ACKS) {
		mconn_hold(x->conn, true);
		(void)disk_ring_wake_at(x->disk, x->disk_acks[0]->end, true);
	}
	return true;
}

void in_disk_drained(struct xfer *x)
{
	if (x->disk && x->disk_ack_n && disk_ring_wake_at(x->disk, x->disk_acks[0]->end, true))
		acks_flush(x);
}

bool in_disk_final(struct xfer *x, const struct msrp_msg *m)
{
	struct in_pend *fin;

	if (!x->disk)
		return false;
	fin = pend_new(m, x->contig);
	if (!fin)
		return false; /* cannot happen in practice; the caller fails the hash check */
	x->disk_fin = fin;
	/* Nothing more from the peer until its '$' chunk is answered. */
	mconn_hold(x->conn, true);
	disk_ring_finish(x->disk);
	return true;
}

uint64_t in_disk_contig(const struct xfer *x)
{
	uint64_t w;

	if (!x->disk)
		return x->contig;
	w = disk_ring_written(x->disk);
	return w < x->contig ? w : x->contig;
}

void in_disk_stop(struct xfer *x)
{
	uint64_t held;

	if (x->disk_widx > 0)
		su_root_deregister(x->app->root, x->disk_widx);
	x->disk_widx = 0;
	if (!x->disk)
		return;
	held = disk_ring_stop(x->disk);
	if (held < x->contig)
		x->contig = held;
	x->disk = NULL;
	free(x->disk_fin);
	x->disk_fin = NULL;
	acks_drop(x);
}
