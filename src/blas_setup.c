// blas_setup.c: see blas_setup.h for why this exists.
#include "blas_setup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *openblas_get_corename(void);

const char *blas_core_name(void) { return openblas_get_corename(); }

// The kernel family for this CPU, or NULL when OpenBLAS's own choice stands.
static const char *better_core(void) {
    const char *core = openblas_get_corename();
    if (!core || (strcmp(core, "Prescott") != 0 && strcmp(core, "Core2") != 0 &&
                  strcmp(core, "Nehalem") != 0))
        return NULL;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
    return NULL;
}

void blas_select_core(char **argv) {
    if (getenv("OPENBLAS_CORETYPE")) return;  // the user's choice, or ours after the re-exec
    const char *core = better_core();
    if (!core) return;
    setenv("OPENBLAS_CORETYPE", core, 1);
    execv("/proc/self/exe", argv);
    fprintf(stderr, "tunebench: warning: could not re-execute with OPENBLAS_CORETYPE=%s; "
                    "OpenBLAS runs its slow generic kernels (set the variable yourself)\n", core);
}
