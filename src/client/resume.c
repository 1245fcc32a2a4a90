/* What resume keeps on disk (store-and-forward contract §5).
 *
 * Send journal: one small text file per (user, target, file path, size,
 * mtime, sha-1) in --journal DIR (default $XDG_STATE_HOME/cpm, else
 * ~/.local/state/cpm), named send-<sha-1 of that key>.journal:
 *
 *     cpm-send-journal 1
 *     file-transfer-id <the first attempt's id: the IMDN id>
 *     acked <bytes from the start acknowledged by MSRP 200s>
 *
 * Written through a temp file + rename (a reader sees the old or the new
 * version, never half of one), at most every CPM_RESUME_SAVE_BYTES or
 * CPM_RESUME_SAVE_SECONDS and when the send ends. No fsync: it protects
 * against a killed process, not a power cut, and a stale count only means
 * re-sending a few bytes (the server continues from what it holds if that
 * is at least our count).
 *
 * Kept partials: an interrupted incoming transfer keeps DIR/.NAME.cpm-part
 * and gets a sidecar DIR/.NAME.cpm-part.meta:
 *
 *     cpm-partial 1
 *     name <hex of the peer's file name bytes>
 *     size N
 *     type TYPE
 *     sha1 HEX
 *     bytes N          (in-order bytes written)
 *     ooo 0|1          (chunks came out of order: the file size proves nothing)
 *     item ID          (fetch only)
 *
 * Nothing in a sidecar is trusted beyond choosing which partial to continue:
 * the part file is opened O_NOFOLLOW relative to --dir, its name is derived
 * from the sidecar's own name, and the whole file's sha-1 is checked at the
 * end as always.
 */
#include "cpm.h"

#include "common/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define META_SUFFIX ".cpm-part.meta"
#define META_MAX_BYTES 4096

/* ------------------------------------------------------------ helpers */

/* Write buf to dirfd/name atomically: name.tmp.PID, then rename. */
int state_write_atomic(int dirfd, const char *name, const char *buf, size_t len)
{
	char tmp[512];
	int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", name, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof tmp)
		return -1;
	int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(fd, buf + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	if (close(fd) < 0 || off != len || renameat(dirfd, tmp, dirfd, name) < 0) {
		unlinkat(dirfd, tmp, 0);
		return -1;
	}
	return 0;
}

/* Read a small file (at most cap-1 bytes) into buf, NUL-terminated. */
int state_read_small(int dirfd, const char *name, char *buf, size_t cap)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t got = 0;
	for (;;) {
		ssize_t r = read(fd, buf + got, cap - 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
		if (got == cap - 1)
			break;
	}
	close(fd);
	buf[got] = '\0';
	return (int)got;
}

/* The value of "key value" at the start of a line, copied into out. */
bool state_kv_get(const char *text, const char *key, char *out, size_t cap)
{
	size_t kl = strlen(key);
	for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		if (strncmp(l, key, kl) != 0 || l[kl] != ' ')
			continue;
		const char *v = l + kl + 1;
		size_t vl = strcspn(v, "\r\n");
		if (vl >= cap)
			return false;
		memcpy(out, v, vl);
		out[vl] = '\0';
		return true;
	}
	return false;
}

bool state_kv_u64(const char *text, const char *key, uint64_t *out)
{
	char v[32];
	return state_kv_get(text, key, v, sizeof v) && cpm_str_to_u64(cpm_str_c(v), out);
}

/* A sidecar value of hex digits into out[0..cap); its length into *len. */
static bool hex_value(const char *in, void *out, size_t cap, size_t *len)
{
	int n = cpm_hex_decode(out, cap, in, strlen(in), '\0');
	if (n < 0)
		return false;
	*len = (size_t)n;
	return true;
}

/* ------------------------------------------------------------ send journal */

static void sweep_dead_tmp(struct cpm_app *app, int dirfd, const char *infix, bool dotfile);

static int journal_dir(const struct cpm_opts *o, char *out, size_t cap)
{
	const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	int n;
	if (o->journal)
		n = snprintf(out, cap, "%s", o->journal);
	else if (xdg && xdg[0] == '/')
		n = snprintf(out, cap, "%s/cpm", xdg);
	else if (home && home[0])
		n = snprintf(out, cap, "%s/.local/state/cpm", home);
	else
		return -1;
	return n > 0 && (size_t)n < cap ? 0 : -1;
}

int cpm_state_dir(const struct cpm_opts *o, char *out, size_t cap)
{
	return journal_dir(o, out, cap) < 0 || mkdir_p(out, 0700) < 0 ? -1 : 0;
}

void journal_init(struct cpm_app *app, const char *path, long long mtime_ns)
{
	const struct cpm_opts *o = app->o;
	char dir[4096];
	app->journal_path[0] = '\0';
	app->journal_acked = 0;
	if (journal_dir(o, dir, sizeof dir) < 0) {
		errlog(app, "no resume journal (no --journal, and neither $XDG_STATE_HOME nor $HOME is set)");
		return;
	}
	if (mkdir_p(dir, 0700) < 0) {
		errlog(app, "no resume journal (cannot use directory %s: %s)", dir, strerror(errno));
		return;
	}
	int jfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (jfd >= 0) {
		sweep_dead_tmp(app, jfd, ".journal.tmp.", false); /* a journal write cut by kill -9 */
		sweep_dead_tmp(app, jfd, ".sha1.tmp.", false);    /* the same, of a hash_cache.c entry */
		close(jfd);
	}
	char key[CPM_URI_MAX * 2 + 4096 + 128], hash[41];
	char shex[41];
	cpm_hex_encode(shex, sizeof shex, app->send_sel.hash, 20, CPM_HEX_LOWER, '\0');
	int kl = snprintf(key, sizeof key, "%s\n%s\n%s\n%llu\n%lld\n%s", o->aor, o->target_uri, path,
			  (unsigned long long)app->send_sel.size, mtime_ns, shex);
	uint8_t md[20];
	unsigned ml = 0;
	if (kl < 0 || (size_t)kl >= sizeof key || !EVP_Digest(key, (size_t)kl, md, &ml, EVP_sha1(), NULL))
		return;
	cpm_hex_encode(hash, sizeof hash, md, 20, CPM_HEX_LOWER, '\0');
	int n = snprintf(app->journal_path, sizeof app->journal_path, "%s/send-%s.journal", dir, hash);
	if (n < 0 || (size_t)n >= sizeof app->journal_path) {
		app->journal_path[0] = '\0';
		return;
	}
	char text[1024], id[SDP_MAX_TOKEN + 1];
	uint64_t acked = 0;
	if (state_read_small(AT_FDCWD, app->journal_path, text, sizeof text) <= 0)
		return;
	if (strncmp(text, "cpm-send-journal 1\n", 19) != 0 || !state_kv_get(text, "file-transfer-id", id, sizeof id) ||
	    !id[0] || strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") != strlen(id) ||
	    !state_kv_u64(text, "acked", &acked) || acked > app->send_sel.size) {
		errlog(app, "ignoring a damaged resume journal %s", app->journal_path);
		return;
	}
	snprintf(app->imdn_id, sizeof app->imdn_id, "%s", id);
	app->journal_acked = acked;
	vlog(app, "journal %s: file-transfer-id %s, %llu bytes acknowledged", app->journal_path, id,
	     (unsigned long long)acked);
}

void journal_save(struct cpm_app *app, uint64_t acked)
{
	if (!app->journal_path[0])
		return;
	char text[256];
	int n = snprintf(text, sizeof text, "cpm-send-journal 1\nfile-transfer-id %s\nacked %llu\n", app->imdn_id,
			 (unsigned long long)acked);
	if (n < 0 || (size_t)n >= sizeof text)
		return;
	if (state_write_atomic(AT_FDCWD, app->journal_path, text, (size_t)n) < 0) {
		errlog(app, "cannot write the resume journal %s: %s", app->journal_path, strerror(errno));
		app->journal_path[0] = '\0'; /* once is enough */
		return;
	}
	app->journal_acked = acked;
	app->journal_t = now_mono();
}

void journal_progress(struct cpm_app *app, uint64_t acked)
{
	if (!app->journal_path[0] || acked <= app->journal_acked)
		return;
	if (acked - app->journal_acked >= CPM_RESUME_SAVE_BYTES ||
	    now_mono() - app->journal_t >= CPM_RESUME_SAVE_SECONDS)
		journal_save(app, acked);
}

void journal_remove(struct cpm_app *app)
{
	if (!app->journal_path[0])
		return;
	if (unlink(app->journal_path) < 0 && errno != ENOENT)
		errlog(app, "cannot remove the resume journal %s: %s", app->journal_path, strerror(errno));
	app->journal_path[0] = '\0';
}

/* ------------------------------------------------------------ kept partials */

void partial_save(struct xfer *x)
{
	struct cpm_app *app = x->app;
	if (!x->meta_name[0] || app->dir_fd < 0)
		return;
	char text[META_MAX_BYTES];
	struct cpm_wbuf w = cpm_wbuf_text(text, sizeof text);
	cpm_wbuf_puts(&w, "cpm-partial 1\nname ");
	cpm_wbuf_hex(&w, x->sel.name, x->sel.name_len, CPM_HEX_LOWER, '\0'); /* any byte but NUL may be in it */
	cpm_wbuf_printf(&w, "\nsize %llu\ntype %s\nsha1 ", (unsigned long long)x->sel.size, x->sel.type);
	if (x->sel.has_hash && x->sel.hash_len == 20)
		cpm_wbuf_hex(&w, x->sel.hash, 20, CPM_HEX_LOWER, '\0');
	/* bytes the disk worker has written, not those still in its ring (msrp_in_disk.c) */
	uint64_t bytes = in_disk_contig(x);
	cpm_wbuf_printf(&w, "\nbytes %llu\nooo %d\n", (unsigned long long)bytes, x->ooo ? 1 : 0);
	if (x->item_id[0])
		cpm_wbuf_printf(&w, "item %s\n", x->item_id);
	int n = cpm_wbuf_finish(&w);
	if (n < 0)
		return;
	if (state_write_atomic(app->dir_fd, x->meta_name, text, (size_t)n) < 0) {
		vlog(app, "[%u] cannot write %s: %s", x->id, x->meta_name, strerror(errno));
		return;
	}
	x->meta_saved = bytes;
	x->meta_t = now_mono();
}

void partial_progress(struct xfer *x)
{
	if (!x->meta_name[0])
		return;
	if (in_disk_contig(x) - x->meta_saved >= CPM_RESUME_SAVE_BYTES ||
	    now_mono() - x->meta_t >= CPM_RESUME_SAVE_SECONDS)
		partial_save(x);
}

void partial_drop_meta(struct xfer *x)
{
	if (x->meta_name[0] && x->app->dir_fd >= 0)
		unlinkat(x->app->dir_fd, x->meta_name, 0);
	x->meta_name[0] = '\0';
}

static bool partial_busy(const struct cpm_app *app, const char *part)
{
	for (const struct xfer *x = app->xfers; x; x = x->next)
		if (x->part_name[0] && strcmp(x->part_name, part) == 0)
			return true;
	return false;
}

/* Read one sidecar; fills out (part name derived from the sidecar name). */
static int partial_load(struct cpm_app *app, const char *meta, struct partial *out)
{
	char text[META_MAX_BYTES], v[2 * SDP_MAX_FILENAME + 1];
	size_t ml = strlen(meta), sl = strlen(META_SUFFIX);
	memset(out, 0, sizeof *out);
	if (ml <= sl || ml >= sizeof out->meta)
		return -1;
	snprintf(out->meta, sizeof out->meta, "%s", meta);
	snprintf(out->part, sizeof out->part, "%.*s.cpm-part", (int)(ml - sl), meta);
	if (state_read_small(app->dir_fd, meta, text, sizeof text) <= 0 || strncmp(text, "cpm-partial 1\n", 14) != 0)
		return -1;
	struct sdp_file_selector *s = &out->sel;
	uint64_t ooo = 0;
	if (!state_kv_get(text, "name", v, sizeof v) || !hex_value(v, s->name, SDP_MAX_FILENAME, &s->name_len) ||
	    !state_kv_u64(text, "size", &s->size) || !state_kv_get(text, "type", s->type, sizeof s->type) ||
	    !state_kv_u64(text, "bytes", &out->bytes) || !state_kv_u64(text, "ooo", &ooo))
		return -1;
	s->name[s->name_len] = '\0';
	s->has_name = s->name_len > 0;
	s->has_size = true;
	s->has_type = s->type[0] != '\0';
	if (state_kv_get(text, "sha1", v, sizeof v) && v[0]) {
		if (!hex_value(v, s->hash, sizeof s->hash, &s->hash_len) || s->hash_len != 20)
			return -1;
		snprintf(s->hash_alg, sizeof s->hash_alg, "sha-1");
		s->has_hash = true;
	}
	if (!state_kv_get(text, "item", out->item_id, sizeof out->item_id))
		out->item_id[0] = '\0';
	/* The part file itself: what it holds in order. A process killed
	 * between two sidecar writes acknowledged more than `bytes`; the file
	 * length tells (chunks were written in order unless ooo says not). */
	struct stat st;
	if (fstatat(app->dir_fd, out->part, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
		return -1;
	uint64_t len = (uint64_t)st.st_size;
	if (!ooo && len > out->bytes)
		out->bytes = len;
	if (out->bytes > len)
		out->bytes = len;
	if (out->bytes > s->size)
		out->bytes = s->size;
	return 0;
}

int partial_find(struct cpm_app *app, const struct sdp_file_selector *sel, const char *item_id, uint64_t need,
		 struct partial *out)
{
	if (app->dir_fd < 0)
		return -1;
	int fd = dup(app->dir_fd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	rewinddir(d); /* a dup shares the offset: the last scan left it at the end */
	int rc = -1;
	struct partial p;
	size_t sl = strlen(META_SUFFIX);
	for (struct dirent *e; (e = readdir(d));) {
		size_t nl = strlen(e->d_name);
		if (e->d_name[0] != '.' || nl <= sl || strcmp(e->d_name + nl - sl, META_SUFFIX) != 0)
			continue;
		if (partial_load(app, e->d_name, &p) < 0 || partial_busy(app, p.part))
			continue;
		if (item_id) {
			if (strcmp(p.item_id, item_id) != 0)
				continue;
		} else {
			/* the same selector: name, size and sha-1 (required) */
			if (!sel->has_hash || !p.sel.has_hash || !sel->has_name || !sel->has_size ||
			    p.sel.name_len != sel->name_len || memcmp(p.sel.name, sel->name, sel->name_len) != 0 ||
			    p.sel.size != sel->size || memcmp(p.sel.hash, sel->hash, 20) != 0)
				continue;
		}
		if (p.bytes < need)
			continue;
		if (rc == 0 && p.bytes <= out->bytes)
			continue; /* keep the one holding most */
		*out = p;
		rc = 0;
	}
	closedir(d);
	return rc;
}

/* Files are written as NAME.tmp.PID and renamed; a process killed between the two leaves the
 * temporary behind. Remove, in dirfd, the ones of that exact shape (`infix` followed by a pid;
 * a dot-file when `dotfile`: in --dir, where received files live, nothing else) whose writer
 * is gone. */
static void sweep_dead_tmp(struct cpm_app *app, int dirfd, const char *infix, bool dotfile)
{
	int fd = dup(dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	rewinddir(d);
	size_t il = strlen(infix);
	for (struct dirent *e; (e = readdir(d));) {
		const char *t = strstr(e->d_name, infix);
		if (!t || (dotfile && e->d_name[0] != '.'))
			continue;
		char *end;
		long pid = strtol(t + il, &end, 10);
		if (*end || pid <= 0 || (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
			continue;
		if (unlinkat(dirfd, e->d_name, 0) == 0)
			vlog(app, "removed %s (left by a process that was killed)", e->d_name);
	}
	closedir(d);
}

/* Start-up: the partial sidecars' temporaries in --dir (only there: it is ours). */
void partial_sweep_tmp(struct cpm_app *app)
{
	if (app->dir_fd >= 0)
		sweep_dead_tmp(app, app->dir_fd, ".cpm-part.meta.tmp.", true);
}
