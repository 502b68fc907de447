// blas_threads.c: switching OpenBLAS to one thread around OpenMP loops that
// call sgemm from several threads at once (attention, one (b, head) per
// iteration). Without it each of those calls would try to use OpenBLAS's own
// threads as well and the two pools would fight over the same cores.
#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpu_ops.h"

int cpu_blas_threads_begin_serial(void) {
    int saved = openblas_get_num_threads();
    if (saved != 1) openblas_set_num_threads(1);
    return saved;
}

void cpu_blas_threads_end_serial(int saved) {
    if (saved != 1) openblas_set_num_threads(saved);
}

// OpenBLAS 0.3.21 (Debian 12) does not recognise recent Xeon model numbers
// and falls back to its generic "Prescott" SSE3 kernels, about 8x slower
// than its AVX-512 ones on this machine. The core is chosen when the library
// loads, from OPENBLAS_CORETYPE, so the only remedy from inside the program
// is to set it and start again. Returns only if nothing needed to change or
// the exec failed (then the run is correct, just slow).
void cpu_blas_fix_core_detection(char **argv) {
    if (getenv("OPENBLAS_CORETYPE") || getenv("TB_BLAS_REEXEC")) return;
    const char *core = openblas_get_corename();
    if (!core || strcmp(core, "Prescott") != 0) return;
    __builtin_cpu_init();
    const char *want = NULL;
    if (__builtin_cpu_supports("avx512bf16")) want = "COOPERLAKE";
    else if (__builtin_cpu_supports("avx512f")) want = "SKYLAKEX";
    else if (__builtin_cpu_supports("avx2")) want = "HASWELL";
    if (!want) return;
    setenv("OPENBLAS_CORETYPE", want, 1);
    setenv("TB_BLAS_REEXEC", "1", 1);
    execv("/proc/self/exe", argv);
    unsetenv("OPENBLAS_CORETYPE");  // exec failed: carry on with the generic kernels
}
