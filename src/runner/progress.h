// progress.h: what a run shows while it trains.
//
// On a terminal: one line rewritten in place (step/total, loss, tokens/s,
// elapsed, ETA). In a log (stdout is not a TTY): a plain line every N steps,
// so that `make exp-* > log` stays readable.
#ifndef TB_RUNNER_PROGRESS_H
#define TB_RUNNER_PROGRESS_H

#include <stdio.h>

typedef struct {
    FILE *out;
    int is_tty;
    int total_steps;
    int every;           // plain-line interval
    int line_open;       // a TTY line is on screen without its newline
    double last_draw;    // seconds (monotonic) of the last TTY redraw
} Progress;

void progress_init(Progress *p, FILE *out, int total_steps, int every);
// After each step. elapsed_s: wall time of this segment; eta_s < 0 if unknown.
void progress_step(Progress *p, int step, float loss, double tokens_per_s, double elapsed_s, double eta_s);
// A message on its own line (ends an open TTY line first).
void progress_note(Progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// "1h 02m", "3m 05s", "12.3s".
void progress_format_duration(double seconds, char *out, size_t cap);

#endif
