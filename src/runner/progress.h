// progress.h: what a run shows while it trains.
//
// On a terminal: one line rewritten in place (step/total, loss, tokens/s,
// elapsed, ETA). In a log (stdout is not a TTY): a plain line every N steps,
// so that `make exp-* > log` stays readable. Between the steps, a status line
// says what the run is doing (loading the corpus, validating: 96/214 windows):
// in place on a terminal, replaced by the next line; in a log, its first line
// and then one a minute at most.
#ifndef TB_RUNNER_PROGRESS_H
#define TB_RUNNER_PROGRESS_H

#include <stdio.h>

typedef struct {
    FILE *out;
    int is_tty;
    int total_steps;
    int every;           // plain-line interval
    int line_open;       // a TTY step line is on screen without its newline
    int status_open;     // a TTY status line is on screen (the next line replaces it)
    double last_draw;    // seconds (monotonic) of the last TTY redraw or log line
} Progress;

// A long phase that is not training steps (the inference timings, the
// samples) calls this between its parts: it shows how far the phase is and
// returns nonzero when the phase should stop (a signal arrived).
typedef struct {
    int (*tick)(void *ctx, int done, int total);
    void *ctx;
} PhaseTick;

void progress_init(Progress *p, FILE *out, int total_steps, int every);
// After each step. elapsed_s: wall time of this segment; eta_s < 0 if unknown.
void progress_step(Progress *p, int step, float loss, double tokens_per_s, double elapsed_s, double eta_s);
// What the run is doing now. first: the start of an activity (always shown in
// a log); later calls update it (in a log, at most one line a minute).
void progress_status(Progress *p, int first, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
// A message on its own line (ends an open TTY step line, replaces a status line).
void progress_note(Progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// Ends whatever line is open (before an error message on stderr). A Progress
// never initialised (zeroed) is fine.
void progress_close(Progress *p);
// "1h 02m", "3m 05s", "12.3s".
void progress_format_duration(double seconds, char *out, size_t cap);

#endif
