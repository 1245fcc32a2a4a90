/* Location service: which devices each user (AOR) has registered, keyed by
 * +sip.instance (falling back to the Contact URI), with the flow they
 * registered on so that requests go back over the same connection.
 * In memory for now (persistence across restarts is the store's job, a later
 * issue). Owned by the registrar; pf reads it through location_lookup(). */
#ifndef CPMD_SIPUA_LOCATION_H
#define CPMD_SIPUA_LOCATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define LOC_MAX_AOR 256
#define LOC_MAX_INSTANCE 256
#define LOC_MAX_CONTACT 512
#define LOC_MAX_FLOW 320 /* a registered flow (<= STORE_FLOW_MAX), or a next hop: --core, a --route URI */

struct loc_device {
	char instance[LOC_MAX_INSTANCE]; /* device key: +sip.instance value, or the contact URI */
	char contact[LOC_MAX_CONTACT];   /* registered Contact URI (Request-URI of our INVITEs) */
	char flow[LOC_MAX_FLOW];         /* "sip:ip:port;transport=tcp|udp": where the REGISTER came from */
	bool tcp;
	time_t expires_at;               /* CLOCK_MONOTONIC seconds */
};

struct location;

int location_create(struct location **lp, unsigned max_users, unsigned max_devices);
void location_destroy(struct location *l);

enum loc_result { LOC_OK = 0, LOC_TOO_MANY_DEVICES, LOC_TOO_MANY_USERS, LOC_NOMEM, LOC_TOO_LONG };

/* Insert or refresh one device binding; expires 0 removes it. */
enum loc_result location_bind(struct location *l, const char *aor, const struct loc_device *dev, unsigned expires);
void location_remove_all(struct location *l, const char *aor);

/* Copy up to max live devices of aor into out; returns how many. Expired
 * bindings are dropped on the way. */
size_t location_lookup(struct location *l, const char *aor, struct loc_device *out, size_t max);
/* Drop every expired binding. */
void location_expire(struct location *l);
/* The same for the next nbuckets of the table (a cursor goes round): a periodic timer calls it
 * with a slice, so that no turn of the loop walks every user (108 ms for 175,000 users, during
 * which SIP over UDP waits). Returns true when the cursor went back to the start. Lookups drop
 * expired bindings anyway: this only frees memory. */
bool location_expire_some(struct location *l, size_t nbuckets);
size_t location_buckets(const struct location *l);
size_t location_count_users(const struct location *l);
time_t location_now(void);

/* Canonical AOR key "user@host" (host lower-cased). Returns 0 or -1. */
int location_aor_key(char *out, size_t cap, const char *user, const char *host);

#endif
