/* Content screening (issue 11 §4; docs/internals/screening.md, "How cpmd uses it"): the
 * checks of an offer for its recipient, and clamd scans run on a queue of worker threads
 * owned by pf (net/workq.h), so that the loop never waits for clamd. What the checks and a
 * scan's outcome mean is policy.c's (policy_screen_offer, policy_scan_result); this file
 * gathers the facts and carries the jobs. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "net/workq.h"
#include "pf/pf_int.h"
#include "screen/clamd.h"

/* Two scans at once: clamd scans in its own threads, and a third would only queue there. */
#define SCREEN_THREADS 2
#define SCREEN_MAX_QUEUED 1024

struct scan_job {
	struct pf *pf;
	struct clamd_cfg cc;
	int fd;                 /* or -1: buf */
	const void *buf;
	uint64_t len;
	enum clamd_result res;
	char virus[128];
	char why[256];
	char what[64];          /* for the log: "ft ID", "msg ID" */
	int64_t t0_ms;
	pf_scan_done_fn *done;
	void *arg;
};

void pf_screen_check(struct pf *pf, const char *recipient, const char *sender_key, const char *type, uint64_t size,
		     bool has_size, struct pf_verdict *v)
{
	struct pf_user_policy up;
	memset(v, 0, sizeof *v);
	if (!pf_user_is_ours(pf, recipient))
		return; /* a user of another domain: their own PF screens what reaches them */
	pf_prefs_get(pf, recipient, &up);
	struct pf_screen_facts f = {
		.sender_key = sender_key,
		.blocked = pf_prefs_blocks(pf, recipient, sender_key),
		.user_type_ok = pf_prefs_type_ok(pf, recipient, type),
		.type = type,
		.size = size,
		.has_size = has_size,
	};
	policy_screen_offer(&pf->cfg, &up, &f, v);
}

bool pf_screen_wanted(struct pf *pf, const char *recipient)
{
	struct pf_user_policy up;
	if (!pf->screenq || !pf_user_is_ours(pf, recipient))
		return false;
	pf_prefs_get(pf, recipient, &up);
	return policy_scan_wanted(&pf->cfg, &up);
}

static void scan_work(void *arg)
{
	struct scan_job *j = arg;
	if (j->fd >= 0)
		j->res = clamd_scan_fd(&j->cc, j->fd, 0, j->len, j->virus, sizeof j->virus, j->why, sizeof j->why);
	else
		j->res = clamd_scan_buf(&j->cc, j->buf, (size_t)j->len, j->virus, sizeof j->virus, j->why,
					sizeof j->why);
}

static void scan_done(void *arg, int err)
{
	struct scan_job *j = arg;
	struct pf_verdict v;
	if (err) { /* cancelled at shutdown: never scanned */
		j->res = CLAMD_ERROR;
		snprintf(j->why, sizeof j->why, "shutting down");
	}
	policy_scan_result(&j->pf->cfg, j->res, j->virus, j->why, &v);
	int64_t ms = pf_now_ms() - j->t0_ms;
	if (j->res == CLAMD_INFECTED)
		log_warn("%s: clamd found %s in %" PRIu64 " bytes (%" PRId64 " ms): refused", j->what, j->virus, j->len,
			 ms);
	else if (j->res != CLAMD_CLEAN)
		log_warn("%s: not scanned (%s: %s) after %" PRId64 " ms: %s", j->what, clamd_result_name(j->res), j->why,
			 ms, v.status ? "refused (--screen-fail closed)" : "passed unscanned (--screen-fail open)");
	else
		log_info("%s: clamd: clean, %" PRIu64 " bytes in %" PRId64 " ms", j->what, j->len, ms);
	if (j->fd >= 0)
		close(j->fd);
	j->done(j->arg, &v);
	free(j);
}

static int submit(struct pf *pf, int fd, const void *buf, uint64_t len, const char *what, pf_scan_done_fn *done,
		  void *arg)
{
	struct scan_job *j = pf->screenq ? calloc(1, sizeof *j) : NULL;
	if (!j) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	j->pf = pf;
	j->cc.addr = pf->cfg.clamd;
	j->cc.reply_ms = pf->cfg.clamd_timeout * 1000u;
	j->fd = fd;
	j->buf = buf;
	j->len = len;
	j->done = done;
	j->arg = arg;
	j->t0_ms = pf_now_ms();
	snprintf(j->what, sizeof j->what, "%s", what);
	int rc = workq_submit(pf->screenq, scan_work, scan_done, j);
	if (rc) {
		log_error("%s: cannot queue the scan: %s", what, strerror(-rc));
		if (fd >= 0)
			close(fd);
		free(j);
		return -1;
	}
	return 0;
}

int pf_screen_fd(struct pf *pf, int fd, uint64_t len, const char *what, pf_scan_done_fn *done, void *arg)
{
	return submit(pf, fd, NULL, len, what, done, arg);
}

int pf_screen_buf(struct pf *pf, const void *buf, size_t len, const char *what, pf_scan_done_fn *done, void *arg)
{
	return submit(pf, -1, buf, len, what, done, arg);
}

int pf_screen_start(struct pf *pf)
{
	if (!pf->cfg.clamd[0])
		return 0;
	int rc = workq_create(&pf->screenq, pf->loop, "clamd", SCREEN_THREADS, SCREEN_MAX_QUEUED);
	if (rc) {
		log_error("cannot start the screening workers: %s", strerror(-rc));
		return -1;
	}
	/* Not fatal: clamd may start after cpmd; each scan says what it found (--screen-fail). */
	struct clamd_cfg cc = {.addr = pf->cfg.clamd, .reply_ms = 2000};
	char why[256];
	if (clamd_ping(&cc, why, sizeof why))
		log_warn("clamd at %s does not answer yet (%s): scans fail until it does (--screen-fail %s)",
			 pf->cfg.clamd, why, pf->cfg.screen_fail_open ? "open" : "closed");
	else
		log_info("content screening: clamd at %s answers", pf->cfg.clamd);
	return 0;
}

void pf_screen_stop(struct pf *pf)
{
	workq_destroy(pf->screenq); /* running scans finish, queued ones are done with -ECANCELED */
	pf->screenq = NULL;
}
