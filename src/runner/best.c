// best.c: see best.h.
#include "best.h"

#include <stdio.h>
#include <string.h>

#include "lib/common.h"

const char *run_checkpoint_for(const char *arg, char *out, size_t cap) {
    size_t n = strlen(arg);
    if (n <= 5 || strcmp(arg + n - 5, ".json") != 0) {
        snprintf(out, cap, "%s", arg);
        return out;
    }
    char best[4200];
    snprintf(best, sizeof best, "%.*s.best/model.safetensors", (int)(n - 5), arg);
    if (tb_file_exists(best)) snprintf(out, cap, "%.*s.best", (int)(n - 5), arg);
    else snprintf(out, cap, "%.*s", (int)(n - 5), arg);
    return out;
}
