/* The tee worker: a file's blob write and sha-1 off the event loop, the relay's adapter of
 * the shared disk ring (common/disk_ring.h: the ring, the worker thread, its wake-ups, the
 * write/hash/writeback; issue 12 §2). What is the relay's is here: when a relay gets a worker,
 * holding the sender (CONN_HOLD_DISK) while the ring is nearly full, the '$' handshake, and
 * how an error or an end of the relay is reported.
 *
 * Lazy SHA-1 (docs/internals/relay.md, "Lazy SHA-1"): a live relay's worker writes the blob
 * without hashing (the device checks the file's hash itself); a switch to store mode asks it for
 * the hash (relay_tw_want_hash), and it hashes back what it wrote before going on. A store relay
 * that finds no hash at its '$' (or after a live '$' went DOWN unverified) hashes the whole blob
 * on a fresh worker whose prefix is the file: the resume's path, nothing written.
 *
 * One worker per relay whose file is worth it (DISK_RING_MIN_FILE and up; smaller files keep
 * the inline tee of relay_tee.c: a thread start costs more than hashing them) and per resumed
 * upload, whose worker first hashes the stored prefix [0, base).
 *
 * Back-pressure: the sender is held when less than one receive buffer is free: a parse pass's
 * body event is never larger, and the parser stops at the hold (the next event always fits).
 *
 * The '$' chunk: the loop tells the worker the final count and holds the sender; the worker
 * finishes the digest and wakes the loop, which checks it (ft_relay_up.c,
 * relay_up_last_hashed): in live mode before the last chunk's end-line goes DOWN, in store
 * mode before FT_RELAY_RECEIVED (whose acknowledgement still waits for the store's fsync).
 * A write error ends the relay FT_RELAY_IO_ERROR with the blob cut back to what was written
 * (ft_relay_bytes() says so: a resume starts there).
 *
 * ft_relay_destroy() never joins the thread (the loop must not wait for a disk): it stops the
 * ring, whose worker sees the cancel within one piece. ft_relay_wait_hashers() waits for the
 * threads still alive (the process must not exit while one is inside libcrypto). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "common/disk_ring.h"
#include "relay/ft_relay_priv.h"

/* The sender is held when less than one receive buffer is free (above). */
#define TW_LOW_ROOM ((size_t)MSRP_RBUF_SIZE)

/* Test hook (ft_relay.h): read on the loops of --workers, hence an atomic. */
static uint64_t hook_min_size = DISK_RING_MIN_FILE;

void ft_relay_test_tee_hooks(unsigned delay_us, uint64_t fail_at, uint64_t min_size)
{
	disk_ring_test_hooks(delay_us, fail_at);
	__atomic_store_n(&hook_min_size, min_size ? min_size : DISK_RING_MIN_FILE, __ATOMIC_SEQ_CST);
}

static bool tee_direct; /* ft_relay_set_tee_direct(); read on the loops of --workers */

void ft_relay_set_tee_direct(bool on)
{
	__atomic_store_n(&tee_direct, on, __ATOMIC_SEQ_CST);
}

bool ft_relay_wait_hashers(unsigned ms)
{
	return disk_ring_wait_all(ms);
}

/* The worker freed room, finished, or failed. */
static int worker_wakeup(su_root_magic_t *m, su_wait_t *w, su_wakeup_arg_t *arg)
{
	struct ft_relay *r = arg;
	struct disk_ring_result res;

	(void)m;
	(void)w;
	if (!r->rs)
		return 0;
	disk_ring_poll(r->rs, &res);
	if (res.hashed) {
		memcpy(r->tee.digest, res.digest, sizeof r->tee.digest);
		r->tee.hashed = true;
	}
	hub_enter(r->hub);
	if (r->ended) {
		if (res.finished && r->tw_draining) {
			/* relay_finish() waited for the ring to reach the blob: report now */
			r->tw_draining = false;
			relay_tw_stop(r);
			msrp_log("relay %s: %s (%s), %llu bytes", relay_name(r), ft_relay_result_str(r->deferred_res),
				 r->deferred_detail, (unsigned long long)r->tee.contig);
			relay_arm_deferred_done(r);
		}
	} else if (res.finished && res.err) {
		r->rs_err = res.err;
		r->rs_write_err = res.write_err;
		relay_tw_stop(r); /* the worker is done; so is its eventfd */
		relay_tw_fail(r);
	} else if (res.finished && (r->rs_wait || r->rs_verify)) {
		bool verify = r->rs_verify;

		/* whole blocks that went through the page cache after all: the data dir's file
		 * system refused O_DIRECT (uploads then cost cpmd the page-cache copy again) */
		if (r->rs_direct && !res.direct_bytes && disk_ring_written(r->rs) - r->base >= 2 * 4096)
			msrp_log("relay %s: blob written through the page cache: O_DIRECT not available on "
				 "the data dir's file system", relay_name(r));

		else if (r->tee.contig - r->base >= 2 * 4096)
			msrp_log("relay %s: blob %llu bytes, %llu of them written O_DIRECT", relay_name(r),
				 (unsigned long long)(r->tee.contig - r->base), (unsigned long long)res.direct_bytes);

		r->rs_wait = r->rs_verify = false;
		r->tee.final = true;
		relay_tw_stop(r);
		conn_unhold(relay_conn(r, FT_LEG_UP), CONN_HOLD_DISK);
		if (verify)
			relay_store_verified(r);
		else
			relay_up_last_hashed(r, r->rs_tid, r->rs_fr, r->rs_sr);
	} else if (!r->rs_wait && disk_ring_has_room(r->rs)) {
		conn_unhold(relay_conn(r, FT_LEG_UP), CONN_HOLD_DISK);
	}
	hub_leave(r->hub);
	return 0;
}

/* A blob the worker can read back (pread) for a late hash: the store opens its tee blobs
 * O_RDWR; anything else keeps the eager worker. */
static bool blob_readable(int fd)
{
	int fl = fd >= 0 ? fcntl(fd, F_GETFL) : -1;

	return fl >= 0 && (fl & O_ACCMODE) == O_RDWR;
}

/* base: the blob holds [0, base) already (a resume, or a whole file to hash again), or 0.
 * lazy: hash nothing until relay_tw_want_hash(). */
static int tw_start(struct ft_relay *r, uint64_t base, bool short_prefix, bool lazy)
{
	su_wait_t w;
	int rc = disk_ring_create(&r->rs, base, TW_LOW_ROOM);

	if (rc)
		return rc;
	if (su_wait_create(&w, disk_ring_efd(r->rs), SU_WAIT_IN))
		return -ENOMEM; /* relay_tw_stop() frees the ring */
	r->rs_widx = su_root_register(hub_root(r->hub), &w, worker_wakeup, r, 0);
	if (r->rs_widx <= 0) {
		r->rs_widx = 0;
		su_wait_destroy(&w);
		return -EIO;
	}
	if (short_prefix) {
		/* Reported from the loop, never inside ft_relay_create(). */
		r->rs_err = -EIO;
		disk_ring_fail(r->rs, -EIO);
		return 0;
	}
	if (lazy)
		disk_ring_lazy_hash(r->rs);
	/* O_DIRECT, no page-cache copy: a file cpmd keeps, and a live tee with --relay-tee direct
	 * (the page-cache copy was two thirds of a 1 GiB live relay's CPU: docs/BENCHMARKS.md) */
	if (!lazy || __atomic_load_n(&tee_direct, __ATOMIC_RELAXED))
		disk_ring_direct(r->rs);
	r->rs_direct = !lazy;
	rc = disk_ring_start(r->rs, r->tee.fd);
	if (rc)
		return rc;
	/* The worker writes and hashes from here on. */
	r->tee.no_hash = true;
	return 0;
}

int relay_resume_open(struct ft_relay *r, uint64_t base)
{
	bool short_prefix;
	int rc = tee_resume(&r->tee, base, &short_prefix);

	if (rc)
		return rc;
	r->base = base;
	r->tw_decided = true;
	return tw_start(r, base, short_prefix, false);
}

int relay_tee_feed(struct ft_relay *r, uint64_t off, const char *p, size_t n)
{
	uint64_t skip;
	int rc;

	if (!r->tw_decided) {
		r->tw_decided = true;
		if (r->size >= __atomic_load_n(&hook_min_size, __ATOMIC_RELAXED) && r->tee.contig == 0 &&
		    !r->source && tw_start(r, 0, false, !r->store && blob_readable(r->tee.fd))) {
			relay_tw_stop(r); /* no thread: the inline tee does it */
			r->tee.no_hash = false;
		}
	}
	if (!r->rs)
		return tee_feed(&r->tee, off, p, n);
	if (off > r->tee.contig || r->tee.final)
		return -EINVAL;
	skip = r->tee.contig - off; /* already have these */
	if (skip >= n)
		return 0;
	p += skip;
	n -= (size_t)skip;
	rc = disk_ring_push(r->rs, p, n); /* -ENOBUFS: the hold below keeps it from happening */
	if (rc < 0)
		return rc;
	r->tee.contig += n;
	if (rc == 1)
		conn_hold(relay_conn(r, FT_LEG_UP), CONN_HOLD_DISK);
	return 0;
}

bool relay_tw_final(struct ft_relay *r, const char *tid, enum msrp_report_mode fr, enum msrp_report_mode sr)
{
	if (!r->rs)
		return false;
	r->rs_wait = true;
	r->rs_fr = fr;
	r->rs_sr = sr;
	snprintf(r->rs_tid, sizeof r->rs_tid, "%s", tid);
	/* Nothing more from the sender until its '$' chunk is answered. */
	conn_hold(relay_conn(r, FT_LEG_UP), CONN_HOLD_DISK);
	disk_ring_finish(r->rs);
	if (r->base)
		msrp_log("relay %s: resumed upload complete (%llu bytes), waiting for the sha-1 of the whole file",
			 relay_name(r), (unsigned long long)r->tee.contig);
	return true;
}

void relay_tw_want_hash(struct ft_relay *r)
{
	if (r->rs)
		disk_ring_want_hash(r->rs);
}

/* A worker over the whole blob as its prefix, finishing at once. */
static bool tw_hash_blob(struct ft_relay *r)
{
	relay_tw_stop(r); /* (none is left by now: the last one finished) */
	if (r->tee.fd < 0 || tw_start(r, r->tee.contig, false, false)) {
		relay_tw_stop(r);
		return false;
	}
	msrp_log("relay %s: store mode, hashing the %llu bytes received live", relay_name(r),
		 (unsigned long long)r->tee.contig);
	return true;
}

bool relay_tw_rehash(struct ft_relay *r, const char *tid, enum msrp_report_mode fr, enum msrp_report_mode sr)
{
	return tw_hash_blob(r) && relay_tw_final(r, tid, fr, sr);
}

bool relay_tw_verify(struct ft_relay *r)
{
	if (!tw_hash_blob(r))
		return false;
	r->rs_verify = true;
	disk_ring_finish(r->rs);
	return true;
}

bool relay_tw_drain(struct ft_relay *r)
{
	if (!r->rs || r->destroyed || r->rs_widx <= 0)
		return false;
	r->tw_draining = disk_ring_drain(r->rs);
	return r->tw_draining;
}

void relay_tw_fail(struct ft_relay *r)
{
	const char *tid = NULL;
	enum msrp_report_mode fr = r->fwd_fr;
	int err = r->rs_err ? r->rs_err : -EIO;
	int status = r->rs_write_err ? 413 : 400;

	if (r->ended)
		return;
	if (r->rs_verify) {
		/* the '$' answer store_switch() held */
		tid = r->held_tid[0] ? r->held_tid : NULL;
		fr = r->held_fr;
		r->ack_wait = false;
	} else if (r->rs_wait) {
		tid = r->rs_tid;
		fr = r->rs_fr;
	} else if (r->up_cur == UP_ACTIVE) {
		tid = r->fwd_up_tid;
	}
	r->rs_wait = r->rs_verify = false;
	if (r->up_cur == UP_ACTIVE) {
		if (r->fwd_txn >= 0)
			r->tab[r->fwd_txn].used = false;
		relay_down_end(r, MSRP_FLAG_ABORT);
		r->up_cur = UP_SKIP;
	}
	/* As for a store that cannot keep the file (ft_relay_ack_received). */
	if (tid && fr != MSRP_REPORT_NO)
		relay_up_respond_tid(r, tid, status, "Cannot store the file");
	if (r->store && r->file_msgid[0] && fr != MSRP_REPORT_NO)
		relay_up_report(r, 400, "Cannot store the file", CPM_STR_NULL);
	if (r->rs_write_err)
		relay_finish(r, FT_RELAY_IO_ERROR, "blob write: %s", strerror(-err));
	else if (!r->base)
		relay_finish(r, FT_RELAY_IO_ERROR, "cannot read the blob back for its sha-1 (%s)", strerror(-err));
	else
		relay_finish(r, FT_RELAY_IO_ERROR, "resume: cannot read the stored %llu bytes (%s)",
			     (unsigned long long)r->base, strerror(-err));
}

void relay_tw_stop(struct ft_relay *r)
{
	uint64_t held;

	if (!r->rs)
		return;
	if (r->rs_widx > 0)
		su_root_deregister(hub_root(r->hub), r->rs_widx);
	r->rs_widx = 0;
	/* What the blob holds for sure: bytes still in the ring are lost (a resume re-sends
	 * them; the tail the worker may still write is cut by tee_resume). */
	held = disk_ring_stop(r->rs);
	if (held < r->tee.contig)
		r->tee.contig = held;
	r->rs = NULL;
}
