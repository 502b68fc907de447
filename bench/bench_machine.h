// bench_machine.h: this machine's limits, against which the benchmarks
// report how close a model comes to the hardware:
//   - the sgemm peak on the current thread count (GFLOP/s; the median of
//     repeats for a few square sizes, each both on OpenBLAS's own threads and
//     split over OpenMP's as the models run it, the peak being the best);
//   - the memory read bandwidth from DRAM (an array several times the L3)
//     and from L3 (an array well past L2 that fits in L3), GB/s, medians.
// The decode benchmarks' weight-streaming limit is parameter bytes divided
// by the DRAM read bandwidth.
#ifndef TB_BENCH_MACHINE_H
#define TB_BENCH_MACHINE_H

#include <stddef.h>

typedef struct cJSON cJSON;

#define MACHINE_SGEMM_SIZES 3

typedef struct {
    int threads;                                 // OpenMP and OpenBLAS threads used
    int sgemm_sizes[MACHINE_SGEMM_SIZES];        // M = N = K
    double sgemm_openblas_threads_gflops[MACHINE_SGEMM_SIZES];  // median, OpenBLAS's threads
    double sgemm_openmp_split_gflops[MACHINE_SGEMM_SIZES];      // median, cpu_sgemm
    double sgemm_gflops[MACHINE_SGEMM_SIZES];    // the better of the two
    double sgemm_peak_gflops;                    // the best of those medians
    size_t dram_array_bytes, l3_array_bytes;
    size_t l3_cache_bytes;                       // as the OS reports it (0 if unknown)
    double dram_read_gb_per_s;                   // median
    double l3_read_gb_per_s;                     // median
    int repeats;
    double seconds;                              // time the measurement took
} MachineLimits;

// A read-bandwidth probe that can be sampled between other measurements, so
// that a ratio to the memory bandwidth uses the bandwidth of the same moment
// (on a shared host it moves by tens of percent from minute to minute).
typedef struct {
    float *x;
    size_t n;
    int threads;
} ReadProbe;
// An array of `bytes` (use the DRAM array's size), touched by `threads` threads.
int read_probe_open(ReadProbe *p, size_t bytes, int threads);
// One timed pass over the array on its threads: GB/s.
double read_probe_gb_per_s(const ReadProbe *p);
void read_probe_close(ReadProbe *p);

// An sgemm probe, sampled between training steps: one n x n x n product on
// the models' path (cpu_sgemm), so that MFU can use the sgemm rate of the
// same moments.
typedef struct {
    float *a, *b, *c;
    int n;
} SgemmProbe;
void sgemm_probe_open(SgemmProbe *p, int n);
// The median GFLOP/s of `repeats` products.
double sgemm_probe_gflops(const SgemmProbe *p, int repeats);
void sgemm_probe_close(SgemmProbe *p);

// Measures on `threads` threads (0: the current OpenMP thread count). Takes a
// few seconds. Returns 0, or -1 with the error set.
int machine_limits_measure(MachineLimits *ml, int threads);
// {"threads", "sgemm_peak_gflops",
//  "sgemm": [{"size", "gflops", "gflops_openblas_threads", "gflops_openmp_split"}...],
//  "dram_read_gb_per_s", "l3_read_gb_per_s", "dram_array_bytes", ...}
cJSON *machine_limits_json(const MachineLimits *ml);

#endif
