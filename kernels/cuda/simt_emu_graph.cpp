// simt_emu_graph.cpp: streams, stream capture and graphs for the SIMT
// emulation (see simt_emu.h).
//
// Work runs when it is issued, so a stream is only a name and synchronising
// is a no-op. A capture turns issuing into recording: each launch, cuBLAS
// call and async copy appends (run, destroy, ctx) to the open graph, and
// nothing runs. A launched graph runs its records in order. As on a GPU, the
// kernels' arguments (pointers and values) are those of the capture.
#include <stdio.h>
#include <stdlib.h>

#include "simt_emu.h"

typedef struct {
    SimtRecordedFn run, destroy;
    void *ctx;
} Record;

struct SimtGraph {
    Record *records;
    int count, capacity;
    int refs;  // the graph and each executable made from it
};
struct SimtStream {
    int unused;
};

static SimtGraph *capturing;

static void graph_fail(const char *what) {
    fprintf(stderr, "simt emulation: %s\n", what);
    abort();
}

int simt_capturing(void) { return capturing != NULL; }

void simt_forbid_in_capture(const char *what) {
    if (!capturing) return;
    char msg[160];
    snprintf(msg, sizeof msg, "%s during a stream capture (a GPU invalidates the capture)", what);
    graph_fail(msg);
}

void simt_record(SimtRecordedFn run, SimtRecordedFn destroy, void *ctx) {
    SimtGraph *g = capturing;
    if (g->count == g->capacity) {
        g->capacity = g->capacity ? 2 * g->capacity : 64;
        g->records = (Record *)realloc(g->records, (size_t)g->capacity * sizeof(Record));
        if (!g->records) graph_fail("out of memory recording a graph");
    }
    g->records[g->count++] = (Record){run, destroy, ctx};
}

static void graph_release(SimtGraph *g) {
    if (!g || --g->refs > 0) return;
    for (int i = 0; i < g->count; i++) g->records[i].destroy(g->records[i].ctx);
    free(g->records);
    free(g);
}

cudaError_t cudaStreamCreate(cudaStream_t *stream) {
    *stream = (cudaStream_t)calloc(1, sizeof(struct SimtStream));
    return *stream ? cudaSuccess : cudaErrorMemoryAllocation;
}
cudaError_t cudaStreamDestroy(cudaStream_t stream) {
    free(stream);
    return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
    (void)stream;
    simt_forbid_in_capture("cudaStreamSynchronize");
    return cudaSuccess;
}

// ---------------------------------------------------------------- async copies
typedef struct {
    char *dst;
    const char *src;
    size_t dpitch, spitch, width, height;
    int value, is_set;
} CopyCall;

static void copy_run(void *p) {
    CopyCall *c = (CopyCall *)p;
    for (size_t r = 0; r < c->height; r++) {
        if (c->is_set) memset(c->dst + r * c->dpitch, c->value, c->width);
        else memmove(c->dst + r * c->dpitch, c->src + r * c->spitch, c->width);
    }
}
static void copy_destroy(void *p) { free(p); }

static cudaError_t issue_copy(CopyCall c) {
    if (!capturing) {
        copy_run(&c);
        return cudaSuccess;
    }
    CopyCall *kept = (CopyCall *)malloc(sizeof c);
    if (!kept) return cudaErrorMemoryAllocation;
    *kept = c;
    simt_record(copy_run, copy_destroy, kept);
    return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream) {
    (void)kind, (void)stream;
    return issue_copy((CopyCall){(char *)dst, (const char *)src, bytes, bytes, bytes, 1, 0, 0});
}
cudaError_t cudaMemcpy2DAsync(void *dst, size_t dpitch, const void *src, size_t spitch,
                              size_t width, size_t height, cudaMemcpyKind kind,
                              cudaStream_t stream) {
    (void)kind, (void)stream;
    if (width > dpitch || width > spitch) return cudaErrorInvalidValue;
    return issue_copy((CopyCall){(char *)dst, (const char *)src, dpitch, spitch, width, height, 0, 0});
}
cudaError_t cudaMemsetAsync(void *p, int value, size_t bytes, cudaStream_t stream) {
    (void)stream;
    return issue_copy((CopyCall){(char *)p, NULL, bytes, bytes, bytes, 1, value, 1});
}

// ---------------------------------------------------------------- capture and graphs
cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode mode) {
    (void)stream, (void)mode;
    if (capturing) return cudaErrorInvalidValue;
    capturing = (SimtGraph *)calloc(1, sizeof(SimtGraph));
    if (!capturing) return cudaErrorMemoryAllocation;
    capturing->refs = 1;
    return cudaSuccess;
}
cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t *graph) {
    (void)stream;
    if (!capturing) return cudaErrorInvalidValue;
    *graph = capturing;
    capturing = NULL;
    return cudaSuccess;
}
cudaError_t cudaGraphInstantiate(cudaGraphExec_t *exec, cudaGraph_t graph,
                                 unsigned long long flags) {
    (void)flags;
    if (!graph) return cudaErrorInvalidValue;
    graph->refs++;
    *exec = graph;
    return cudaSuccess;
}
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream) {
    (void)stream;
    if (!exec) return cudaErrorInvalidValue;
    if (capturing) graph_fail("a graph launched during a capture (not supported here)");
    for (int i = 0; i < exec->count; i++) exec->records[i].run(exec->records[i].ctx);
    return cudaSuccess;
}
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
    graph_release(exec);
    return cudaSuccess;
}
cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
    graph_release(graph);
    return cudaSuccess;
}
