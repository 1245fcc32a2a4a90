/* Test driver of the MSS client (tests/mss/t_mss_*.sh): builds one MSS object
 * from its options and stores it with mss_imap_store, or appends one session
 * record. Prints "folder=", "message-id=", "size=", "result=", "why=" and
 * "vmhwm-kib=" (its own peak RSS, for the 100 MiB test) on stdout.
 * Exit: 0 stored, 1 already there, 2 transient, 3 permanent, 4 usage/I/O.
 *
 *   mss_store store --url U --master M --password P --user U --kind K --id ID
 *             [--from URI] [--to URI]... [--time T] [--conv ID] [--contrib ID]
 *             [--disposition D] [--direction in|out] [--file F --name N --type T
 *             --hash H] [--thumb F --thumb-type T] [--body F --body-type T]
 *             [--records F]
 *   mss_store record FILE message|notification FROM TO IMDN-ID DISPOSITION TYPE BODYFILE
 *             [--threads N]  (N threads at once, ids ID-t0..ID-t<N-1>; prints each result)
 *   mss_store check --url U --master M --password P [--check-user U] */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mss/mss_imap.h"
#include "mss/mss_object.h"

static int usage(void)
{
	fprintf(stderr, "usage: see tests/mss/mss_store.c\n");
	return 4;
}

static void print_hwm(void)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, "VmHWM:", 6) == 0)
			printf("vmhwm-kib=%ld\n", strtol(line + 6, NULL, 10));
	if (f)
		fclose(f);
}

static int exit_of(enum mss_result r)
{
	return r == MSS_STORED ? 0 : r == MSS_ALREADY ? 1 : r == MSS_TRANSIENT ? 2 : 3;
}

static int open_ro(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		perror(path);
	return fd;
}

static int do_record(int argc, char **argv)
{
	struct mss_record rec = {0};
	static char body[MSS_RECORD_BODY_MAX];
	int fd, bfd;
	ssize_t n;

	if (argc != 10)
		return usage();
	rec.kind = strcmp(argv[3], "notification") == 0 ? MSS_REC_NOTIFICATION : MSS_REC_MESSAGE;
	rec.time = 1700000000;
	rec.from = argv[4];
	rec.to = argv[5];
	rec.imdn_id = argv[6];
	rec.disposition = argv[7];
	rec.content_type = argv[8];
	if ((bfd = open_ro(argv[9])) < 0 || (n = read(bfd, body, sizeof body)) < 0)
		return 4;
	close(bfd);
	rec.body = body;
	rec.body_len = (size_t)n;
	fd = open(argv[2], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0 || mss_record_append(fd, &rec) < 0) {
		perror("record");
		return 4;
	}
	close(fd);
	return 0;
}

/* --threads: the API is called from several threads at once, each with its
 * own reader (what the lead's worker pool does). */
struct job {
	const struct mss_imap_cfg *cfg;
	struct mss_meta m;
	const char *user, *folder;
	char id[MSS_ID_MAX];
	enum mss_result res;
	char why[256];
};

static void *run_job(void *arg)
{
	struct job *j = arg;
	struct mss_reader *r;

	j->m.item_id = j->id;
	if (mss_object_open(&j->m, &r) < 0) {
		j->res = MSS_PERMANENT;
		return NULL;
	}
	j->res = mss_imap_store(j->cfg, j->user, j->folder, r, j->why, sizeof j->why);
	mss_reader_free(r);
	return NULL;
}

static int run_threads(const struct mss_imap_cfg *cfg, const struct mss_meta *m, const char *user,
		       const char *folder, int n)
{
	struct job jobs[32];
	pthread_t th[32];
	int worst = 0;

	if (n < 1 || n > 32)
		return 4;
	for (int i = 0; i < n; i++) {
		jobs[i] = (struct job){.cfg = cfg, .m = *m, .user = user, .folder = folder};
		snprintf(jobs[i].id, sizeof jobs[i].id, "%s-t%d", m->item_id, i);
		if (pthread_create(&th[i], NULL, run_job, &jobs[i]) != 0)
			return 4;
	}
	for (int i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		printf("thread %d result=%d why=%s\n", i, (int)jobs[i].res, jobs[i].why);
		if (exit_of(jobs[i].res) > worst)
			worst = exit_of(jobs[i].res);
	}
	return worst;
}

int main(int argc, char **argv)
{
	int threads = 0;
	struct mss_imap_cfg cfg = {0};
	struct mss_meta m = {.file = {NULL, -1, UINT64_MAX}, .thumb = {NULL, -1, UINT64_MAX},
			     .body = {NULL, -1, UINT64_MAX}, .records_fd = -1, .time = 1700000000};
	const char *to[MSS_RECIPIENTS_MAX], *user = NULL, *kind = "ft";
	struct mss_reader *r;
	char folder[MSS_FOLDER_MAX], why[512];
	enum mss_result res;

	if (argc < 2)
		return usage();
	if (strcmp(argv[1], "record") == 0)
		return do_record(argc, argv);
	for (int i = 2; i + 1 < argc; i += 2) {
		const char *o = argv[i], *v = argv[i + 1];
		if (!strcmp(o, "--url")) cfg.url = v;
		else if (!strcmp(o, "--master")) cfg.master_user = v;
		else if (!strcmp(o, "--password")) cfg.master_password = v;
		else if (!strcmp(o, "--ca")) cfg.ca_file = v;
		else if (!strcmp(o, "--user")) user = v;
		else if (!strcmp(o, "--check-user")) cfg.check_user = v;
		else if (!strcmp(o, "--kind")) kind = v;
		else if (!strcmp(o, "--id")) m.item_id = v;
		else if (!strcmp(o, "--from")) m.sender = v;
		else if (!strcmp(o, "--to") && m.nrecipients < MSS_RECIPIENTS_MAX) to[m.nrecipients++] = v;
		else if (!strcmp(o, "--time")) m.time = strtoll(v, NULL, 10);
		else if (!strcmp(o, "--conv")) m.conversation_id = v;
		else if (!strcmp(o, "--contrib")) m.contribution_id = v;
		else if (!strcmp(o, "--disposition")) m.disposition = v;
		else if (!strcmp(o, "--direction")) m.direction = strcmp(v, "out") ? MSS_DIR_IN : MSS_DIR_OUT;
		else if (!strcmp(o, "--file")) m.file.fd = open_ro(v);
		else if (!strcmp(o, "--name")) m.file_name = v;
		else if (!strcmp(o, "--type")) m.file_type = v;
		else if (!strcmp(o, "--hash")) m.file_hash = v;
		else if (!strcmp(o, "--thumb")) m.thumb.fd = open_ro(v);
		else if (!strcmp(o, "--thumb-type")) m.thumb_type = v;
		else if (!strcmp(o, "--body")) m.body.fd = open_ro(v);
		else if (!strcmp(o, "--body-type")) m.body_type = v;
		else if (!strcmp(o, "--records")) m.records_fd = open_ro(v);
		else if (!strcmp(o, "--threads")) threads = atoi(v);
		else return usage();
	}
	m.recipients = to;
	cfg.connect_timeout_ms = 3000;
	cfg.response_timeout_s = 10;
	if (strcmp(argv[1], "check") == 0) {
		res = mss_imap_check(&cfg, why, sizeof why);
		printf("result=%d\nwhy=%s\n", (int)res, why);
		return exit_of(res);
	}
	if (strcmp(argv[1], "store") != 0)
		return usage();
	m.kind = !strcmp(kind, "message") ? MSS_MESSAGE_HISTORY : !strcmp(kind, "session") ? MSS_SESSION_HISTORY
		 : !strcmp(kind, "expired") ? MSS_EXPIRED_FILE : !strcmp(kind, "kept") ? MSS_KEPT_FILE : MSS_FT_HISTORY;
	if (threads && m.item_id && mss_folder(folder, sizeof folder, m.kind, m.conversation_id) == 0)
		return run_threads(&cfg, &m, user, folder, threads);
	if (mss_folder(folder, sizeof folder, m.kind, m.conversation_id) < 0 || mss_object_open(&m, &r) < 0) {
		perror("mss_object_open");
		return 4;
	}
	printf("folder=%s\nmessage-id=%s\nsize=%llu\n", folder, mss_reader_message_id(r),
	       (unsigned long long)mss_reader_size(r));
	res = mss_imap_store(&cfg, user, folder, r, why, sizeof why);
	printf("result=%d\nwhy=%s\n", (int)res, why);
	print_hwm();
	mss_reader_free(r);
	return exit_of(res);
}
