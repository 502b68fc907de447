// best.c: see best.h.
#include "best.h"

#include <stdio.h>
#include <string.h>

#include "lib/common.h"

const char *run_checkpoint_choose(const char *arg, int want_best, char *out, size_t cap, const char **kind) {
    size_t n = strlen(arg);
    while (n > 1 && arg[n - 1] == '/') n--;  // RUN/ names the run as RUN does
    if (n > 5 && strncmp(arg + n - 5, ".json", 5) == 0) n -= 5;
    char best[4200];
    snprintf(best, sizeof best, "%.*s.best/model.safetensors", (int)n, arg);
    int has_best = tb_file_exists(best);
    if (want_best && has_best) snprintf(out, cap, "%.*s.best", (int)n, arg);
    else snprintf(out, cap, "%.*s", (int)n, arg);
    if (kind) *kind = want_best && has_best ? "best" : want_best ? "latest (no best)" : "latest";
    return out;
}

const char *run_checkpoint_for(const char *arg, char *out, size_t cap) {
    size_t n = strlen(arg);
    if (n <= 5 || strcmp(arg + n - 5, ".json") != 0) {
        snprintf(out, cap, "%s", arg);
        return out;
    }
    return run_checkpoint_choose(arg, 1, out, cap, NULL);
}
