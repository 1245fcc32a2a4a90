/* cpmd: a thin main. Options → the loop → location service → store → SIP (sipua) → MSRP
 * hub → pf, all in one single-threaded event loop (net/loop.h); signals, shutdown. The
 * modules get configuration structs (config_map.c), never the options. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/malloc_policy.h"
#include "cpmd/config_map.h"
#include "cpmd/options.h"
#include "cpmd/reload.h"
#include "cpmd/sofia_log.h"
#include "net/loop.h"
#include "net/loop_su.h"
#include "admin/admin.h"
#include "admin/admin_static.h"
#include "net/msrp_hub.h"
#include "pf/pf.h"
#include "relay/ft_relay.h"
#include "common/subscribers.h"
#include "sipua/location.h"
#include "sipua/registrar.h"
#include "sipua/sipua.h"
#include "store/store.h"

struct daemon {
	struct loop *loop;
	struct sipua *sipua;
	struct pf *pf;
	int sigfd;
	int sigwait_idx;
	int stopping;
	const char *users_file;     /* --users, or NULL */
	struct subscribers *users;  /* the list in service (sipua reads it) */
	struct cpmd_options *opts;  /* in service; a SIGHUP reload updates it */
	int argc;                   /* what the reload parses again */
	char **argv;
};

static int load_users(struct daemon *d);

/* The logger's settings from the options (at start and after a reload). */
static int apply_log_options(const struct cpmd_options *o)
{
	/* under systemd, stderr is a journal stream: it stamps the time and reads our levels */
	log_journal = !strcmp(o->log_format, "journal") || (!strcmp(o->log_format, "auto") && getenv("JOURNAL_STREAM"));
	return log_level_parse(o->log_level, &log_threshold);
}

/* SIGHUP with --config: the file again, then what changed pushed to the modules. systemd
 * hears RELOADING=1 (with the time, as `systemctl reload` waits for READY=1 after it) and
 * READY=1 once done, bad file or not: the old configuration is in service either way. */
static void reload(struct daemon *d)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
		   (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
	log_info("SIGHUP received: reloading %s", d->opts->config_file);
	static char old_prefs[sizeof d->opts->user_prefs]; /* big: off the stack */
	unsigned old_n = d->opts->nuser_prefs;
	memcpy(old_prefs, d->opts->user_prefs, sizeof old_prefs);
	if (cpmd_reload(d->opts, d->argc, d->argv) > 0) {
		static struct pf_config pcfg;
		cpmd_pf_config(d->opts, &pcfg);
		pf_set_policy(d->pf, &pcfg);
		if ((old_n != d->opts->nuser_prefs || memcmp(old_prefs, d->opts->user_prefs, sizeof old_prefs)) &&
		    pf_prefs_reload(d->pf, &pcfg)) {
			/* refused (logged): the options say what is in service */
			memcpy(d->opts->user_prefs, old_prefs, sizeof old_prefs);
			d->opts->nuser_prefs = old_n;
		}
		apply_log_options(d->opts); /* checked by the options parser */
	}
	d->users_file = d->opts->users_file[0] ? d->opts->users_file : NULL;
	if (d->users_file)
		load_users(d);
	sd_notify(0, "READY=1");
}

/* Loads --users and puts the new list in service; the old one stays when the file is bad, so
 * a typo in a reload never locks everyone out. */
static int load_users(struct daemon *d)
{
	struct subscribers *u;
	char why[300];
	if (!d->users_file)
		return 0;
	if (subscribers_load(&u, d->users_file, why, sizeof why)) {
		log_error("--users: %s%s", why, d->users ? " (the previous list stays in service)" : "");
		return -1;
	}
	sipua_set_subscribers(d->sipua, u);
	subscribers_free(d->users);
	d->users = u;
	log_info("subscriber list %s: %zu subscriber(s)", d->users_file, subscribers_count(u));
	return 0;
}

static void on_signal(void *arg)
{
	struct daemon *d = arg;
	struct signalfd_siginfo si;

	while (read(d->sigfd, &si, sizeof si) == sizeof si) {
		if (si.ssi_signo == SIGHUP) {
			/* The conventional "reload" signal: never fatal (its default
			 * action would kill us with everything in flight). */
			if (d->opts->config_file[0]) {
				reload(d);
			} else if (d->users_file) {
				log_info("SIGHUP received: reloading the subscriber list");
				load_users(d);
			} else {
				log_info("SIGHUP received: nothing to reload (no --users); ignored");
			}
			continue;
		}
		if (d->stopping++) {
			log_warn("second signal: exiting now");
			loop_break(d->loop);
			return;
		}
		sd_notify(0, "STOPPING=1");
		log_info("signal %u: shutting down (%zu transfers in progress)", si.ssi_signo,
			 pf_active_transfers(d->pf));
		pf_terminate_all(d->pf);
		sipua_shutdown(d->sipua);
	}
}

/* A stop signal waits (blocked) while cpmd starts: store_set_interrupt's question. */
static bool startup_signal_pending(void *arg)
{
	(void)arg;
	sigset_t p;
	return sigpending(&p) == 0 && (sigismember(&p, SIGTERM) == 1 || sigismember(&p, SIGINT) == 1);
}

int main(int argc, char **argv)
{
	struct cpmd_options opts;
	struct daemon d;
	struct location *loc = NULL;
	struct msrp_hub *hub = NULL;
	struct store *st = NULL;
	struct admin *admin = NULL;
	struct admin_static *console = NULL;
	int rc = 1;

	memset(&d, 0, sizeof d);
	d.sigfd = -1;
	/* before any thread: how the heap gives memory back (common/malloc_policy.h) */
	bool malloc_policy_refused = cpm_malloc_policy() != 0;
	/* Blocked from the start (and so in every thread we create), read from
	 * the signalfd by the event loop: TERM/INT stop cleanly, HUP reloads --users. */
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
	d.opts = &opts;
	d.argc = argc;
	d.argv = argv;
	if (apply_log_options(&opts)) {
		fprintf(stderr, "cpmd: invalid --log-level \"%s\" (error, warn, info, debug)\n", opts.log_level);
		return 2;
	}
	sofia_log_redirect(); /* sofia's own lines: our prefix, our escaping */
	if (malloc_policy_refused)
		log_warn("malloc: glibc refused cpmd's heap settings (common/malloc_policy.h); its defaults stay");

	if (loop_create(&d.loop)) {
		log_error("cannot create the event loop");
		goto out;
	}
	/* The durable store: registrations, stored files, partial uploads,
	 * deferred notifications. It owns the data directory: locks it (one cpmd
	 * per directory), checks it, creates its layout (docs/internals/store.md),
	 * and says what is wrong with the path and the errno. */
	if (store_open_dir(&st, d.loop, opts.data_dir))
		goto out;
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
	/* SIGTERM/SIGINT are blocked (read by the loop, which does not run yet): the long start-up
	 * work asks whether one is pending, and stops */
	store_set_interrupt(st, startup_signal_pending, NULL);
	if (location_create(&loc, opts.max_users, opts.max_devices)) {
		log_error("out of memory");
		goto out;
	}
	int restored = registrar_restore(st, loc);
	if (restored)
		log_info("restored %d registration(s) from the store in %s", restored, opts.data_dir);
	struct pf_config pcfg;
	struct sipua_config scfg;
	cpmd_pf_config(&opts, &pcfg);
	cpmd_sipua_config(&opts, &pcfg.domains, &scfg);
	if (sipua_create(&d.sipua, d.loop, &scfg, loc, st))
		goto out;
	d.users_file = opts.users_file[0] ? opts.users_file : NULL;
	if (load_users(&d))
		goto out;
	if (scfg.auth)
		log_info("SIP digest authentication on (MD5, SHA-256) against %s", d.users_file);
	struct msrp_hub_cfg hc = {
		.host = opts.msrp_host,
		.port = opts.msrp_port,
		.advertise = opts.msrp_advertise[0] ? opts.msrp_advertise : opts.msrp_host,
		.tls_host = opts.msrp_tls_host,
		.tls_port = opts.msrp_tls_port,
		.tls_cert = opts.tls_cert,
		.tls_key = opts.tls_key,
		.tls_ca = opts.tls_ca[0] ? opts.tls_ca : NULL,
		.tls_verify_clients = opts.tls_verify_clients,
		.bind_timeout = opts.msrp_idle_timeout,
		.max_conns_per_addr = opts.max_msrp_conns_per_addr,
	};
	if (msrp_hub_create(&hub, loop_su_root(d.loop), &hc)) {
		log_error("cannot listen for MSRP on %s:%u: %s", opts.msrp_host, opts.msrp_port, strerror(errno));
		goto out;
	}
	ft_relay_set_tee_direct(!opts.relay_tee_cached);
	int wrc = msrp_hub_start_workers(hub, opts.workers);
	if (wrc) {
		log_error("cannot start %u MSRP worker loops: %s", opts.workers, strerror(-wrc));
		goto out;
	}
	struct pf_deps deps = {.loop = d.loop, .sipua = d.sipua, .loc = loc, .hub = hub, .st = st};
	if (pf_create(&d.pf, &deps, &pcfg)) {
		if (startup_signal_pending(NULL)) {
			log_info("stopped by a signal while starting (nothing was served)");
			rc = 0;
		} else
			log_error("cannot create the participating function");
		goto out;
	}
	store_set_interrupt(st, NULL, NULL); /* from here on the loop reads the signals */

	d.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (d.sigfd < 0 || (d.sigwait_idx = loop_watch(d.loop, d.sigfd, on_signal, &d)) < 0) {
		log_error("cannot set up signal handling");
		goto out;
	}

	if (opts.sip_tls_port)
		fprintf(stderr, "cpmd: sip=tls:%s:%u\n", opts.sip_tls_host, opts.sip_tls_port);
	if (opts.tls_verify_clients)
		log_info("TLS clients (%s%s%s) must show a certificate chained to %s", opts.sip_tls_port ? "SIP" : "",
			 opts.sip_tls_port && opts.msrp_tls_port ? " and " : "", opts.msrp_tls_port ? "MSRP" : "",
			 opts.tls_ca);
	if (opts.msrp_tls_port)
		fprintf(stderr, "cpmd: msrp=tls:%s:%u\n", opts.msrp_tls_host, msrp_hub_tls_port(hub));
	if (opts.admin_port) { /* issue 13: the operator's HTTP API and /metrics (src/admin) */
		/* the console (web/console) is optional: without --admin-console, a default directory that
		 * is missing only leaves / at 404 (a warning); the API works all the same */
		bool named = opts.admin_console[0] != '\0';
		if (admin_static_open(&console, cpmd_console_dir(&opts), named) && named)
			goto out;
		struct admin_config ac = {.host = opts.admin_host, .port = opts.admin_port, .token = opts.admin_token,
					  .tls_cert = opts.admin_tls_cert, .tls_key = opts.admin_tls_key,
					  .tls_ca = opts.admin_tls_ca, .console = console, .data_dir = opts.data_dir};
		if (admin_start(&admin, &ac, d.loop, d.pf))
			goto out;
		fprintf(stderr, "cpmd: admin=http%s://%s:%u\n", opts.admin_tls_cert[0] ? "s" : "", opts.admin_host,
			opts.admin_port);
	}
	fprintf(stderr, "cpmd: ready domain=%s sip=udp+tcp:%s:%u msrp=tcp:%s:%u data-dir=%s\n", opts.domains[0],
		opts.sip_host, opts.sip_port, opts.msrp_host, opts.msrp_port, opts.data_dir);
	pf_start(d.pf);
	/* Type=notify: the listeners are bound and the store is open (systemd starts what
	 * depends on cpmd now); without NOTIFY_SOCKET this does nothing. */
	sd_notifyf(0, "READY=1\nSTATUS=serving %s\nMAINPID=%lu", opts.domains[0], (unsigned long)getpid());
	loop_run(d.loop);
	log_info("stopped");
	rc = 0;
out:
	admin_close(admin); /* no HTTP request reaches pf from here on */
	if (d.pf) {
		pf_terminate_all(d.pf);
		pf_destroy(d.pf);
	}
	sipua_destroy(d.sipua);
	subscribers_free(d.users);
	store_close(st); /* completes every queued write first; unlocks the data directory last */
	admin_destroy(admin); /* after the store: its last answers came from store completions */
	admin_static_close(console);
	msrp_hub_destroy(hub);
	location_destroy(loc);
	if (d.sigwait_idx > 0)
		loop_unwatch(d.loop, d.sigwait_idx);
	if (d.sigfd >= 0)
		close(d.sigfd);
	loop_destroy(d.loop);
	sofia_log_flush();
	return rc;
}
