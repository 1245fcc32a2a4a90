/* The devices' RFC 8599 push parameters in the store (store.h, struct store_push; issue 13,
 * docs/internals/push.md): pf keeps them in memory to wake sleeping devices, and here so that
 * a restart does not forget them. Argument checks and dispatch; the SQLite side is in
 * store_sqlite*.c like every other record's. */
#include "store/store_backend.h"

#include <errno.h>
#include <string.h>

int store_push_put(struct store *s, const struct store_push *p, store_done_fn *done, void *arg)
{
	if (!s || !p || !FIELD_OK(p->aor) || !p->aor[0] || !FIELD_OK(p->instance) || !p->instance[0] ||
	    !FIELD_OK(p->provider) || !p->provider[0] || !FIELD_OK(p->prid) || !p->prid[0] || !FIELD_OK(p->param))
		return -EINVAL;
	return store_submit_copy(s, STORE_OP_PUSH_PUT, p, sizeof *p, done, arg);
}

int store_push_del(struct store *s, const char *aor, const char *instance, store_done_fn *done, void *arg)
{
	if (!s)
		return -EINVAL;
	return store_submit_key(s, STORE_OP_PUSH_DEL, aor, STORE_AOR_MAX, instance, STORE_INSTANCE_MAX, done, arg);
}

int store_push_all(struct store *s, unsigned limit, store_push_cb *cb, void *arg)
{
	if (!s || !cb)
		return -EINVAL;
	/* 0 is "every one" here (a start-up load), not STORE_SCAN_DEFAULT: the caller bounds it */
	return s->ops->push_all(s, limit ? limit : (unsigned)INT32_MAX, cb, arg);
}
