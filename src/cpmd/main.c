/* cpmd: wiring. Options → location service → SIP (sipua) → MSRP hub → pf,
 * all in one single-threaded su_root event loop. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sofia-sip/su.h>
#include <sofia-sip/su_wait.h>

#include "common/log.h"
#include "cpmd/datadir.h"
#include "cpmd/options.h"
#include "cpmd/sofia_log.h"
#include "net/msrp_relay.h"
#include "pf/pf.h"
#include "sipua/location.h"
#include "sipua/registrar.h"
#include "sipua/sipua.h"
#include "store/store.h"

struct daemon {
	su_root_t *root;
	struct sipua *sipua;
	struct pf *pf;
	int sigfd;
	int sigwait_idx;
	int stopping;
};

static int on_signal(su_root_magic_t *m, su_wait_t *w, su_wakeup_arg_t *arg)
{
	struct daemon *d = arg;
	struct signalfd_siginfo si;

	while (read(d->sigfd, &si, sizeof si) == sizeof si) {
		if (si.ssi_signo == SIGHUP) {
			/* The conventional "reload" signal: never fatal (its default
			 * action would kill us with everything in flight). */
			log_info("SIGHUP received: reload is not supported yet; ignored");
			continue;
		}
		if (d->stopping++) {
			log_warn("second signal: exiting now");
			su_root_break(d->root);
			return 0;
		}
		log_info("signal %u: shutting down (%zu transfers in progress)", si.ssi_signo,
			 pf_active_transfers(d->pf));
		pf_terminate_all(d->pf);
		sipua_shutdown(d->sipua);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct cpmd_options opts;
	struct daemon d;
	struct location *loc = NULL;
	struct msrp_hub *hub = NULL;
	struct store *st = NULL;
	char blobs[1100], dbpath[1100];
	int rc = 1;
	int lock_fd = -1;

	memset(&d, 0, sizeof d);
	d.sigfd = -1;
	/* Blocked from the start (and so in every thread we create), read from
	 * the signalfd by the event loop: TERM/INT stop cleanly, HUP is ignored. */
	signal(SIGPIPE, SIG_IGN);
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	int r = cpmd_options_load(&opts, argc, argv);
	if (r)
		return r > 0 ? 0 : 2;
	if (log_level_parse(opts.log_level, &log_threshold)) {
		fprintf(stderr, "cpmd: invalid --log-level \"%s\" (error, warn, info, debug)\n", opts.log_level);
		return 2;
	}
	sofia_log_redirect(); /* sofia's own lines: our prefix, our escaping */
	/* One cpmd per data directory: locked before anything in it is touched,
	 * held until we exit. */
	if (datadir_lock(opts.data_dir, &lock_fd))
		return 1;
	snprintf(blobs, sizeof blobs, "%s/blobs/tmp", opts.data_dir);
	if (datadir_mkdir_p(blobs)) {
		log_error("cannot create data directory %s: %s", blobs, strerror(errno));
		close(lock_fd);
		return 1;
	}
	if (datadir_check(opts.data_dir)) {
		close(lock_fd);
		return 1;
	}

	su_init();
	d.root = su_root_create(&d);
	if (!d.root) {
		log_error("cannot create the event loop");
		goto out;
	}
	su_root_threading(d.root, 0);
	if (location_create(&loc, opts.max_users, opts.max_devices)) {
		log_error("out of memory");
		goto out;
	}
	/* The durable store: registrations, stored files, partial uploads,
	 * deferred notifications (docs/internals/store.md). */
	snprintf(dbpath, sizeof dbpath, "%s/cpmd.db", opts.data_dir);
	int src = store_sqlite_open(&st, d.root, dbpath);
	if (src) {
		/* The store says ENOENT for any SQLITE_CANTOPEN: not an errno
		 * to show (datadir_check already ruled out access problems). */
		log_error("cannot open the store %s: %s", dbpath,
			  src == -ENOENT ? "SQLite cannot open the database file" : strerror(-src));
		goto out;
	}
	if (opts.test_store_fail) {
		/* Fault injection for tests: proves that an I/O error is reported
		 * and never acknowledged as stored. */
		struct store *inner = st;
		if (store_faulty_wrap(&st, inner, opts.test_store_fail, STORE_FAULT_FROM_NTH)) {
			store_close(inner);
			st = NULL;
			log_error("cannot set up --test-store-fail");
			goto out;
		}
		log_warn("TESTING: the store fails its write #%u and every later one", opts.test_store_fail);
	}
	int restored = registrar_restore(st, loc);
	if (restored)
		log_info("restored %d registration(s) from %s", restored, dbpath);
	if (sipua_create(&d.sipua, d.root, &opts, loc, st))
		goto out;
	struct msrp_hub_cfg hc = {
		.host = opts.msrp_host,
		.port = opts.msrp_port,
		.advertise = opts.msrp_advertise[0] ? opts.msrp_advertise : opts.msrp_host,
	};
	if (msrp_hub_create(&hub, d.root, &hc)) {
		log_error("cannot listen for MSRP on %s:%u: %s", opts.msrp_host, opts.msrp_port, strerror(errno));
		goto out;
	}
	if (pf_create(&d.pf, d.root, sipua_nua(d.sipua), &opts, loc, hub, st)) {
		log_error("cannot create the participating function");
		goto out;
	}
	sipua_set_handler(d.sipua, pf_nua_event, d.pf);
	sipua_set_register_hook(d.sipua, pf_on_register, d.pf);

	d.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	su_wait_t w;
	if (d.sigfd < 0 || su_wait_create(&w, d.sigfd, SU_WAIT_IN) ||
	    (d.sigwait_idx = su_root_register(d.root, &w, on_signal, &d, 0)) < 0) {
		log_error("cannot set up signal handling");
		goto out;
	}

	fprintf(stderr, "cpmd: ready domain=%s sip=udp+tcp:%s:%u msrp=tcp:%s:%u data-dir=%s\n", opts.domains[0],
		opts.sip_host, opts.sip_port, opts.msrp_host, opts.msrp_port, opts.data_dir);
	pf_start(d.pf);
	su_root_run(d.root);
	log_info("stopped");
	rc = 0;
out:
	if (d.pf) {
		pf_terminate_all(d.pf);
		pf_destroy(d.pf);
	}
	sipua_destroy(d.sipua);
	store_close(st); /* completes every queued write first */
	msrp_hub_destroy(hub);
	location_destroy(loc);
	if (d.sigwait_idx > 0)
		su_root_deregister(d.root, d.sigwait_idx);
	if (d.sigfd >= 0)
		close(d.sigfd);
	if (d.root)
		su_root_destroy(d.root);
	su_deinit();
	sofia_log_flush();
	close(lock_fd); /* the data directory is free for the next cpmd */
	return rc;
}
