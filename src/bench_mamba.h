// bench_mamba.h: the Mamba part of `tunebench bench` (see bench_mamba.c).
#ifndef TB_BENCH_MAMBA_H
#define TB_BENCH_MAMBA_H

#include "../kernels/backend.h"

typedef struct cJSON cJSON;

typedef struct {
    double forward_s, backward_s;           // medians, one layer
    double forward_bytes, backward_bytes;   // the minimum traffic (see bench_scan.c)
    float checksum;
} ScanTiming;

// Times the backend's scan on random inputs of one layer's shapes; cpu_time
// selects process CPU time instead of wall-clock time (for development on a
// shared machine, single-threaded). Returns 0, or -1 with the error set.
int bench_scan_measure(ScanTiming *st, const Backend *be, int batch, int seqlen, int dim,
                       int dstate, int chunk, int reps, int cpu_time);
// {forward_ms_per_layer, backward_ms_per_layer, ms_per_step, share_of_step,
//  forward_gb_per_s, backward_gb_per_s, ...}; step_s <= 0 leaves the share out.
cJSON *bench_scan_json(const ScanTiming *st, int n_layer, double step_s);

// Adds to a model's record o from `tunebench bench` (after its PyTorch peer,
// if any): "scan" (the scan alone: ms per layer, share of the step, GB/s),
// memory per token (chunked scan states against naive), and ratios against
// each PyTorch variant and its peak memory. Returns 0, or -1 with the error set.
int bench_mamba_record(cJSON *o, const char *name, int batch, int seq, int vocab,
                       const Backend *be);

#endif
