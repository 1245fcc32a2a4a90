/* Config file parser (see cpm/conf.h for the syntax). */
#include "cpm/conf.h"

#include <string.h>

static int is_key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
	       c == '_' || c == '.';
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Is s[0..len) nothing but blanks, optionally followed by a comment (a '#'
 * after at least one blank, or at the very start when s is a line's rest)? */
static int blank_or_comment(const char *s, size_t len)
{
	size_t i = 0;
	while (i < len && is_blank(s[i]))
		i++;
	return i == len || (i > 0 && s[i] == '#');
}

/* The value part of a line (after '='), trimmed, its comment removed and its
 * quotes taken off. Returns 0, or -1 with err->what set. */
static int parse_value(struct cpm_str v, struct cpm_str *out, struct conf_error *err)
{
	if (v.len && v.p[0] == '"') {
		/* The closing quote is the first '"' followed by nothing but blanks
		 * and an optional comment: "a # b" is a value with a '#', "a" # c
		 * is "a" plus a comment, and "a"b" stays a"b as it always was. */
		int saw_quote = 0;
		for (size_t i = 1; i < v.len; i++) {
			if (v.p[i] != '"')
				continue;
			saw_quote = 1;
			if (blank_or_comment(v.p + i + 1, v.len - i - 1)) {
				*out = (struct cpm_str){v.p + 1, i - 1};
				return 0;
			}
		}
		err->what = saw_quote ? "unexpected text after the closing quote (a comment needs a blank before '#')"
				      : "unterminated quoted value";
		return -1;
	}
	for (size_t i = 0; i < v.len; i++) {
		if (v.p[i] != '#')
			continue;
		if (i == 0 || is_blank(v.p[i - 1])) { /* a comment: drop it and the blanks before it */
			*out = cpm_str_trim((struct cpm_str){v.p, i});
			return 0;
		}
		err->what = "'#' inside a value: put a blank before it to start a comment, or quote the value "
			    "(\"...\") if the '#' belongs to it";
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_line(struct cpm_str line, int lineno, conf_kv_f *cb, void *arg, struct conf_error *err)
{
	char key[CONF_MAX_KEY + 1], value[CONF_MAX_VALUE + 1];
	struct cpm_str l = cpm_str_trim(line);

	if (l.len == 0 || l.p[0] == '#')
		return 0;
	const char *eq = memchr(l.p, '=', l.len);
	if (!eq) {
		err->what = "expected \"key = value\"";
		return -1;
	}
	struct cpm_str k = cpm_str_trim((struct cpm_str){l.p, (size_t)(eq - l.p)});
	struct cpm_str v;
	if (k.len == 0) {
		err->what = "empty key";
		return -1;
	}
	for (size_t i = 0; i < k.len; i++)
		if (!is_key_char(k.p[i])) {
			err->what = "invalid character in key";
			return -1;
		}
	if (parse_value(cpm_str_trim((struct cpm_str){eq + 1, l.len - (size_t)(eq - l.p) - 1}), &v, err))
		return -1;
	if (memchr(v.p, '\0', v.len)) {
		err->what = "NUL byte in value";
		return -1;
	}
	if (!cpm_str_copy(key, sizeof key, k)) {
		err->what = "key too long";
		return -1;
	}
	if (!cpm_str_copy(value, sizeof value, v)) {
		err->what = "value too long";
		return -1;
	}
	return cb(arg, key, value, lineno);
}

int conf_parse(const char *text, size_t len, conf_kv_f *cb, void *arg, struct conf_error *err)
{
	int lineno = 0;
	size_t off = 0;

	err->line = 0;
	err->what = NULL;
	if (len > CONF_MAX_BYTES) {
		err->what = "file too big";
		return -1;
	}
	while (off < len) {
		const char *nl = memchr(text + off, '\n', len - off);
		size_t end = nl ? (size_t)(nl - text) : len;
		struct cpm_str line = {text + off, end - off};

		lineno++;
		if (line.len && line.p[line.len - 1] == '\r')
			line.len--;
		if (line.len > CONF_MAX_LINE) {
			err->line = lineno;
			err->what = "line too long";
			return -1;
		}
		int rc = parse_line(line, lineno, cb, arg, err);
		if (rc != 0) {
			err->line = lineno;
			return rc;
		}
		off = nl ? end + 1 : len;
	}
	return 0;
}
