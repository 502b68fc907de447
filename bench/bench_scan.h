// bench_scan.h: the selective scan in `tunebench bench`, for an architecture
// whose registry entry gives its scan's shapes (ModelArch.scan_shape).
#ifndef TB_BENCH_SCAN_H
#define TB_BENCH_SCAN_H

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

// Adds to a model's record o from `tunebench bench`: "scan" (the scan alone
// at one layer's shape, n_layers of them a step: ms per layer, share of the
// step, GB/s) and memory per token (chunked scan states against naive).
// shape gives batch, seqlen, dim, dstate and chunk. Returns 0, or -1 with the
// error set.
int bench_scan_record(cJSON *o, const char *name, const SelectiveScanParams *shape, int n_layers,
                      const Backend *be);

#endif
