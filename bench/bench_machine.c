// bench_machine.c: the sgemm peak and the memory read bandwidth (see
// bench_machine.h). Timings are medians over repeats after a warm-up, so one
// descheduled repeat on a shared machine does not decide the figure.
#include "bench_machine.h"

#include <cblas.h>
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "lib/command.h"
#include "lib/common.h"
#include "../kernels/cpu/cpu_ops.h"

#define REPEATS 7

// ---------------------------------------------------------------- sgemm

void sgemm_probe_open(SgemmProbe *p, int n) {
    size_t count = (size_t)n * n;
    p->n = n;
    p->a = tb_malloc(count * sizeof(float)), p->b = tb_malloc(count * sizeof(float));
    p->c = tb_calloc(count, sizeof(float));
    for (size_t i = 0; i < count; i++) p->a[i] = (float)(i % 7) * 0.1f, p->b[i] = (float)(i % 5) * 0.1f;
}

// The median GFLOP/s of `repeats` products: split == 0 runs one cblas_sgemm
// on OpenBLAS's own threads; split == 1 runs cpu_sgemm, the models' path
// (OpenBLAS single-threaded, the product split over the OpenMP threads;
// kernels/cpu/blas.c).
static double probe_gflops(const SgemmProbe *p, int repeats, int split) {
    const int n = p->n;
    double times[REPEATS];
    if (repeats > REPEATS) repeats = REPEATS;
    for (int r = 0; r < repeats; r++) {
        double t0 = tb_now_seconds();
        if (split)
            cpu_sgemm(0, 0, n, n, n, 1.0f, p->a, n, p->b, n, 0.0f, p->c, n);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, p->a, n, p->b,
                        n, 0.0f, p->c, n);
        times[r] = tb_now_seconds() - t0;
    }
    return 2.0 * n * (double)n * n / tb_median(times, repeats) / 1e9;
}

double sgemm_probe_gflops(const SgemmProbe *p, int repeats) { return probe_gflops(p, repeats, 1); }

void sgemm_probe_close(SgemmProbe *p) {
    free(p->a), free(p->b), free(p->c);
    p->a = p->b = p->c = NULL;
}

// One n x n x n product's GFLOP/s (see probe_gflops): the median over REPEATS
// after a warm-up.
static double sgemm_gflops(int n, int split) {
    SgemmProbe p;
    sgemm_probe_open(&p, n);
    probe_gflops(&p, 1, split);  // warm-up
    double g = probe_gflops(&p, REPEATS, split);
    sgemm_probe_close(&p);
    return g;
}

// ---------------------------------------------------------------- bandwidth

// Sums n floats with 32 independent lanes (the compiler vectorises it, and
// the loads, not the adds, are the bottleneck).
static float sum_floats(const float *x, size_t n) {
    float lane[32] = {0};
    size_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int k = 0; k < 32; k++) lane[k] += x[i + k];
    for (; i < n; i++) lane[0] += x[i];
    float s = 0.0f;
    for (int k = 0; k < 32; k++) s += lane[k];
    return s;
}

// Reads x (n floats) once, every thread its own contiguous part (the same
// part on every call, so a thread's cache holds it where it fits); seconds.
static double read_pass_seconds(const float *x, size_t n, int threads) {
    static volatile float sink;
    float total = 0.0f;
    double t0 = tb_now_seconds();
#pragma omp parallel num_threads(threads) reduction(+ : total)
    {
        int nt = 1, id = 0;
#ifdef _OPENMP
        nt = omp_get_num_threads(), id = omp_get_thread_num();
#endif
        size_t chunk = n / (size_t)nt / 32 * 32;
        size_t begin = (size_t)id * chunk, end = id == nt - 1 ? n : begin + chunk;
        total += sum_floats(x + begin, end - begin);
    }
    double dt = tb_now_seconds() - t0;
    sink += total;
    return dt;
}

// Reads the whole array `passes` times per repeat; GB/s, the median over repeats.
static double read_gb_per_s(const float *x, size_t n, int passes, int repeats, int threads) {
    double times[REPEATS + 1];
    for (int r = -1; r < repeats; r++) {
        double dt = 0.0;
        for (int p = 0; p < passes; p++) dt += read_pass_seconds(x, n, threads);
        if (r >= 0) times[r] = dt;
    }
    return (double)passes * (double)n * sizeof(float) / tb_median(times, repeats) / 1e9;
}

// An array of `bytes`, its pages touched by the threads that will read it.
static float *read_array_new(size_t bytes, int threads) {
    size_t n = bytes / sizeof(float);
    float *x = tb_malloc(n * sizeof(float));
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t i = 0; i < n; i++) x[i] = 1.0f;
    return x;
}

int read_probe_open(ReadProbe *p, size_t bytes, int threads) {
    if (threads <= 0) threads = tb_num_threads();
    p->n = bytes / sizeof(float);
    p->threads = threads;
    p->x = read_array_new(bytes, threads);
    return 0;
}

double read_probe_gb_per_s(const ReadProbe *p) {
    return (double)p->n * sizeof(float) / read_pass_seconds(p->x, p->n, p->threads) / 1e9;
}

void read_probe_close(ReadProbe *p) {
    free(p->x);
    p->x = NULL;
}

static size_t l3_cache_bytes(void) {
#ifdef _SC_LEVEL3_CACHE_SIZE
    long s = sysconf(_SC_LEVEL3_CACHE_SIZE);
    if (s > 0) return (size_t)s;
#endif
    return 0;
}

static double measure_array(size_t bytes, int threads, int repeats) {
    size_t n = bytes / sizeof(float);
    float *x = read_array_new(bytes, threads);
    // About 1 GB of traffic per repeat, at least one pass.
    int passes = (int)((size_t)1 << 30) / (int)(bytes > ((size_t)1 << 30) ? ((size_t)1 << 30) : bytes);
    if (passes < 1) passes = 1;
    double gb = read_gb_per_s(x, n, passes, repeats, threads);
    free(x);
    return gb;
}

int machine_limits_measure(MachineLimits *ml, int threads) {
    memset(ml, 0, sizeof *ml);
    if (threads <= 0) threads = tb_num_threads();
    ml->threads = threads;
    ml->repeats = REPEATS;
    double t0 = tb_now_seconds();
#ifdef _OPENMP
    omp_set_num_threads(threads);
#endif
    // Bandwidth first: OpenBLAS's worker threads spin for a while after an
    // sgemm and would steal the cores from the reading threads.
    // L3: 16 MiB, past any L2 of these machines; less if the L3 is small.
    // DRAM: four times the L3 (at least 256 MiB, at most 2 GiB).
    size_t l3 = ml->l3_cache_bytes = l3_cache_bytes();
    size_t l3_array = (size_t)16 << 20;
    if (l3 && l3_array > l3 / 2) l3_array = l3 / 2;
    size_t dram_array = l3 ? 4 * l3 : (size_t)1 << 30;
    if (dram_array < ((size_t)256 << 20)) dram_array = (size_t)256 << 20;
    if (dram_array > ((size_t)2 << 30)) dram_array = (size_t)2 << 30;
    ml->l3_array_bytes = l3_array;
    ml->dram_array_bytes = dram_array;
    ml->l3_read_gb_per_s = measure_array(l3_array, threads, REPEATS);
    ml->dram_read_gb_per_s = measure_array(dram_array, threads, REPEATS);
    // sgemm both ways; the peak is the best of either. The models' path
    // first, then OpenBLAS's own threads with OpenMP's team ended: under
    // OMP_WAIT_POLICY=ACTIVE its idle threads spin and would take a core from
    // OpenBLAS's (which measured the peak 25-50% low here before this split).
    int sizes[MACHINE_SGEMM_SIZES] = {512, 1024, 2048};
    for (int i = 0; i < MACHINE_SGEMM_SIZES; i++) {
        ml->sgemm_sizes[i] = sizes[i];
        ml->sgemm_openmp_split_gflops[i] = sgemm_gflops(sizes[i], 1);
    }
#ifdef _OPENMP
    omp_pause_resource_all(omp_pause_hard);
#endif
    openblas_set_num_threads(threads);
    for (int i = 0; i < MACHINE_SGEMM_SIZES; i++) {
        ml->sgemm_openblas_threads_gflops[i] = sgemm_gflops(sizes[i], 0);
        double best = ml->sgemm_openblas_threads_gflops[i];
        if (ml->sgemm_openmp_split_gflops[i] > best) best = ml->sgemm_openmp_split_gflops[i];
        ml->sgemm_gflops[i] = best;
        if (best > ml->sgemm_peak_gflops) ml->sgemm_peak_gflops = best;
    }
    openblas_set_num_threads(1);  // as the models run it
    ml->seconds = tb_now_seconds() - t0;
    return 0;
}

cJSON *machine_limits_json(const MachineLimits *ml) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "threads", ml->threads);
    cJSON_AddNumberToObject(o, "sgemm_peak_gflops", ml->sgemm_peak_gflops);
    cJSON *s = cJSON_AddArrayToObject(o, "sgemm");
    for (int i = 0; i < MACHINE_SGEMM_SIZES; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "size", ml->sgemm_sizes[i]);
        cJSON_AddNumberToObject(e, "gflops", ml->sgemm_gflops[i]);
        cJSON_AddNumberToObject(e, "gflops_openblas_threads", ml->sgemm_openblas_threads_gflops[i]);
        cJSON_AddNumberToObject(e, "gflops_openmp_split", ml->sgemm_openmp_split_gflops[i]);
        cJSON_AddItemToArray(s, e);
    }
    cJSON_AddNumberToObject(o, "dram_read_gb_per_s", ml->dram_read_gb_per_s);
    cJSON_AddNumberToObject(o, "l3_read_gb_per_s", ml->l3_read_gb_per_s);
    cJSON_AddNumberToObject(o, "dram_array_bytes", (double)ml->dram_array_bytes);
    cJSON_AddNumberToObject(o, "l3_array_bytes", (double)ml->l3_array_bytes);
    cJSON_AddNumberToObject(o, "l3_cache_bytes", (double)ml->l3_cache_bytes);
    cJSON_AddNumberToObject(o, "repeats", ml->repeats);
    cJSON_AddStringToObject(o, "statistic", "median");
    cJSON_AddNumberToObject(o, "seconds", ml->seconds);
    return o;
}

// `tunebench machine`: prints the limits as JSON.
static void machine_usage(FILE *out) {
    fprintf(out, "usage: tunebench machine [--threads N]\n"
                 "  Measures the cblas_sgemm peak and the DRAM and L3 read bandwidth on N threads\n"
                 "  (default: the OpenMP thread count) and prints them as JSON.\n");
}

int cmd_machine(int argc, char **argv) {
    int threads = 0;
    const TbOption opts[] = {TB_OPT_IN("--threads", TB_OPT_INT, &threads, 1, 4096)};
    int rc = tb_command_start(tb_parse_options("machine", argc, argv, opts, TB_OPTIONS(opts)), machine_usage);
    if (rc != TB_COMMAND_GO_ON) return rc;
    MachineLimits ml;
    if (machine_limits_measure(&ml, threads) != 0) return tb_report(), 1;
    cJSON *o = machine_limits_json(&ml);
    char *text = tb_json_print(o, 1);
    fputs(text, stdout);
    free(text);
    cJSON_Delete(o);
    return 0;
}
