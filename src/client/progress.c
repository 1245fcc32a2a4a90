/* Progress bar on stderr, only when stderr is a terminal (never in pipes,
 * logs or tests): name, percent, bytes, rate. Redrawn at most 5 times a
 * second; cleared before any other line is written. */
#include "cpm.h"

#include <string.h>

static double last_draw;
static bool drawn;

static void human(char *out, size_t cap, double v)
{
	static const char *const u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	int i = 0;
	while (v >= 1024 && i < 4) {
		v /= 1024;
		i++;
	}
	snprintf(out, cap, i ? "%.1f %s" : "%.0f %s", v, u[i]);
}

void progress_update(struct cpm_app *app, const struct xfer *x, uint64_t done, uint64_t total,
		     bool force)
{
	if (!app->progress_tty)
		return;
	double t = now_mono();
	if (!force && t - last_draw < 0.2)
		return;
	last_draw = t;
	double el = t - x->started;
	double rate = el > 0 ? (double)done / el : 0;
	int pct = total ? (int)(done * 100 / total) : 100;
	char d[32], tot[32], r[32];
	human(d, sizeof d, (double)done);
	human(tot, sizeof tot, (double)total);
	human(r, sizeof r, rate);
	char bar[21];
	int fill = pct / 5;
	for (int i = 0; i < 20; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[20] = '\0';
	fprintf(stderr, "\r\033[K%-24.24s [%s] %3d%% %s / %s  %s/s", x->display, bar, pct, d, tot, r);
	fflush(stderr);
	drawn = true;
}

void progress_clear(struct cpm_app *app)
{
	if (!app || !app->progress_tty || !drawn)
		return;
	fputs("\r\033[K", stderr);
	fflush(stderr);
	drawn = false;
}
