/* In-memory location service (see location.h). A chained hash table of
 * users; each user holds an array of its devices that grows (doubling) up to
 * max-devices: most users have one or two devices, and a fixed array of 16
 * (~18 KB, zeroed) per user made 100,000 users cost 2 GB (docs/BENCHMARKS.md,
 * issue 9). */
#include "sipua/location.h"
#include "common/str_hash.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct loc_user {
	struct loc_user *next;
	char aor[LOC_MAX_AOR];
	size_t ndev, cap;
	struct loc_device *dev; /* cap entries, ndev used */
};

struct location {
	struct loc_user **buckets;
	size_t nbuckets;
	size_t nusers;
	unsigned max_users;
	unsigned max_devices;
	size_t cursor; /* location_expire_some: the next bucket to look at */
};

time_t location_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}


int location_create(struct location **lp, unsigned max_users, unsigned max_devices)
{
	struct location *l = calloc(1, sizeof *l);
	if (!l)
		return -1;
	/* Power of two, about one bucket per expected user, capped. */
	l->nbuckets = 1024;
	while (l->nbuckets < max_users && l->nbuckets < (1u << 20))
		l->nbuckets <<= 1;
	l->buckets = calloc(l->nbuckets, sizeof *l->buckets);
	if (!l->buckets) {
		free(l);
		return -1;
	}
	l->max_users = max_users;
	l->max_devices = max_devices;
	*lp = l;
	return 0;
}

void location_destroy(struct location *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->nbuckets; i++)
		for (struct loc_user *u = l->buckets[i], *n; u; u = n) {
			n = u->next;
			free(u->dev);
			free(u);
		}
	free(l->buckets);
	free(l);
}

static struct loc_user **find_slot(struct location *l, const char *aor)
{
	struct loc_user **pp = &l->buckets[str_hash(aor) & (l->nbuckets - 1)];
	while (*pp && strcmp((*pp)->aor, aor) != 0)
		pp = &(*pp)->next;
	return pp;
}

static void unlink_user(struct location *l, struct loc_user **pp)
{
	struct loc_user *u = *pp;
	*pp = u->next;
	free(u->dev);
	free(u);
	l->nusers--;
}

static void drop_expired(struct loc_user *u, time_t now)
{
	size_t j = 0;
	for (size_t i = 0; i < u->ndev; i++)
		if (u->dev[i].expires_at > now)
			u->dev[j++] = u->dev[i];
	u->ndev = j;
}

enum loc_result location_bind(struct location *l, const char *aor, const struct loc_device *dev, unsigned expires)
{
	if (strlen(aor) >= LOC_MAX_AOR)
		return LOC_TOO_LONG;
	struct loc_user **pp = find_slot(l, aor);
	struct loc_user *u = *pp;
	time_t now = location_now();

	if (!u) {
		if (expires == 0)
			return LOC_OK;
		if (l->nusers >= l->max_users)
			return LOC_TOO_MANY_USERS;
		u = calloc(1, sizeof *u);
		if (!u)
			return LOC_NOMEM;
		snprintf(u->aor, sizeof u->aor, "%s", aor);
		*pp = u;
		l->nusers++;
	}
	drop_expired(u, now);
	size_t i;
	for (i = 0; i < u->ndev; i++)
		if (strcmp(u->dev[i].instance, dev->instance) == 0)
			break;
	if (expires == 0) {
		if (i < u->ndev)
			u->dev[i] = u->dev[--u->ndev];
	} else {
		if (i == u->ndev) {
			if (u->ndev >= l->max_devices)
				return LOC_TOO_MANY_DEVICES;
			if (u->ndev == u->cap) {
				size_t cap = u->cap ? 2 * u->cap : 1;
				if (cap > l->max_devices)
					cap = l->max_devices;
				struct loc_device *d = realloc(u->dev, cap * sizeof *d);
				if (!d) {
					if (u->ndev == 0)
						unlink_user(l, find_slot(l, aor));
					return LOC_NOMEM;
				}
				u->dev = d;
				u->cap = cap;
			}
			u->ndev++;
		}
		u->dev[i] = *dev;
		u->dev[i].expires_at = now + (time_t)expires;
	}
	if (u->ndev == 0)
		unlink_user(l, find_slot(l, aor));
	return LOC_OK;
}

void location_remove_all(struct location *l, const char *aor)
{
	struct loc_user **pp = find_slot(l, aor);
	if (*pp)
		unlink_user(l, pp);
}

size_t location_lookup(struct location *l, const char *aor, struct loc_device *out, size_t max)
{
	struct loc_user **pp = find_slot(l, aor);
	if (!*pp)
		return 0;
	drop_expired(*pp, location_now());
	if ((*pp)->ndev == 0) {
		unlink_user(l, pp);
		return 0;
	}
	size_t n = (*pp)->ndev < max ? (*pp)->ndev : max;
	memcpy(out, (*pp)->dev, n * sizeof *out);
	return n;
}

void location_expire(struct location *l)
{
	l->cursor = 0;
	location_expire_some(l, l->nbuckets);
}

bool location_expire_some(struct location *l, size_t nbuckets)
{
	time_t now = location_now();
	size_t end = l->cursor + nbuckets < l->nbuckets ? l->cursor + nbuckets : l->nbuckets;
	for (size_t i = l->cursor; i < end; i++) {
		struct loc_user **pp = &l->buckets[i];
		while (*pp) {
			drop_expired(*pp, now);
			if ((*pp)->ndev == 0)
				unlink_user(l, pp);
			else
				pp = &(*pp)->next;
		}
	}
	l->cursor = end == l->nbuckets ? 0 : end;
	return l->cursor == 0;
}

size_t location_buckets(const struct location *l)
{
	return l->nbuckets;
}

size_t location_count_users(const struct location *l)
{
	return l->nusers;
}

int location_aor_key(char *out, size_t cap, const char *user, const char *host)
{
	int n = snprintf(out, cap, "%s@%s", user ? user : "", host ? host : "");
	if (n < 0 || (size_t)n >= cap || !user || !*user || !host || !*host)
		return -1;
	for (char *p = strchr(out, '@') + 1; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return 0;
}
