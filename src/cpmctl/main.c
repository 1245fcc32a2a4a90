/* cpmctl — the operator's command line over cpmd's admin API (docs/internals/admin.md).
 * Tables for people, the server's JSON with --json for scripts; exit codes in usage(). */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpm/parse.h"
#include "cpmctl/ctl.h"

#define CTL_DEFAULT_ADMIN "127.0.0.1:9870"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: cpmctl [--admin [https://]ADDR:PORT] [--token T] [--cacert F] [--cert F --key F] [--json]\n"
		"              [--timeout S] COMMAND\n"
		"\n"
		"Talks to cpmd's admin API (cpmd --admin ADDR:PORT [--admin-token T] [--admin-tls-*]).\n"
		"\n"
		"Commands:\n"
		"  health                         is cpmd's event loop answering? (\"ok\")\n"
		"  deferred list [--recipient AOR] [--sender AOR] [--kind file|message] [--state S]\n"
		"                [--limit N] [--after ID]\n"
		"                                 the stored items, one a line: ID SENDER RECIPIENT NAME SIZE EXPIRES\n"
		"                                 (NAME is `message` for a message; the last line names the next page)\n"
		"  deferred show ID               one item and its deliveries\n"
		"  deferred purge ID              remove it; its sender is told `failed`\n"
		"  deferred retry ID              try its delivery now\n"
		"  deferred expire ID TIME        new expiry: Unix seconds, +SECONDS from now, or YYYY-MM-DDTHH:MM:SSZ\n"
		"  transfers                      live transfers: ID MODE SENDER RECIPIENT NAME BYTES/SIZE\n"
		"  transfers terminate ID         end one\n"
		"  sessions                       live chat sessions\n"
		"  users                          users known to the store: AOR BINDINGS\n"
		"  user AOR                       one user's bindings and preferences\n"
		"\n"
		"Options:\n"
		"  --admin ADDR:PORT   cpmd's admin address (default: $CPMCTL_ADMIN, else " CTL_DEFAULT_ADMIN "):\n"
		"                      plain HTTP, or https://ADDR:PORT when cpmd has --admin-tls-cert\n"
		"  --token T           bearer token (default: $CPMCTL_TOKEN)\n"
		"  --cacert FILE       https: CA certificates (PEM) cpmd's certificate is checked with\n"
		"                      (default: $CPMCTL_CACERT, else the system's)\n"
		"  --cert FILE         https: client certificate (PEM) for cpmd's --admin-tls-ca\n"
		"                      (default: $CPMCTL_CERT)\n"
		"  --key FILE          its private key (PEM) (default: $CPMCTL_KEY, else in --cert's file)\n"
		"  --json              print cpmd's JSON answer instead of a table\n"
		"  --timeout S         seconds to wait for an answer (default: 10)\n"
		"  --help              this help\n"
		"\n"
		"Exit status: 0 ok, 1 cpmd answered an error, 2 usage, 3 cpmd not reachable,\n"
		"4 unauthorized (token missing or wrong, or no valid client certificate), 5 not found.\n");
}

static int json_out; /* --json */

static const char *str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "-";
}

static long long num(json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

static void utc(long long t, char *out, size_t cap)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm) || !strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, cap, "%lld", t);
}

/* Runs the request; prints the JSON with --json, else hands the answer to table(). */
static int run(const struct ctl *c, const char *method, const char *path, const char *body,
	       void (*table)(json_t *j))
{
	json_t *j;
	char *raw;
	int rc = ctl_request(c, method, path, body, &j, &raw);
	if (rc == CTL_OK) {
		if (json_out || !table)
			printf("%s\n", raw);
		else
			table(j);
	}
	json_decref(j);
	free(raw);
	return rc;
}

static void t_health(json_t *j)
{
	printf("%s\n", str(j, "status"));
}

static void t_items(json_t *j)
{
	size_t i;
	json_t *it;
	char exp[32];
	json_array_foreach(json_object_get(j, "items"), i, it) {
		utc(num(it, "expires"), exp, sizeof exp);
		printf("%s %s %s %s %lld %s\n", str(it, "id"), str(it, "sender"), str(it, "recipient"),
		       !strcmp(str(it, "kind"), "message") ? "message" : str(it, "name"), num(it, "size"), exp);
	}
	if (json_is_string(json_object_get(j, "next")))
		fprintf(stderr, "more: cpmctl deferred list --after %s\n", str(j, "next"));
}

static void t_item(json_t *it)
{
	char c[32], e[32];
	utc(num(it, "created"), c, sizeof c);
	utc(num(it, "expires"), e, sizeof e);
	printf("id:         %s\nkind:       %s\nsender:     %s\nrecipient:  %s\nname:       %s\ntype:       %s\n"
	       "size:       %lld\nreceived:   %lld\nstate:      %s\ncreated:    %s\nexpires:    %s\n",
	       str(it, "id"), str(it, "kind"), str(it, "sender"), str(it, "recipient"), str(it, "name"), str(it, "type"),
	       num(it, "size"), num(it, "bytes_received"), str(it, "state"), c, e);
	size_t i;
	json_t *d;
	json_array_foreach(json_object_get(it, "deliveries"), i, d)
		printf("delivery:   %s %s attempts=%lld acked=%lld\n", str(d, "device"), str(d, "state"), num(d, "attempts"),
		       num(d, "bytes_acked"));
}

static void t_transfers(json_t *j)
{
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(j, "transfers"), i, t)
		printf("%s %s %s %s %s %lld/%lld\n", str(t, "id"), str(t, "mode"), str(t, "sender"), str(t, "recipient"),
		       str(t, "name"), num(t, "bytes"), num(t, "size"));
}

static void t_sessions(json_t *j)
{
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(j, "sessions"), i, s)
		printf("%s %s %s %s\n", str(s, "id"), str(s, "state"), str(s, "sender"), str(s, "recipient"));
}

static void t_users(json_t *j)
{
	size_t i;
	json_t *u;
	json_array_foreach(json_object_get(j, "users"), i, u)
		printf("%s %lld\n", str(u, "aor"), num(u, "bindings"));
}

static void t_user(json_t *j)
{
	size_t i;
	json_t *b, *p = json_object_get(j, "prefs");
	char e[32];
	printf("%s\n", str(j, "aor"));
	json_array_foreach(json_object_get(j, "bindings"), i, b) {
		utc(num(b, "expires"), e, sizeof e);
		printf("binding %s %s %s until %s\n", str(b, "instance"), str(b, "transport"), str(b, "contact"), e);
	}
	if (json_is_object(p))
		printf("prefs defer=%s method=%s on-expiry=%s\n", json_is_true(json_object_get(p, "defer")) ? "on" : "off",
		       str(p, "method"), str(p, "on_expiry"));
}

static void t_done(json_t *j)
{
	const char *k;
	json_t *v;
	json_object_foreach(j, k, v) {
		if (json_is_string(v))
			printf("%s %s\n", k, json_string_value(v));
	}
}

/* TIME of `deferred expire`: Unix seconds, +SECONDS, or YYYY-MM-DDTHH:MM:SSZ. -1 if none. */
static long long parse_time(const char *s)
{
	uint64_t v;
	if (s[0] == '+')
		return cpm_parse_u64(s + 1, 100ULL * 366 * 86400, false, &v) ? -1 : (long long)time(NULL) + (long long)v;
	if (!cpm_parse_u64(s, 1ULL << 40, false, &v))
		return (long long)v;
	struct tm tm = {0};
	const char *end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return end && !*end ? (long long)timegm(&tm) : -1;
}

static int bad_usage(const char *why)
{
	fprintf(stderr, "cpmctl: %s\nTry 'cpmctl --help'.\n", why);
	return CTL_ERR_USAGE;
}

/* `deferred list` filters, as query parameters. */
static int deferred_list(const struct ctl *c, int argc, char **argv)
{
	static const char *const keys[] = {"recipient", "sender", "kind", "state", "limit", "after"};
	char path[2048] = "/api/v1/deferred";
	size_t len = strlen(path);
	char sep = '?';
	for (int i = 0; i < argc; i += 2) {
		size_t k = 0;
		while (k < 6 && !(argv[i][0] == '-' && argv[i][1] == '-' && !strcmp(argv[i] + 2, keys[k])))
			k++;
		if (k == 6 || i + 1 >= argc)
			return bad_usage("deferred list: --recipient, --sender, --kind, --state, --limit, --after VALUE");
		char *e = ctl_escape(argv[i + 1]);
		int n = e ? snprintf(path + len, sizeof path - len, "%c%s=%s", sep, keys[k], e) : -1;
		free(e);
		if (n < 0 || (size_t)n >= sizeof path - len)
			return bad_usage("deferred list: arguments too long");
		len += (size_t)n;
		sep = '&';
	}
	return run(c, "GET", path, NULL, t_items);
}

static int item_path(char *out, size_t cap, const char *id, const char *tail)
{
	char *e = ctl_escape(id);
	int n = e ? snprintf(out, cap, "/api/v1/deferred/%s%s", e, tail) : -1;
	free(e);
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

static int deferred(const struct ctl *c, int argc, char **argv)
{
	char path[512];
	if (argc < 1)
		return bad_usage("deferred: list, show, purge, retry or expire");
	const char *sub = argv[0];
	if (!strcmp(sub, "list"))
		return deferred_list(c, argc - 1, argv + 1);
	if (argc < 2 || item_path(path, sizeof path, argv[1], !strcmp(sub, "retry") ? "/retry" : ""))
		return bad_usage("deferred: an item ID expected");
	if (!strcmp(sub, "show") && argc == 2)
		return run(c, "GET", path, NULL, t_item);
	if (!strcmp(sub, "purge") && argc == 2)
		return run(c, "DELETE", path, NULL, t_done);
	if (!strcmp(sub, "retry") && argc == 2)
		return run(c, "POST", path, NULL, t_done);
	if (!strcmp(sub, "expire") && argc == 3) {
		long long t = parse_time(argv[2]);
		char body[64];
		if (t < 1)
			return bad_usage("deferred expire: TIME is Unix seconds, +SECONDS or YYYY-MM-DDTHH:MM:SSZ");
		snprintf(body, sizeof body, "{\"expires\": %lld}", t);
		return run(c, "PATCH", path, body, t_done);
	}
	return bad_usage("deferred: list, show ID, purge ID, retry ID or expire ID TIME");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"admin", required_argument, NULL, 'a'}, {"token", required_argument, NULL, 't'},
					     {"json", no_argument, NULL, 'j'},           {"timeout", required_argument, NULL, 'T'},
					     {"cacert", required_argument, NULL, 'C'},   {"cert", required_argument, NULL, 'E'},
					     {"key", required_argument, NULL, 'K'},      {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	struct ctl c = {.admin = getenv("CPMCTL_ADMIN"), .token = getenv("CPMCTL_TOKEN"), .timeout_s = 10,
			.cacert = getenv("CPMCTL_CACERT"), .cert = getenv("CPMCTL_CERT"), .key = getenv("CPMCTL_KEY")};
	int o;
	uint64_t v;
	/* "+": options end at the command, whose own options (deferred list --recipient) follow it */
	while ((o = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (o) {
		case 'a':
			c.admin = optarg;
			break;
		case 't':
			c.token = optarg;
			break;
		case 'j':
			json_out = 1;
			break;
		case 'C':
			c.cacert = optarg;
			break;
		case 'E':
			c.cert = optarg;
			break;
		case 'K':
			c.key = optarg;
			break;
		case 'T':
			if (cpm_parse_u64(optarg, 3600, false, &v) || !v)
				return bad_usage("--timeout: 1..3600 seconds");
			c.timeout_s = (long)v;
			break;
		case 'h':
			usage(stdout);
			return CTL_OK;
		default:
			fprintf(stderr, "Try 'cpmctl --help'.\n");
			return CTL_ERR_USAGE;
		}
	}
	if (!c.admin || !*c.admin)
		c.admin = CTL_DEFAULT_ADMIN;
	if (c.token && !*c.token)
		c.token = NULL;
	const char **files[] = {&c.cacert, &c.cert, &c.key};
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
		if (*files[i] && !**files[i]) /* an empty variable is no file */
			*files[i] = NULL;
	/* over plain HTTP they would be silently ignored: the operator meant https */
	if ((c.cacert || c.cert || c.key) && strncmp(c.admin, "https://", 8))
		return bad_usage("--cacert, --cert and --key need an https:// --admin address");
	if (c.key && !c.cert)
		return bad_usage("--key needs --cert");
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		usage(stderr);
		return CTL_ERR_USAGE;
	}
	const char *cmd = argv[0];
	char path[512];
	if (!strcmp(cmd, "health") && argc == 1)
		return run(&c, "GET", "/api/v1/health", NULL, t_health);
	if (!strcmp(cmd, "deferred"))
		return deferred(&c, argc - 1, argv + 1);
	if (!strcmp(cmd, "transfers") && argc == 1)
		return run(&c, "GET", "/api/v1/transfers", NULL, t_transfers);
	if (!strcmp(cmd, "transfers") && argc == 3 && !strcmp(argv[1], "terminate")) {
		char *e = ctl_escape(argv[2]);
		snprintf(path, sizeof path, "/api/v1/transfers/%s", e ? e : "");
		free(e);
		return run(&c, "DELETE", path, NULL, t_done);
	}
	if (!strcmp(cmd, "sessions") && argc == 1)
		return run(&c, "GET", "/api/v1/sessions", NULL, t_sessions);
	if (!strcmp(cmd, "users") && argc == 1)
		return run(&c, "GET", "/api/v1/users", NULL, t_users);
	if (!strcmp(cmd, "user") && argc == 2) {
		char *e = ctl_escape(argv[1]);
		snprintf(path, sizeof path, "/api/v1/users/%s", e ? e : "");
		free(e);
		return run(&c, "GET", path, NULL, t_user);
	}
	return bad_usage("unknown command or wrong arguments");
}
