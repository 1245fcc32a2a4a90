#include "cpm/conf.h"
#include "unit.h"

struct seen { int n; char keys[8][80]; char values[8][256]; };

static int collect(void *arg, const char *key, const char *value, int line)
{
	struct seen *s = arg;
	(void)line;
	if (s->n >= 8)
		return 1;
	snprintf(s->keys[s->n], sizeof s->keys[0], "%s", key);
	snprintf(s->values[s->n], sizeof s->values[0], "%s", value);
	s->n++;
	return 0;
}

UNIT_TEST(parses_keys_values_comments_quotes)
{
	const char *t = "# comment\n\n domain = example.com \r\nmsrp=\"127.0.0.1:2855\"\nname = \" a # b \"\n";
	struct seen s = {0};
	struct conf_error err;
	CHECK_EQ_INT(conf_parse(t, strlen(t), collect, &s, &err), 0);
	CHECK_EQ_INT(s.n, 3);
	CHECK_STR(s.keys[0], "domain");
	CHECK_STR(s.values[0], "example.com");
	CHECK_STR(s.values[1], "127.0.0.1:2855");
	CHECK_STR(s.values[2], " a # b ");
}

UNIT_TEST(rejects_bad_lines_with_line_number)
{
	struct seen s = {0};
	struct conf_error err;
	const char *t = "a = 1\nno equals here\n";
	CHECK_EQ_INT(conf_parse(t, strlen(t), collect, &s, &err), -1);
	CHECK_EQ_INT(err.line, 2);
	const char *t2 = "= 1\n";
	CHECK_EQ_INT(conf_parse(t2, strlen(t2), collect, &s, &err), -1);
	const char *t3 = "k y = 1\n";
	CHECK_EQ_INT(conf_parse(t3, strlen(t3), collect, &s, &err), -1);
	const char *t4 = "k = \"unterminated\n";
	CHECK_EQ_INT(conf_parse(t4, strlen(t4), collect, &s, &err), -1);
}

UNIT_TEST(bounds_lengths)
{
	static char big[CONF_MAX_LINE + 100];
	struct seen s = {0};
	struct conf_error err;
	memset(big, 'a', sizeof big);
	big[1] = '=';
	CHECK_EQ_INT(conf_parse(big, sizeof big, collect, &s, &err), -1);
	static char longval[CONF_MAX_VALUE + 10];
	memset(longval, 'v', sizeof longval);
	longval[0] = 'k';
	longval[1] = '=';
	CHECK_EQ_INT(conf_parse(longval, sizeof longval, collect, &s, &err), -1);
	CHECK_STR(err.what, "value too long");
	const char nul[] = "k = a\0b\n";
	CHECK_EQ_INT(conf_parse(nul, sizeof nul - 1, collect, &s, &err), -1);
}

/* The README's example: inline comments after a blank are comments. */
UNIT_TEST(inline_comments_after_a_blank)
{
	const char *t = "max-file-size = 104857600          # bigger offers get \"488\"\n"
			"data-dir = /var/lib/cpmd\t# cpmd.db and blobs/\n"
			"   # indented comment line\n"
			"log-level = info#\t\n"         /* not a comment: see below */;
	struct seen s = {0};
	struct conf_error err;
	CHECK_EQ_INT(conf_parse(t, strlen(t), collect, &s, &err), -1);
	CHECK_EQ_INT(err.line, 4); /* '#' glued to the value is refused */
	CHECK_EQ_INT(s.n, 2);
	CHECK_STR(s.values[0], "104857600");
	CHECK_STR(s.values[1], "/var/lib/cpmd");

	const char *t2 = "a = 1 #\nb = # only a comment\nc = x  #  y # z\n";
	struct seen s2 = {0};
	CHECK_EQ_INT(conf_parse(t2, strlen(t2), collect, &s2, &err), 0);
	CHECK_EQ_INT(s2.n, 3);
	CHECK_STR(s2.values[0], "1");
	CHECK_STR(s2.values[1], "");
	CHECK_STR(s2.values[2], "x");
}

UNIT_TEST(hash_inside_a_value_is_refused_with_its_line)
{
	struct seen s = {0};
	struct conf_error err;
	const char *t = "domain = example.com\n\ndata-dir = /srv/cpmd#1\n";
	CHECK_EQ_INT(conf_parse(t, strlen(t), collect, &s, &err), -1);
	CHECK_EQ_INT(err.line, 3);
	CHECK(strstr(err.what, "'#'") != NULL);
	const char *t2 = "k = \"v\"# glued comment\n";
	CHECK_EQ_INT(conf_parse(t2, strlen(t2), collect, &s, &err), -1);
	CHECK_EQ_INT(err.line, 1);
	const char *t3 = "k = \"v\" trailing\n";
	CHECK_EQ_INT(conf_parse(t3, strlen(t3), collect, &s, &err), -1);
	CHECK(strstr(err.what, "closing quote") != NULL);
}

UNIT_TEST(quoted_values_keep_hashes_and_take_comments)
{
	const char *t = "a = \"x # y\"   # comment \"with quotes\"\n"
			"b = \"#\"\n"
			"c = \"p\"q\"\n"   /* as before: the outer quotes go */
			"d = \" sp \"\t#\n";
	struct seen s = {0};
	struct conf_error err;
	CHECK_EQ_INT(conf_parse(t, strlen(t), collect, &s, &err), 0);
	CHECK_EQ_INT(s.n, 4);
	CHECK_STR(s.values[0], "x # y");
	CHECK_STR(s.values[1], "#");
	CHECK_STR(s.values[2], "p\"q");
	CHECK_STR(s.values[3], " sp ");
}

UNIT_MAIN(T(parses_keys_values_comments_quotes), T(rejects_bad_lines_with_line_number), T(bounds_lengths),
	  T(inline_comments_after_a_blank), T(hash_inside_a_value_is_refused_with_its_line),
	  T(quoted_values_keep_hashes_and_take_comments))
