// blas_threads.c: switching OpenBLAS to one thread around OpenMP loops that
// call sgemm from several threads at once (attention, one (b, head) per
// iteration). Without it each of those calls would try to use OpenBLAS's own
// threads as well and the two pools would fight over the same cores.
#include <cblas.h>

#include "cpu_ops.h"

int cpu_blas_threads_begin_serial(void) {
    int saved = openblas_get_num_threads();
    if (saved != 1) openblas_set_num_threads(1);
    return saved;
}

void cpu_blas_threads_end_serial(int saved) {
    if (saved != 1) openblas_set_num_threads(saved);
}
