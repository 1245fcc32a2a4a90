/* cpm command line: options, usage, exit codes. Global options may come
 * before or after the command; everything is checked before the SIP stack
 * starts, so a usage error never leaves a registration behind. */
#include "cpm.h"
#include "common/version.h"

#include "common/fsutil.h"
#include "mconn.h"
#include "cpm/parse.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <unistd.h>

static const char usage_main[] =
	"usage: cpm --server ADDR:PORT --user sip:USER@DOMAIN [--device ID] [--transport udp|tcp|tls]\n"
	"           [--outbound-proxy SIP-URI] [--verbose] [--chunk-size BYTES] COMMAND [ARGS]\n"
	"\n"
	"A CPM device: file transfer and standalone messages. SIP (via --server as outbound\n"
	"proxy, or via --outbound-proxy) + MSRP (straight to the server's MSRP address).\n"
	"\n"
	"commands:\n"
	"  send TARGET FILE [--thumbnail IMG]   send one file; last stdout line is the result\n"
	"  message TARGET TEXT [--large]        send one standalone message (pager or large mode)\n"
	"  receive --dir DIR [--count N] ...     register; save incoming files, print messages\n"
	"  fetch ID --dir DIR                    retrieve a file the server stored for us\n"
	"  list                                  list the files the server keeps for us\n"
	"  chat TARGET                           a 1-1 chat session: stdin lines are messages\n"
	"  blast TARGET --count N --parallel P --size BYTES   load generator\n"
	"\n"
	"global options:\n"
	"  --server ADDR:PORT     SIP server (outbound proxy and registrar): cpmd, or the SIP core\n"
	"                         (e.g. Kamailio) in front of it\n"
	"  --outbound-proxy SIP-URI  sip:HOST:PORT[;transport=udp|tcp]: every request but REGISTER\n"
	"                         goes there first (default: --server); REGISTER goes to --server\n"
	"  --user sip:U@D         our address of record (From, To of REGISTER)\n"
	"  --password SECRET      answer the server's digest challenges (401/407) with this\n"
	"                         password (default: $CPM_PASSWORD; prefer it: argv is visible)\n"
	"  --device ID            device name; the +sip.instance UUID is derived from user+device\n"
	"  --transport udp|tcp|tls  SIP transport (default udp); tls: SIP over TLS, the server's\n"
	"                         certificate checked against --ca\n"
	"  --ca FILE              CA certificates (PEM) trusted for the server with --transport tls\n"
	"                         (default: " CPM_SYSTEM_CA ")\n"
	"  --cert FILE --key FILE  client certificate chain and its private key (PEM) shown on\n"
	"                         SIP and MSRP over TLS when the server asks for one (cpmd\n"
	"                         --tls-verify-clients); both or neither, with --transport tls\n"
	"  --chunk-size BYTES     MSRP chunk size when sending (default 65536)\n"
	"  --push PROVIDER:PRID[:PARAM]  register with RFC 8599 push parameters (pn-provider,\n"
	"                         pn-prid, pn-param in the Contact): the server wakes us through\n"
	"                         its push gateway when something waits\n"
	"  --disk-thread auto|on|off  write and sha-1 incoming files of 256 KiB and up on a worker\n"
	"                         thread (receive, fetch); auto: with 4 or more online CPUs\n"
	"                         (default: $CPM_DISK_THREAD, else auto)\n"
	"  --verbose, -v          log SIP and MSRP events to stderr\n"
	"  --help, -h             this text; `cpm COMMAND --help` for a command\n"
	"  --version              print the version and exit\n"
	"\n"
	"exit codes: 0 ok, 1 failed, 2 usage, 3 declined (603), 4 rejected (other SIP error)\n"
	"Every SIP message on stderr: run with TPORT_LOG=1 in the environment.\n";

static const char usage_send[] =
	"usage: cpm [global options] send TARGET FILE [options]\n"
	"\n"
	"Sends FILE to TARGET (sip:user@domain, or just user: the domain of --user is added)\n"
	"as one MSRP message (RFC 5547 push). The last line on stdout is the result:\n"
	"  delivered                  every chunk acknowledged and the success REPORT received (exit 0)\n"
	"  stored                     the server kept the file for the recipient (Cpm-Stored; exit 0)\n"
	"  declined                   the recipient answered 603 (exit 3)\n"
	"  rejected: CODE PHRASE      any other SIP error response (exit 4)\n"
	"  failed: REASON             timeout, network, MSRP error, BYE before the end (exit 1)\n"
	"\n"
	"options:\n"
	"  --thumbnail IMG            send IMG (<= 100 KB) as the file icon (multipart INVITE)\n"
	"  --conversation-id ID       Conversation-ID (default: a fresh UUID)\n"
	"  --in-reply-to ID           InReplyTo-Contribution-ID\n"
	"  --invite-timeout SECONDS   give up when no final answer comes (default 120)\n"
	"  --expires SECONDS          lifetime of a stored copy (Cpm-Expires; 1 .. 315576000 = 10 years)\n"
	"  --journal DIR              resume journal and hash cache (default $XDG_STATE_HOME/cpm or\n"
	"                             ~/.local/state/cpm)\n"
	"  --no-resume                neither resume an interrupted send nor record one; no hash cache\n"
	"\n"
	"stderr: `cpm: file-transfer-id ID` at start (the id delivery notifications name),\n"
	"`cpm: stored by the server as item ID` when the result is `stored`.\n"
	"Resume: a send that did not end (killed, network, timeout) is recorded in the journal\n"
	"(bytes acknowledged); the same command again sends only the rest (a=file-range). If the\n"
	"server has no partial upload (488) the whole file is sent. The entry goes when the send\n"
	"ends delivered, stored, declined or rejected.\n";

static const char usage_message[] =
	"usage: cpm [global options] message TARGET TEXT [options]\n"
	"\n"
	"Sends TEXT to TARGET (sip:user@domain, or just user) as one standalone message: a SIP\n"
	"MESSAGE whose body is message/cpim (pager mode; RFC 3428, RFC 3862), or, when that body\n"
	"is over 1300 bytes or with --large, Large Message Mode: an INVITE (largemsg ICSI) and\n"
	"the body as one MSRP SEND. TEXT \"-\" reads the text from standard input (up to 16 MiB;\n"
	"a command-line argument holds at most 128 KiB). The last line on stdout is the result:\n"
	"  sent                       a device of TARGET took it (exit 0)\n"
	"  stored                     the server keeps it for TARGET (202 or MSRP 200 + Cpm-Stored; exit 0)\n"
	"  rejected: CODE PHRASE      a SIP error answer, e.g. 413 (too big), 404 (exit 4; 603: exit 3)\n"
	"                             (large mode: also `rejected: MSRP 413 ...`)\n"
	"  failed: REASON             no answer from the server, network, MSRP error (exit 1)\n"
	"\n"
	"options:\n"
	"  --large                    Large Message Mode whatever the size\n"
	"  --expires SECONDS          lifetime of a stored copy (Cpm-Expires; 1 .. 315576000)\n"
	"  --no-report                ask for no delivery or read report (no imdn.Disposition-Notification)\n"
	"  --conversation-id ID       Conversation-ID (default: a fresh UUID)\n"
	"  --in-reply-to ID           InReplyTo-Contribution-ID\n"
	"\n"
	"stderr: `cpm: message-id ID` first (the id the reports name), and `cpm: stored by the server\n"
	"as item ID` when the result is `stored`. Reports come to a `cpm receive` of the sender as\n"
	"`notification delivered|displayed|failed ID`. End options with `--` for a TEXT that starts\n"
	"with '-'.\n";

static const char usage_receive[] =
	"usage: cpm [global options] receive --dir DIR [options]\n"
	"\n"
	"Registers and saves incoming files (any number in parallel) into DIR. For each file:\n"
	"  received PATH SIZE SHA1HEX     (and `thumbnail PATH SIZE` when the INVITE had one)\n"
	"  failed: NAME REASON            transfer aborted (not counted)\n"
	"For each standalone message (a repeat of a recent one is not printed again):\n"
	"  message SENDER ID TEXT         TEXT on one line: newline as \\n, backslash as \\\\,\n"
	"                                 other control characters as \\xHH\n"
	"and a `delivered` report to its sender when it asked for one (`displayed` too with --read).\n"
	"options:\n"
	"  --dir DIR                  where files go (created if missing); names are made safe, never overwritten\n"
	"  --count N                  exit 0 after N files (default: until --timeout or a signal)\n"
	"  --timeout SECONDS          give up (`failed: timeout`, exit 1) after this long\n"
	"  --answer accept|decline|ignore|unavailable   200 OK (default), 603 Decline, ring until\n"
	"                             CANCEL, or 480 Temporarily Unavailable\n"
	"  --answer-delay SECONDS     send 180 Ringing and wait this long before answering\n"
	"  --read                     the messages count as read: send `displayed` reports when asked\n"
	"                             (standalone messages and chat messages)\n"
	"  --reply TEXT               answer each chat message with TEXT in the same session\n"
	"Chat sessions (INVITE with the session ICSI) are answered per --answer too; then:\n"
	"  chat SENDER CONVERSATION-ID TEXT   a chat message (TEXT as for `message` lines);\n"
	"                                 a `delivered` report goes back in the session when asked\n"
	"  session SENDER CONVERSATION-ID ended   a session we accepted is over\n"
	"Also printed:\n"
	"  notification delivered ID      a delivery notification (IMDN) for a file or message we sent\n"
	"  notification displayed ID      a read report for a message we sent\n"
	"  notification failed ID         (ID = the file-transfer-id `cpm send` or the message-id\n"
	"                                 `cpm message` printed)\n"
	"  deferred ID SENDER NAME SIZE   a file the server keeps for us (fetch it with `cpm fetch ID`)\n"
	"An interrupted transfer leaves DIR/.NAME.cpm-part and a .meta sidecar; when the server\n"
	"offers the rest (a=file-range) it is continued, else answered 488 No Partial File.\n"
	"Over TCP a lost connection to the server is re-registered (1 s .. 30 s back-off).\n"
	"SIGINT/SIGTERM un-register (Expires 0) and exit. SIGUSR1 refreshes the registration now\n"
	"(what a mobile app woken by a push notification does; --push).\n";

static const char usage_fetch[] =
	"usage: cpm [global options] fetch ID --dir DIR [--invite-timeout SECONDS]\n"
	"\n"
	"Retrieves the stored file ID (from a `deferred` line) with an RFC 5547 pull\n"
	"(INVITE to our own address, Cpm-Item-Id: ID, a=recvonly) into DIR (created if missing):\n"
	"  received PATH SIZE SHA1HEX     (exit 0)\n"
	"  message SENDER ID TEXT         a stored message (`deferred ID SENDER message SIZE`): printed\n"
	"                                 as `receive` does, nothing written to DIR (exit 0)\n"
	"  failed: no such item ID        the server has no such item for us (exit 4)\n"
	"  rejected: CODE PHRASE / declined / failed: REASON   as for send\n"
	"An interrupted fetch keeps its part file; the next fetch of ID continues it.\n";

static const char usage_list[] =
	"usage: cpm [global options] list\n"
	"\n"
	"Asks the server (SIP MESSAGE to our own address) for the files and messages it keeps for\n"
	"us and prints one line per item, nothing when there is none (exit 0):\n"
	"  deferred ID SENDER NAME SIZE   (NAME with spaces and control characters as %XX;\n"
	"                                 a message: NAME is `message`, SIZE its bytes)\n";

static const char usage_chat[] =
	"usage: cpm [global options] chat TARGET [--conversation-id ID] [--invite-timeout SECONDS] [--read]\n"
	"\n"
	"Opens a 1-1 chat session with TARGET (INVITE with the CPM session ICSI, MSRP sendrecv).\n"
	"Each line of standard input is a chat message (message/cpim, text/plain; a delivered and\n"
	"a displayed report are asked for). Commands on a line of their own:\n"
	"  /file PATH                 send that file in this conversation (its own transfer, the\n"
	"                             session's Conversation-ID) while the chat goes on\n"
	"  /quit                      end the session (as EOF does); files in flight complete\n"
	"stdout:\n"
	"  chat SENDER CONVERSATION-ID TEXT   a message from the peer\n"
	"  notification delivered|displayed|failed ID   a report (ID = a `message-id` below)\n"
	"  file delivered|stored|failed NAME   the end of each file\n"
	"  declined / rejected: CODE PHRASE / failed: REASON   the session could not be set up\n"
	"                             (e.g. rejected: 480 ... when TARGET has no device; exit 3, 4, 1)\n"
	"  message stored|sent|failed ID   after a 480 or 408 each line goes as a standalone message\n"
	"                             (cpmd keeps it for TARGET); exit 4 at EOF\n"
	"stderr: `cpm: conversation-id ID` at the start, `cpm: message-id ID` per message sent,\n"
	"`cpm: message ID refused: MSRP 413 ...` when the server refuses one (a=max-size).\n"
	"Exit 0 when the session ended normally (EOF, /quit or the peer's BYE) and every file\n"
	"ended delivered or stored; 1 otherwise.\n"
	"options:\n"
	"  --conversation-id ID       Conversation-ID of the session (default: a fresh UUID)\n"
	"  --invite-timeout SECONDS   give up when no final answer comes (default 120)\n"
	"  --read                     send `displayed` reports for the messages we get\n";

static const char usage_blast[] =
	"usage: cpm [global options] blast TARGET --count N --parallel P --size BYTES\n"
	"\n"
	"Runs N transfers of random in-memory files of BYTES each (suffixes k, M, G allowed),\n"
	"at most P at a time, in one process, then prints:\n"
	"  blast OK ok FAILED failed SECS seconds RATE transfers/s\n"
	"exit 0 when all succeeded, 1 otherwise.\n";

static int disk_thread_mode(const char *v, enum cpm_disk_thread *out)
{
	if (!strcmp(v, "auto"))
		*out = CPM_DISK_THREAD_AUTO;
	else if (!strcmp(v, "on"))
		*out = CPM_DISK_THREAD_ON;
	else if (!strcmp(v, "off"))
		*out = CPM_DISK_THREAD_OFF;
	else
		return -1;
	return 0;
}

static int usage_error(const char *fmt, const char *arg)
{
	fputs("cpm: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs("\n(try cpm --help)\n", stderr);
	return CPM_EXIT_USAGE;
}

/* The first hop of every request but REGISTER: --outbound-proxy when given, else --server.
 * The proxy is sip:HOST:PORT with at most the parameters lr and transport; a transport
 * there must be the one --transport chose (one transport for every request keeps the
 * rules of big requests over TCP in one place, agent.c). */
static int first_hop(struct cpm_opts *o)
{
	if (!o->outbound_proxy) {
		snprintf(o->hop_host, sizeof o->hop_host, "%s", o->server_host);
		o->hop_port = o->server_port;
		snprintf(o->hop, sizeof o->hop, "%s", o->server);
		return 0;
	}
	const char *u = o->outbound_proxy, *params;
	char hp[300];
	if (strncasecmp(u, "sip:", 4) != 0 || strchr(u, '@'))
		return usage_error("--outbound-proxy must be sip:HOST:PORT[;transport=udp|tcp], not %s", u);
	u += 4;
	size_t n = strcspn(u, ";");
	params = u + n;
	if (n >= sizeof hp)
		return usage_error("--outbound-proxy: address too long in %s", o->outbound_proxy);
	memcpy(hp, u, n);
	hp[n] = '\0';
	if (cpm_parse_hostport(hp, o->hop_host, sizeof o->hop_host, &o->hop_port) < 0)
		return usage_error("--outbound-proxy needs sip:HOST:PORT (with the port), not %s", o->outbound_proxy);
	while (*params == ';') {
		params++;
		size_t l = strcspn(params, ";");
		if (l == 2 && strncasecmp(params, "lr", 2) == 0) {
			/* loose routing: what a proxy of ours does anyway */
		} else if (l == 13 && strncasecmp(params, "transport=", 10) == 0 &&
			   (strncasecmp(params + 10, "udp", 3) == 0 || strncasecmp(params + 10, "tcp", 3) == 0)) {
			bool tcp = strncasecmp(params + 10, "tcp", 3) == 0;
			if (tcp != o->tcp)
				return usage_error("--outbound-proxy %s: its transport must be the one of --transport "
						   "(add --transport tcp or drop the parameter)",
						   o->outbound_proxy);
		} else {
			return usage_error("--outbound-proxy: only the parameters lr and transport=udp|tcp, not in %s",
					   o->outbound_proxy);
		}
		params += l;
	}
	snprintf(o->hop, sizeof o->hop, "%.*s", (int)n, u);
	return 0;
}

static int parse_seconds(const char *s, double *out)
{
	char *end;
	if (!s || !*s)
		return -1;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || *end || !(v >= 0) || v > 86400.0 * 365)
		return -1;
	*out = v;
	return 0;
}

/* "--name value" or "--name=value". */
static bool opt_match(const char *arg, const char *name, int *i, int argc, char **argv, const char **val)
{
	size_t n = strlen(name);
	if (strncmp(arg, name, n) != 0)
		return false;
	if (arg[n] == '=') {
		*val = arg + n + 1;
		return true;
	}
	if (arg[n] != '\0')
		return false;
	*val = *i + 1 < argc ? argv[++*i] : NULL;
	return true;
}

static int normalise_uri(const char *in, const char *domain, char *out, size_t cap)
{
	bool has_scheme = strncmp(in, "sip:", 4) == 0 || strncmp(in, "sips:", 5) == 0 || strncmp(in, "tel:", 4) == 0;
	bool has_at = strchr(in, '@') != NULL;
	int n;
	if (strncmp(in, "tel:", 4) == 0)
		n = snprintf(out, cap, "%s", in);
	else
		n = snprintf(out, cap, "%s%s%s%s", has_scheme ? "" : "sip:", in, has_at || !domain ? "" : "@",
			     has_at || !domain ? "" : domain);
	if (n < 0 || (size_t)n >= cap || strpbrk(out, " <>\r\n\""))
		return -1;
	return 0;
}

/* `message TARGET -`: TEXT from standard input (a command line holds at most 128 KiB per
 * argument, a large message up to 16 MiB). NULL when unreadable, too long or holding a NUL. */
static char *read_stdin_text(void)
{
	size_t cap = CPM_LARGE_TEXT_MAX + 1, len = 0;
	char *buf = malloc(cap + 1);
	if (!buf)
		return NULL;
	for (;;) {
		ssize_t r = read(0, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			return NULL;
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (len == cap)
			break; /* too long: strlen() says so */
	}
	buf[len] = '\0';
	if (memchr(buf, '\0', len)) {
		free(buf);
		return NULL;
	}
	return buf; /* lives as long as the process */
}

int main(int argc, char **argv)
{
	static struct cpm_opts o;
	static struct cpm_app app;
	const char *positional[4];
	int npos = 0;
	bool help = false, no_more_options = false;
	const char *transport = "udp", *answer = "accept";
	bool disk_thread_given = false;
	uint64_t num;

	o.chunk_size = CPM_CHUNK_DEFAULT;
	o.invite_timeout = 120;
	o.parallel = 10;
	app.o = &o;
	app.dir_fd = -1;
	app.sig_fd = -1;
	app.send_fd = -1;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = NULL;
		if (no_more_options && o.cmd != CMD_NONE) {
			if (npos == 4)
				return usage_error("too many arguments (%s)", a);
			positional[npos++] = a;
		} else if (strcmp(a, "--") == 0) {
			no_more_options = true;
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			help = true;
		} else if (strcmp(a, "--version") == 0) {
			printf("cpm %s\n", cpm_version());
			return CPM_EXIT_OK;
		} else if (strcmp(a, "--verbose") == 0 || strcmp(a, "-v") == 0) {
			o.verbose = true;
		} else if (opt_match(a, "--server", &i, argc, argv, &v)) {
			if (!v)
				return usage_error("--server needs ADDR:PORT%s", "");
			o.server = v;
		} else if (opt_match(a, "--outbound-proxy", &i, argc, argv, &v)) {
			if (!v)
				return usage_error("--outbound-proxy needs sip:HOST:PORT%s", "");
			o.outbound_proxy = v;
		} else if (opt_match(a, "--user", &i, argc, argv, &v)) {
			if (!v)
				return usage_error("--user needs sip:USER@DOMAIN%s", "");
			o.user = v;
		} else if (opt_match(a, "--password", &i, argc, argv, &v)) {
			if (!v)
				return usage_error("--password needs SECRET%s", "");
			o.password = v;
		} else if (opt_match(a, "--disk-thread", &i, argc, argv, &v)) {
			if (!v || disk_thread_mode(v, &o.disk_thread))
				return usage_error("--disk-thread needs auto, on or off (got %s)", v ? v : "nothing");
			disk_thread_given = true;
		} else if (opt_match(a, "--device", &i, argc, argv, &v)) {
			if (!v)
				return usage_error("--device needs an ID%s", "");
			o.device = v;
		} else if (opt_match(a, "--ca", &i, argc, argv, &v)) {
			if (!v || !*v)
				return usage_error("--ca needs a FILE%s", "");
			o.ca = v;
		} else if (opt_match(a, "--cert", &i, argc, argv, &v) || opt_match(a, "--key", &i, argc, argv, &v)) {
			bool is_cert = strncmp(a, "--cert", 6) == 0;
			if (!v || !*v)
				return usage_error("%s needs a FILE", is_cert ? "--cert" : "--key");
			*(is_cert ? &o.cert : &o.key) = v;
		} else if (opt_match(a, "--transport", &i, argc, argv, &v)) {
			transport = v ? v : "";
		} else if (opt_match(a, "--push", &i, argc, argv, &v)) {
			/* RFC 8599: pn-provider, pn-prid, pn-param as Contact URI parameters (tokens) */
			if (!v || !*v || strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!~*'+:") !=
					      strlen(v) || !strchr(v, ':'))
				return usage_error("--push needs PROVIDER:PRID[:PARAM] (URI parameter tokens), not %s",
						   v ? v : "(none)");
			o.push_params = v;
		} else if (opt_match(a, "--chunk-size", &i, argc, argv, &v)) {
			if (cpm_parse_u64(v, CPM_CHUNK_MAX, true, &num) < 0 || num < CPM_CHUNK_MIN)
				return usage_error("--chunk-size must be 1024 .. 4194304, not %s", v ? v : "(none)");
			o.chunk_size = (size_t)num;
		} else if (opt_match(a, "--thumbnail", &i, argc, argv, &v)) {
			if (!v)
				return usage_error("--thumbnail needs a file%s", "");
			o.thumbnail = v;
		} else if (opt_match(a, "--conversation-id", &i, argc, argv, &v)) {
			if (!v || !*v || strpbrk(v, " \t\r\n;,\""))
				return usage_error("--conversation-id needs a token%s", "");
			o.conversation_id = v;
		} else if (opt_match(a, "--in-reply-to", &i, argc, argv, &v)) {
			if (!v || !*v || strpbrk(v, " \t\r\n;,\""))
				return usage_error("--in-reply-to needs a token%s", "");
			o.in_reply_to = v;
		} else if (opt_match(a, "--invite-timeout", &i, argc, argv, &v)) {
			if (cpm_parse_u64(v, 86400, false, &num) < 0)
				return usage_error("bad --invite-timeout %s", v ? v : "(none)");
			o.invite_timeout = (unsigned)num;
		} else if (opt_match(a, "--expires", &i, argc, argv, &v)) {
			if (cpm_parse_u64(v, CPM_EXPIRES_MAX, false, &num) < 0 || num == 0)
				return usage_error("--expires must be 1 .. 315576000 seconds (10 years), not %s",
						   v ? v : "(none)");
			o.expires = num;
		} else if (opt_match(a, "--journal", &i, argc, argv, &v)) {
			if (!v || !*v)
				return usage_error("--journal needs a directory%s", "");
			o.journal = v;
		} else if (strcmp(a, "--no-resume") == 0) {
			o.no_resume = true;
		} else if (opt_match(a, "--reply", &i, argc, argv, &v)) {
			if (!v || !*v || strlen(v) > 65536)
				return usage_error("--reply needs a TEXT (at most 65536 bytes)%s", "");
			o.reply = v;
		} else if (strcmp(a, "--no-report") == 0) {
			o.no_report = true;
		} else if (strcmp(a, "--large") == 0) {
			o.large = true;
		} else if (strcmp(a, "--read") == 0) {
			o.read = true;
		} else if (opt_match(a, "--dir", &i, argc, argv, &v)) {
			if (!v)
				return usage_error("--dir needs a directory%s", "");
			o.dir = v;
		} else if (opt_match(a, "--count", &i, argc, argv, &v)) {
			if (cpm_parse_u64(v, UINT_MAX, false, &num) < 0)
				return usage_error("bad --count %s", v ? v : "(none)");
			o.count = (unsigned)num;
		} else if (opt_match(a, "--timeout", &i, argc, argv, &v)) {
			if (cpm_parse_u64(v, 86400 * 365, false, &num) < 0)
				return usage_error("bad --timeout %s", v ? v : "(none)");
			o.timeout = (unsigned)num;
		} else if (opt_match(a, "--answer", &i, argc, argv, &v)) {
			answer = v ? v : "";
		} else if (opt_match(a, "--answer-delay", &i, argc, argv, &v)) {
			if (parse_seconds(v, &o.answer_delay) < 0)
				return usage_error("bad --answer-delay %s", v ? v : "(none)");
		} else if (opt_match(a, "--parallel", &i, argc, argv, &v)) {
			if (cpm_parse_u64(v, 100000, false, &num) < 0 || num == 0)
				return usage_error("bad --parallel %s", v ? v : "(none)");
			o.parallel = (unsigned)num;
		} else if (opt_match(a, "--size", &i, argc, argv, &v)) {
			if (cpm_parse_u64(v, 1ULL << 32, true, &num) < 0)
				return usage_error("bad --size %s (at most 4 GiB)", v ? v : "(none)");
			o.blast_size = num;
		} else if (a[0] == '-' && a[1] != '\0') {
			return usage_error("unknown option %s", a);
		} else if (o.cmd == CMD_NONE) {
			if (strcmp(a, "send") == 0)
				o.cmd = CMD_SEND;
			else if (strcmp(a, "receive") == 0)
				o.cmd = CMD_RECEIVE;
			else if (strcmp(a, "blast") == 0)
				o.cmd = CMD_BLAST;
			else if (strcmp(a, "fetch") == 0)
				o.cmd = CMD_FETCH;
			else if (strcmp(a, "list") == 0)
				o.cmd = CMD_LIST;
			else if (strcmp(a, "message") == 0)
				o.cmd = CMD_MESSAGE;
			else if (strcmp(a, "chat") == 0)
				o.cmd = CMD_CHAT;
			else
				return usage_error("unknown command %s", a);
		} else {
			if (npos == 4)
				return usage_error("too many arguments (%s)", a);
			positional[npos++] = a;
		}
	}

	if (help) {
		fputs(o.cmd == CMD_SEND ? usage_send
		      : o.cmd == CMD_RECEIVE ? usage_receive
		      : o.cmd == CMD_BLAST ? usage_blast
		      : o.cmd == CMD_FETCH ? usage_fetch
		      : o.cmd == CMD_LIST ? usage_list
		      : o.cmd == CMD_MESSAGE ? usage_message
		      : o.cmd == CMD_CHAT ? usage_chat
					   : usage_main,
		      stdout);
		return CPM_EXIT_OK;
	}
	if (o.cmd == CMD_NONE)
		return usage_error("no command given%s", "");
	if (!o.server || cpm_parse_hostport(o.server, o.server_host, sizeof o.server_host, &o.server_port) < 0)
		return usage_error("--server ADDR:PORT is required (got %s)", o.server ? o.server : "nothing");
	if (!o.user || !strchr(o.user, '@') || normalise_uri(o.user, NULL, o.aor, sizeof o.aor) < 0)
		return usage_error("--user sip:USER@DOMAIN is required (got %s)", o.user ? o.user : "nothing");
	{
		const char *at = strchr(o.aor, '@') + 1;
		size_t dl = strcspn(at, ";>?");
		if (dl == 0 || dl >= sizeof o.domain)
			return usage_error("bad domain in --user %s", o.user);
		memcpy(o.domain, at, dl);
		o.domain[dl] = '\0';
	}
	if (!o.password && getenv("CPM_PASSWORD") && *getenv("CPM_PASSWORD"))
		o.password = getenv("CPM_PASSWORD");
	if (!disk_thread_given && getenv("CPM_DISK_THREAD") && *getenv("CPM_DISK_THREAD") &&
	    disk_thread_mode(getenv("CPM_DISK_THREAD"), &o.disk_thread))
		return usage_error("CPM_DISK_THREAD must be auto, on or off (got %s)", getenv("CPM_DISK_THREAD"));
	if (strcmp(transport, "udp") == 0)
		o.tcp = false;
	else if (strcmp(transport, "tcp") == 0)
		o.tcp = true;
	else if (strcmp(transport, "tls") == 0)
		o.tcp = o.tls = true; /* a stream: every TCP rule holds, and TLS on top */
	else
		return usage_error("--transport must be udp, tcp or tls, not %s", transport);
	if (o.ca && !o.tls)
		return usage_error("--ca needs --transport tls%s", "");
	if (o.tls && !o.ca)
		o.ca = CPM_SYSTEM_CA; /* the system's trusted CAs */
	if (o.ca && access(o.ca, R_OK) != 0)
		return usage_error("--ca %s: not a readable file", o.ca);
	if (!o.cert != !o.key)
		return usage_error("--cert and --key go together (a certificate and its key)%s", "");
	if (o.cert && !o.tls)
		return usage_error("--cert and --key need --transport tls%s", "");
	if (o.cert) {
		char why[600];
		if (mconn_check_client_cert(o.cert, o.key, why, sizeof why))
			return usage_error("%s", why);
	}
	if (first_hop(&o) != 0)
		return CPM_EXIT_USAGE;
	if (strcmp(answer, "accept") == 0)
		o.answer = ANSWER_ACCEPT;
	else if (strcmp(answer, "decline") == 0)
		o.answer = ANSWER_DECLINE;
	else if (strcmp(answer, "ignore") == 0)
		o.answer = ANSWER_IGNORE;
	else if (strcmp(answer, "unavailable") == 0)
		o.answer = ANSWER_UNAVAILABLE;
	else
		return usage_error("--answer must be accept, decline, ignore or unavailable, not %s", answer);

	switch (o.cmd) {
	case CMD_SEND:
		if (npos != 2)
			return usage_error("send needs TARGET and FILE%s", "");
		o.target = positional[0];
		o.file = positional[1];
		break;
	case CMD_BLAST:
		if (npos != 1)
			return usage_error("blast needs TARGET%s", "");
		o.target = positional[0];
		if (!o.count)
			o.count = 1;
		break;
	case CMD_LIST:
		if (npos != 0)
			return usage_error("list takes no arguments (got %s)", positional[0]);
		break;
	case CMD_MESSAGE:
		if (npos != 2)
			return usage_error("message needs TARGET and TEXT%s", "");
		o.target = positional[0];
		o.text = positional[1];
		if (strcmp(o.text, "-") == 0 && !(o.text = read_stdin_text()))
			return usage_error("cannot read TEXT from standard input (text without NUL bytes, at most %s)",
					   "16 MiB");
		/* a text over the pager limit goes in large mode (largemsg.c), up to 16 MiB */
		if (strlen(o.text) > CPM_LARGE_TEXT_MAX)
			return usage_error("TEXT is too long for one message (at most %s with its CPIM headers)", "16 MiB");
		break;
	case CMD_CHAT:
		if (npos != 1)
			return usage_error("chat needs TARGET%s", "");
		o.target = positional[0];
		break;
	case CMD_FETCH:
	case CMD_RECEIVE:
		if (o.cmd == CMD_FETCH) {
			if (npos != 1)
				return usage_error("fetch needs one item ID%s", "");
			o.item_id = positional[0];
			size_t il = strlen(o.item_id);
			if (il == 0 || il > CPM_ITEM_ID_MAX ||
			    strspn(o.item_id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") != il)
				return usage_error("bad item ID %s (letters, digits, _ and -, at most 32)", o.item_id);
			o.count = 1;
			o.answer = ANSWER_ACCEPT;
		} else if (npos != 0) {
			return usage_error("receive takes no arguments (got %s)", positional[0]);
		}
		if (!o.dir)
			return usage_error("%s needs --dir DIR", o.cmd == CMD_FETCH ? "fetch" : "receive");
		/* A missing --dir is created (mkdir -p, mode 0777 & umask), and said so. */
		if (access(o.dir, F_OK) < 0 && errno == ENOENT) {
			if (mkdir_p(o.dir, 0777) < 0) {
				fprintf(stderr, "cpm: cannot create directory %s: %s\n", o.dir, strerror(errno));
				return CPM_EXIT_USAGE;
			}
			fprintf(stderr, "cpm: created directory %s\n", o.dir);
		}
		app.dir_fd = open(o.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (app.dir_fd < 0 || !realpath(o.dir, o.dir_abs)) {
			fprintf(stderr, "cpm: cannot open directory %s: %s\n", o.dir, strerror(errno));
			return CPM_EXIT_USAGE;
		}
		recv_log_init(&app);
		partial_sweep_tmp(&app);
		break;
	default:
		break;
	}
	if (o.target && normalise_uri(o.target, o.domain, o.target_uri, sizeof o.target_uri) < 0)
		return usage_error("bad TARGET %s", o.target);
	if (local_ip_for(o.hop_host, o.hop_port, o.local_ip, sizeof o.local_ip) < 0) {
		fprintf(stdout, "failed: cannot resolve or reach %s\n", o.hop);
		return CPM_EXIT_FAILED;
	}
	/* blast and a busy receiver hold a socket (and a file) per transfer */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	app.progress_tty = isatty(2) && o.cmd != CMD_BLAST;
	setvbuf(stdout, NULL, _IOLBF, 0);

	int rc = agent_run(&app);
	if (app.dir_fd >= 0)
		close(app.dir_fd);
	return rc;
}
