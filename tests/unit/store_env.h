/* The set-up shared by the store's unit tests (test_store_db.c, test_store_blob.c,
 * test_store_msg.c, test_store_push.c, test_store_regs.c): a fresh temporary directory for the
 * database and the blobs, a real event loop (net/loop.h) created in the test's own thread, and running that
 * loop until enough completions have come (and, for the schema upgrades, a database's
 * version). Each test opens and closes its store itself (store_sqlite_open, store_open_dir,
 * the fault-injecting wrapper: that is what they test). */
#ifndef CPM_TEST_STORE_ENV_H
#define CPM_TEST_STORE_ENV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/log.h"

extern struct loop *loop;          /* env_up creates it, env_down destroys it (then NULL) */
extern pthread_t loop_thread;      /* the thread that called env_up: the loop's */
extern char dir[256], dbpath[300]; /* the temporary directory, and dir/store.db */

uint64_t now_ms(void); /* CLOCK_MONOTONIC, in ms */

/* A new loop and an empty directory /tmp/<name>.XXXXXX; sets log_threshold. Aborts on failure. */
void env_up(const char *name, enum log_level threshold);
/* Destroys the loop and removes the directory with everything in it. */
void env_down(void);
/* Steps the loop until *done (a test's completion counter) reaches n, for at most 5 s:
 * whether it did. */
bool wait_for(const unsigned *done, unsigned n);
/* The schema version a database file records (its schema_version table), or -1. */
int version_of(const char *path);

#endif
