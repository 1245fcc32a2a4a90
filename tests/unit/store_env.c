/* See store_env.h. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "net/loop.h"
#include "store_env.h"

#define WAIT_MS 5000

struct loop *loop;
pthread_t loop_thread;
char dir[256], dbpath[300];

uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void env_up(const char *name, enum log_level threshold)
{
	log_threshold = threshold;
	if (loop_create(&loop))
		abort();
	loop_thread = pthread_self();
	snprintf(dir, sizeof dir, "/tmp/%s.XXXXXX", name);
	if (!mkdtemp(dir))
		abort();
	snprintf(dbpath, sizeof dbpath, "%s/store.db", dir);
}

void env_down(void)
{
	char cmd[400];

	loop_destroy(loop);
	loop = NULL;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "  (could not remove %s)\n", dir);
}

bool wait_for(const unsigned *done, unsigned n)
{
	uint64_t end = now_ms() + WAIT_MS;

	while (*done < n && now_ms() < end)
		loop_step(loop, 10);
	return *done >= n;
}

int version_of(const char *path)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int v = -1;

	if (sqlite3_open(path, &db) != SQLITE_OK)
		return -1;
	if (sqlite3_prepare_v2(db, "SELECT version FROM schema_version", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return v;
}
