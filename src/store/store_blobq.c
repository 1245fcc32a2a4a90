/* The blob files, off the loop: blob_commit() (fsync, rename, directory fsync — milliseconds
 * to seconds for a big file), checkpoints, removals and the move to mss/ run on this module's
 * own thread; a commit's item update (typically RECEIVING → STORED) is then submitted from
 * the loop thread, and the caller's done runs once both are durable. A separate thread from
 * the store worker, so that fsyncing a 1 GiB file never holds up the small commits of
 * everyone else. The opens are quick syscalls and run on the caller's (loop) thread. */
#include "store/store_blobq.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/log.h"
#include "common/metrics.h"
#include "net/loop.h"
#include "store/blob.h"
#include "store/store_backend.h"

enum job_kind { JOB_COMMIT, JOB_CHECKPOINT, JOB_REMOVE, JOB_MOVE_MSS, JOB_WRITE_MSS, JOB_LINK };

struct job {
	struct job *next;
	struct store_blobq *q;
	enum job_kind kind;
	int fd;
	bool partial;                 /* JOB_REMOVE: blobs/tmp/<id> */
	char id[STORE_ID_MAX + 1];    /* JOB_REMOVE, JOB_MOVE_MSS, JOB_WRITE_MSS; JOB_LINK: the source */
	void *data;                   /* JOB_WRITE_MSS: the body; JOB_LINK: the thumbnail (owned,
	                                 freed with the job) */
	char thumb_type[STORE_TYPE_MAX + 1]; /* JOB_LINK: the thumbnail's type ("": none) */
	size_t len;
	union {
		struct store_item item;       /* JOB_COMMIT, JOB_LINK (the new item) */
		struct store_partial partial; /* JOB_CHECKPOINT */
	} u;
	store_done_fn *done;
	void *arg;
};

struct store_blobq {
	struct store *s;
	struct blob_dir *bd;
	struct store_cq *cq;
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *head, *tail; /* under mu */
	bool stop;               /* under mu */
	unsigned pending;        /* loop thread: requests whose answer has not run yet */
};

/* Loop thread: the blob step is done (or failed). A commit or checkpoint goes on with its
 * store write; a removal or move is answered. */
static void on_loop(void *arg, int err)
{
	struct job *j = arg;

	j->q->pending--;
	if (!err && j->kind == JOB_COMMIT)
		err = store_item_update(j->q->s, &j->u.item, j->done, j->arg); /* done comes from there */
	else if (!err && j->kind == JOB_LINK) {
		struct store_thumb th = {.len = j->len, .data = j->data};
		memcpy(th.type, j->thumb_type, sizeof th.type);
		err = store_item_put(j->q->s, &j->u.item, j->thumb_type[0] ? &th : NULL, j->done, j->arg);
	}
	else if (!err && j->kind == JOB_CHECKPOINT)
		err = store_partial_put(j->q->s, &j->u.partial, j->done, j->arg);
	else if (j->kind == JOB_REMOVE || j->kind == JOB_MOVE_MSS || j->kind == JOB_WRITE_MSS) {
		if (j->done)
			j->done(j->arg, err);
		err = 0;
	}
	if (err && j->done) /* the blob step failed, or the store write could not be queued */
		j->done(j->arg, err);
	free(j->data);
	free(j);
}

static void *worker(void *arg)
{
	struct store_blobq *q = arg;

	for (;;) {
		struct job *j;
		struct store_op *op;
		int err;

		pthread_mutex_lock(&q->mu);
		while (!q->head && !q->stop)
			pthread_cond_wait(&q->cv, &q->mu);
		j = q->head;
		if (!j) {
			pthread_mutex_unlock(&q->mu);
			break;
		}
		q->head = j->next;
		if (!q->head)
			q->tail = NULL;
		pthread_mutex_unlock(&q->mu);

		switch (j->kind) {
		case JOB_COMMIT:
			err = blob_commit(q->bd, j->u.item.id, j->fd);
			if (err)
				log_error("store: blob %s: commit failed: %s", j->u.item.id, strerror(-err));
			close(j->fd);
			break;
		case JOB_CHECKPOINT:
			err = blob_partial_sync(j->fd);
			if (err)
				log_error("store: partial %s: sync failed: %s", j->u.partial.item_id, strerror(-err));
			break;
		case JOB_REMOVE:
			err = blob_remove(q->bd, j->id, j->partial);
			break;
		case JOB_WRITE_MSS:
			err = blob_write_mss(q->bd, j->id, j->data, j->len);
			break;
		case JOB_LINK:
			err = blob_link(q->bd, j->id, j->u.item.id);
			break;
		case JOB_MOVE_MSS:
		default:
			err = blob_move_to_mss(q->bd, j->id);
			break;
		}
		op = store_op_alloc(STORE_OP_SYNC, 0, on_loop, j);
		if (!op) { /* cannot report through the loop: abort rather than lose an answer */
			log_error("store: blob: out of memory reporting a commit");
			abort();
		}
		op->err = err;
		store_cq_post(q->cq, op, op);
	}
	return NULL;
}

int store_blobq_create(struct store_blobq **out, struct store *s, struct blob_dir *bd)
{
	struct store_blobq *q;
	int err;

	if (!out || !s || !bd)
		return -EINVAL;
	if (!(q = calloc(1, sizeof *q)))
		return -ENOMEM;
	q->s = s;
	q->bd = bd;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
	if ((err = store_cq_create(&q->cq, s->loop)) || (err = -pthread_create(&q->thread, NULL, worker, q))) {
		store_blobq_destroy(q);
		return err;
	}
	q->started = true;
	*out = q;
	return 0;
}

static int enqueue(struct store_blobq *q, struct job *j)
{
	int err = 0;

	pthread_mutex_lock(&q->mu);
	if (q->stop)
		err = -ESHUTDOWN;
	else {
		if (q->tail)
			q->tail->next = j;
		else
			q->head = j;
		q->tail = j;
		pthread_cond_signal(&q->cv);
	}
	pthread_mutex_unlock(&q->mu);
	if (err) {
		free(j->data);
		free(j);
		metrics_error(ME_STORE_QUEUE); /* as store.c's submit(): counted where it is refused */
	} else {
		q->pending++;
	}
	return err;
}

int store_blobq_commit(struct store_blobq *q, int fd, const struct store_item *it, store_done_fn *done, void *arg)
{
	struct job *j;

	if (!store_id_valid(it->id) || fd < 0)
		return -EINVAL;
	if (!(j = calloc(1, sizeof *j)))
		return -ENOMEM;
	*j = (struct job){.q = q, .kind = JOB_COMMIT, .fd = fd, .u.item = *it, .done = done, .arg = arg};
	return enqueue(q, j);
}

int store_blobq_checkpoint(struct store_blobq *q, int fd, const struct store_partial *p, store_done_fn *done,
			   void *arg)
{
	struct job *j;

	if (!store_id_valid(p->item_id) || fd < 0)
		return -EINVAL;
	if (!(j = calloc(1, sizeof *j)))
		return -ENOMEM;
	*j = (struct job){.q = q, .kind = JOB_CHECKPOINT, .fd = fd, .u.partial = *p, .done = done, .arg = arg};
	return enqueue(q, j);
}

int store_item_put_linked(struct store_blobq *q, const char *from_id, const struct store_item *it,
			  const struct store_thumb *thumb, store_done_fn *done, void *arg)
{
	struct job *j;

	if (!q || !store_id_valid(from_id) || !store_id_valid(it->id) || !strcmp(from_id, it->id) ||
	    (thumb && (!thumb->type[0] || thumb->len > STORE_THUMB_MAX || strnlen(thumb->type, sizeof thumb->type) ==
	                                                                          sizeof thumb->type)))
		return -EINVAL;
	if (!(j = calloc(1, sizeof *j)))
		return -ENOMEM;
	*j = (struct job){.q = q, .kind = JOB_LINK, .fd = -1, .u.item = *it, .done = done, .arg = arg};
	if (thumb) {
		if (thumb->len && !(j->data = malloc(thumb->len))) {
			free(j);
			return -ENOMEM;
		}
		if (thumb->len)
			memcpy(j->data, thumb->data, thumb->len);
		j->len = thumb->len;
		memcpy(j->thumb_type, thumb->type, sizeof j->thumb_type);
	}
	memcpy(j->id, from_id, strlen(from_id) + 1);
	return enqueue(q, j);
}

static int enqueue_named(struct store_blobq *q, enum job_kind kind, const char *id, bool partial,
			 store_done_fn *done, void *arg)
{
	struct job *j;

	if (!q || !store_id_valid(id))
		return -EINVAL;
	if (!(j = calloc(1, sizeof *j)))
		return -ENOMEM;
	*j = (struct job){.q = q, .kind = kind, .fd = -1, .partial = partial, .done = done, .arg = arg};
	memcpy(j->id, id, strlen(id) + 1); /* valid: at most STORE_ID_MAX characters */
	return enqueue(q, j);
}

int store_blob_remove(struct store_blobq *q, const char *id, bool partial, store_done_fn *done, void *arg)
{
	return enqueue_named(q, JOB_REMOVE, id, partial, done, arg);
}

int store_blob_move_to_mss(struct store_blobq *q, const char *id, store_done_fn *done, void *arg)
{
	return enqueue_named(q, JOB_MOVE_MSS, id, false, done, arg);
}

int store_blob_open_partial(struct store_blobq *q, const char *id, bool fresh, int *fd, uint64_t *size)
{
	if (!q || !fd || !size)
		return -EINVAL;
	return blob_partial_open_rw(q->bd, id, fresh, fd, size);
}

int store_blob_open_read(struct store_blobq *q, const char *id, uint64_t offset, int *fd, uint64_t *size)
{
	if (!q || !fd || !size)
		return -EINVAL;
	return blob_open_read(q->bd, id, offset, fd, size);
}

int store_item_open_read(struct store_blobq *q, const struct store_item *it, uint64_t offset, int *fd,
			 uint64_t *size)
{
	if (!q || !it || !fd || !size || !store_id_valid(it->id))
		return -EINVAL;
	if (!it->body_inline)
		return blob_open_read(q->bd, it->id, offset, fd, size);
	size_t len = 0;
	char *buf = malloc(STORE_MSG_INLINE_MAX);
	int err = buf ? store_item_body_get(q->s, it->id, buf, STORE_MSG_INLINE_MAX, &len) : -ENOMEM;
	int f = -1;
	if (!err && offset > len)
		err = -EINVAL;
	if (!err && (f = memfd_create("cpmd-item", MFD_CLOEXEC)) < 0)
		err = -errno;
	if (!err)
		err = blob_append(f, buf, len);
	if (!err && lseek(f, (off_t)offset, SEEK_SET) < 0)
		err = -errno;
	free(buf);
	if (err) {
		if (f >= 0)
			close(f);
		return err;
	}
	*fd = f;
	*size = len;
	return 0;
}

int store_item_to_mss(struct store_blobq *q, const struct store_item *it, store_done_fn *done, void *arg)
{
	if (!q || !it || !store_id_valid(it->id))
		return -EINVAL;
	if (!it->body_inline)
		return store_blob_move_to_mss(q, it->id, done, arg);
	struct job *j = calloc(1, sizeof *j);
	void *data = malloc(STORE_MSG_INLINE_MAX);
	size_t len = 0;
	int err = !j || !data ? -ENOMEM : store_item_body_get(q->s, it->id, data, STORE_MSG_INLINE_MAX, &len);
	if (err) {
		free(data);
		free(j);
		return err;
	}
	*j = (struct job){.q = q, .kind = JOB_WRITE_MSS, .fd = -1, .data = data, .len = len, .done = done, .arg = arg};
	memcpy(j->id, it->id, strlen(it->id) + 1); /* valid: at most STORE_ID_MAX characters */
	return enqueue(q, j);
}

void store_blobq_drain(struct store_blobq *q)
{
	while (q && q->pending)
		loop_step(q->s->loop, 100);
}

void store_blobq_destroy(struct store_blobq *q)
{
	if (!q)
		return;
	if (q->started) {
		pthread_mutex_lock(&q->mu);
		q->stop = true;
		pthread_cond_signal(&q->cv);
		pthread_mutex_unlock(&q->mu);
		pthread_join(q->thread, NULL); /* commits every queued blob first */
	}
	store_cq_destroy(q->cq); /* their item updates are submitted to the (still open) store */
	pthread_cond_destroy(&q->cv);
	pthread_mutex_destroy(&q->mu);
	free(q);
}
