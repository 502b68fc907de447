// backend_cuda_stats.cu: what the benchmark asks of the CUDA backend about
// itself: the counters of launches and copies (cuda_common.cuh counts them),
// timing marks on the stream, and the per-op profile (backend_cuda.h).
#include "backend_cuda.h"

#include <string.h>

#include "cuda_common.cuh"

extern "C" {
#include "../backend_hooks.h"
}

CudaCounters cuda_counters;

extern "C" void backend_cuda_counters(CudaCounters *out) { *out = cuda_counters; }
extern "C" void backend_cuda_counters_reset(void) { memset(&cuda_counters, 0, sizeof cuda_counters); }

// ---------------------------------------------------------------- marks
// Events are created once, all together, so that no mark inside a timed step
// creates one; 8192 of them take well under a megabyte of host memory.
static cudaEvent_t marks[CUDA_MARKS_MAX];
static int marks_created, marks_used;

extern "C" int backend_cuda_mark(void) {
    if (!marks_created) {
        for (int i = 0; i < CUDA_MARKS_MAX; i++) CUDA_CHECK(cudaEventCreate(&marks[i]));
        marks_created = 1;
    }
    if (marks_used == CUDA_MARKS_MAX)
        tb_die("backend_cuda_mark: all %d timing marks are in use (clear them with "
               "backend_cuda_marks_clear() between measurements)",
               CUDA_MARKS_MAX);
    CUDA_CHECK(cudaEventRecord(marks[marks_used], cuda_stream()));
    return marks_used++;
}

extern "C" void backend_cuda_marks_clear(void) { marks_used = 0; }

extern "C" double backend_cuda_elapsed_ms(int from, int to) {
    if (from < 0 || to < 0 || from >= marks_used || to >= marks_used)
        tb_die("backend_cuda_elapsed_ms: marks %d and %d, but %d are recorded", from, to,
               marks_used);
    CUDA_CHECK(cudaEventSynchronize(marks[to]));
    float ms = 0.0f;
    CUDA_CHECK(cudaEventElapsedTime(&ms, marks[from], marks[to]));
    return ms;
}

// ---------------------------------------------------------------- op profile
static struct {
    int active;
    // The op whose call followed each mark (the names are string literals
    // in backend_hooks.c, alive for the whole program).
    const char *op_after_mark[CUDA_MARKS_MAX];
} profile;

static void profile_hook(const char *op, void *ctx) {
    (void)ctx;
    cuda_counters.backend_calls++;
    if (!profile.active) return;
    if (tb_streq(op, "graph_capture_begin"))
        tb_die("backend_cuda_profile: a graph capture began inside a profile (event marks "
               "cannot be timed inside a capture); profile training steps or prefills only");
    int mark = backend_cuda_mark();
    profile.op_after_mark[mark] = op;
}

extern "C" const Backend *backend_cuda_profiled(void) {
    const Backend *real = backend_cuda_get();
    return real ? backend_with_hooks(real, profile_hook, NULL) : NULL;
}

extern "C" int backend_cuda_op_class(const char *op) {
    if (!strncmp(op, "selective_scan_", 15)) return CUDA_OP_SCAN;
    if (!strncmp(op, "linear_", 7) || !strncmp(op, "attention_", 10)) return CUDA_OP_GEMM;
    return CUDA_OP_OTHER;
}

extern "C" const char *backend_cuda_op_class_name(int op_class) {
    static const char *names[CUDA_OP_CLASSES] = {"scan", "gemm", "other"};
    return op_class >= 0 && op_class < CUDA_OP_CLASSES ? names[op_class] : "?";
}

extern "C" void backend_cuda_profile_begin(void) {
    backend_cuda_marks_clear();
    profile.active = 1;
}

extern "C" void backend_cuda_profile_end(CudaOpProfile *out) {
    memset(out, 0, sizeof *out);
    if (!profile.active) tb_die("backend_cuda_profile_end without backend_cuda_profile_begin");
    profile.active = 0;
    int last = backend_cuda_mark();
    CUDA_CHECK(cudaEventSynchronize(marks[last]));
    for (int i = 0; i < last; i++) {
        const char *op = profile.op_after_mark[i];
        double ms = backend_cuda_elapsed_ms(i, i + 1);
        int k = 0;
        while (k < out->n_ops && !tb_streq(out->ops[k].name, op)) k++;
        if (k == out->n_ops) {
            if (k == CUDA_PROFILE_MAX_OPS)
                tb_die("backend_cuda_profile_end: more than %d distinct ops", CUDA_PROFILE_MAX_OPS);
            out->ops[out->n_ops++].name = op;
        }
        out->ops[k].calls++;
        out->ops[k].ms += ms;
        out->class_ms[backend_cuda_op_class(op)] += ms;
    }
    if (last > 0) out->total_ms = backend_cuda_elapsed_ms(0, last);
}
