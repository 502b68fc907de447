// simt_stream.cpp: the stream, its deferred queue and its graphs (see
// simt_stream.h).
#include "simt_stream.h"

#include <stdio.h>
#include <stdlib.h>

#include "simt_emu_api.h"

typedef struct {
    SimtWorkFn run, destroy;
    void *ctx;
} Work;

typedef struct {
    Work *items;
    int count, capacity;
} WorkList;

struct SimtGraph {
    WorkList work;
    int refs;  // the graph, each executable made from it, and each queued replay
    int invalid;
};

static SimtGraph *capturing;
static int invalidate_next;
static WorkList queue;  // deferred mode: issued, not yet run
static int deferred = -1;  // -1: not yet read from SIMT_DEFERRED

static void stream_fail(const char *what) {
    fprintf(stderr, "simt emulation: %s\n", what);
    abort();
}

static void list_push(WorkList *l, Work w) {
    if (l->count == l->capacity) {
        l->capacity = l->capacity ? 2 * l->capacity : 64;
        l->items = (Work *)realloc(l->items, (size_t)l->capacity * sizeof(Work));
        if (!l->items) stream_fail("out of memory keeping stream work");
    }
    l->items[l->count++] = w;
}

void simt_set_deferred(int on) {
    if (on == 0 && deferred == 1) simt_stream_synchronize("simt_set_deferred");
    deferred = on != 0;
}
int simt_get_deferred(void) {
    if (deferred < 0) {
        const char *env = getenv("SIMT_DEFERRED");
        deferred = env && env[0] == '1';
    }
    return deferred;
}

int simt_capturing(void) { return capturing != NULL; }

void simt_forbid_in_capture(const char *what) {
    if (!capturing) return;
    char msg[160];
    snprintf(msg, sizeof msg, "%s during a stream capture (a GPU invalidates the capture)", what);
    stream_fail(msg);
}

int simt_stream_keeps(void) { return capturing || simt_get_deferred(); }

void simt_invalidate_next_capture(void) { invalidate_next = 1; }

int simt_stream_keep(SimtWorkFn run, SimtWorkFn destroy, void *ctx) {
    if (capturing && invalidate_next) capturing->invalid = 1, invalidate_next = 0;
    if (capturing && capturing->invalid) {
        destroy(ctx);
        return -1;
    }
    list_push(capturing ? &capturing->work : &queue, (Work){run, destroy, ctx});
    return 0;
}

void simt_stream_synchronize(const char *what) {
    simt_forbid_in_capture(what);
    // Work run from the queue may issue more (a graph replay): it runs now,
    // as it is issued after the queue is taken.
    WorkList pending = queue;
    queue = (WorkList){NULL, 0, 0};
    int was = deferred;
    deferred = 0;
    for (int i = 0; i < pending.count; i++) {
        pending.items[i].run(pending.items[i].ctx);
        pending.items[i].destroy(pending.items[i].ctx);
    }
    deferred = was;
    free(pending.items);
}

int simt_capture_begin(void) {
    if (capturing) return -1;
    capturing = (SimtGraph *)calloc(1, sizeof(SimtGraph));
    if (!capturing) stream_fail("out of memory opening a capture");
    capturing->refs = 1;
    return 0;
}

SimtGraph *simt_capture_end(void) {
    SimtGraph *g = capturing;
    capturing = NULL;
    if (g && g->invalid) simt_graph_release(g), g = NULL;
    return g;
}

void simt_graph_retain(SimtGraph *g) { g->refs++; }

void simt_graph_release(SimtGraph *g) {
    if (!g || --g->refs > 0) return;
    for (int i = 0; i < g->work.count; i++) g->work.items[i].destroy(g->work.items[i].ctx);
    free(g->work.items);
    free(g);
}

static void graph_run(void *p) {
    SimtGraph *g = (SimtGraph *)p;
    for (int i = 0; i < g->work.count; i++) g->work.items[i].run(g->work.items[i].ctx);
}
static void graph_unref(void *p) { simt_graph_release((SimtGraph *)p); }

void simt_graph_issue(SimtGraph *g) {
    if (capturing) stream_fail("a graph launched during a capture (not supported here)");
    if (!simt_stream_keeps()) {
        graph_run(g);
        return;
    }
    simt_graph_retain(g);
    simt_stream_keep(graph_run, graph_unref, g);
}
