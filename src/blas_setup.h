// blas_setup.h: make OpenBLAS use this CPU's real kernels.
//
// Debian's OpenBLAS 0.3.21 picks its kernels at load time from the CPU's
// model number. On CPUs newer than it knows (and on VMs that hide the model,
// as this project's machines do) it falls back to "Prescott", its slowest
// SSE3 kernels: sgemm runs 4-5x slower than the AVX-512 ones. The only fix
// OpenBLAS offers is the OPENBLAS_CORETYPE variable, read before main() runs.
// So the CLI checks once at start and, if OpenBLAS fell back while the CPU
// has AVX-512 (or AVX2), sets the variable to the matching kernel family and
// re-executes itself. A user's own OPENBLAS_CORETYPE always wins.
#ifndef TB_BLAS_SETUP_H
#define TB_BLAS_SETUP_H

// Call first thing in main(). Returns only if no re-exec was needed or the
// re-exec failed (then the program runs on, slower, with a warning).
void blas_select_core(char **argv);
// The kernel family OpenBLAS is using, e.g. "SkylakeX".
const char *blas_core_name(void);

#endif
