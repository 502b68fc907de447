// progress.c: see progress.h.
#include "progress.h"

#include <math.h>
#include <stdarg.h>
#include <unistd.h>

#include "lib/common.h"

// In a log, a line at least this often even when `every` steps take longer.
#define PROGRESS_MAX_SILENCE_S 60.0

void progress_format_duration(double s, char *out, size_t cap) {
    if (!(s >= 0) || !isfinite(s)) snprintf(out, cap, "?");
    else if (s < 60) snprintf(out, cap, "%.1fs", s);
    else if (s < 3600) snprintf(out, cap, "%dm %02ds", (int)(s / 60), (int)fmod(s, 60));
    else if (s < 86400 * 3) snprintf(out, cap, "%dh %02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
    else snprintf(out, cap, "%.1f days", s / 86400);
}

void progress_init(Progress *p, FILE *out, int total_steps, int every) {
    p->out = out;
    p->is_tty = isatty(fileno(out));
    p->total_steps = total_steps;
    p->every = every > 0 ? every : 1;
    p->line_open = 0;
    p->status_open = 0;
    p->last_draw = tb_now_seconds();
}

// Clears a status line on a terminal, so that what follows takes its place.
static void clear_status(Progress *p) {
    if (p->status_open) {
        fputs("\r\033[K", p->out);
        p->status_open = 0;
    }
}

void progress_step(Progress *p, int step, float loss, double tokens_per_s, double elapsed_s, double eta_s) {
    char elapsed[32], eta[32];
    progress_format_duration(elapsed_s, elapsed, sizeof elapsed);
    progress_format_duration(eta_s, eta, sizeof eta);
    if (p->is_tty) {
        // Redrawing more than ~10 times a second only costs time.
        double now = tb_now_seconds();
        if (step != p->total_steps && now - p->last_draw < 0.1) return;
        p->last_draw = now;
        p->status_open = 0;
        fprintf(p->out, "\r\033[Kstep %d/%d  loss %.4f  %.0f tok/s  elapsed %s  ETA %s", step, p->total_steps,
                (double)loss, tokens_per_s, elapsed, eta);
        fflush(p->out);
        p->line_open = 1;
        if (step == p->total_steps) {
            fputc('\n', p->out);
            p->line_open = 0;
        }
    } else if (step % p->every == 0 || step == p->total_steps || step == 1 ||
               tb_now_seconds() - p->last_draw >= PROGRESS_MAX_SILENCE_S) {
        // A slow run (a 60M model on a CPU) still shows a sign of life in its log.
        p->last_draw = tb_now_seconds();
        fprintf(p->out, "step %d/%d loss %.4f tok/s %.0f elapsed %s eta %s\n", step, p->total_steps, (double)loss,
                tokens_per_s, elapsed, eta);
        fflush(p->out);
    }
}

void progress_status(Progress *p, int first, const char *fmt, ...) {
    double now = tb_now_seconds();
    if (p->is_tty) {
        if (!first && now - p->last_draw < 0.1) return;
        if (p->line_open) {  // a step line stays on screen
            fputc('\n', p->out);
            p->line_open = 0;
        }
        fputs("\r\033[K", p->out);
    } else if (!first && now - p->last_draw < PROGRESS_MAX_SILENCE_S) {
        return;
    }
    p->last_draw = now;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(p->out, fmt, ap);
    va_end(ap);
    if (p->is_tty) p->status_open = 1;
    else fputc('\n', p->out);
    fflush(p->out);
}

void progress_note(Progress *p, const char *fmt, ...) {
    clear_status(p);
    if (p->line_open) {
        fputc('\n', p->out);
        p->line_open = 0;
    }
    va_list ap;
    va_start(ap, fmt);
    vfprintf(p->out, fmt, ap);
    va_end(ap);
    fputc('\n', p->out);
    fflush(p->out);
}

void progress_close(Progress *p) {
    if (!p->out) return;
    clear_status(p);
    if (p->line_open) {
        fputc('\n', p->out);
        p->line_open = 0;
    }
    fflush(p->out);
}
