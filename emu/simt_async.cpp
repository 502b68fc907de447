// simt_async.cpp: cp.async, the asynchronous copies from global to shared
// memory of cuda_pipeline_primitives.h (see simt_emu.h for what a kernel sees).
//
// Each thread of the block keeps the copies it has issued and not yet seen
// land, each tagged with its commit group: the number of __pipeline_commit()
// calls the thread had made before it. __pipeline_wait_prior(n) lands, in
// issue order, every copy of a committed group but the n most recent ones;
// copies of the group still open (not committed) never land at a wait, as on
// a GPU, where cp.async.wait_group covers committed groups only. Copies a
// thread leaves behind when the block ends are dropped: nothing could read
// them in order.
#include "simt_emu.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct {
    unsigned char *dst;
    const unsigned char *src;
    unsigned bytes, zfill, group;
} AsyncCopy;

typedef struct {
    AsyncCopy *items;
    int count, capacity;
    unsigned committed;  // groups committed so far; the open group's tag
} ThreadCopies;

enum { MAX_THREADS = 1024 };
static ThreadCopies copies[MAX_THREADS];
static int late = -1;  // -1: not yet read from SIMT_DEFERRED

static void async_fail(const char *what) {
    fprintf(stderr, "simt emulation: %s\n", what);
    abort();
}

void simt_set_async_copies_late(int on) { late = on != 0; }
int simt_get_async_copies_late(void) {
    if (late < 0) {
        const char *env = getenv("SIMT_DEFERRED");
        late = env && env[0] == '1';
    }
    return late;
}

void simt_async_block_start(int threads) {
    for (int i = 0; i < threads && i < MAX_THREADS; i++) copies[i].count = 0, copies[i].committed = 0;
}

static void land(const AsyncCopy *c) {
    memcpy(c->dst, c->src, c->bytes - c->zfill);
    memset(c->dst + (c->bytes - c->zfill), 0, c->zfill);
}

void __pipeline_memcpy_async(void *dst_shared, const void *src_global, size_t size_and_align, size_t zfill) {
    if (size_and_align != 4 && size_and_align != 8 && size_and_align != 16)
        async_fail("__pipeline_memcpy_async: the size must be 4, 8 or 16 bytes");
    if (zfill > size_and_align) async_fail("__pipeline_memcpy_async: zfill is larger than the copy");
    if ((uintptr_t)dst_shared % size_and_align || (uintptr_t)src_global % size_and_align)
        async_fail("__pipeline_memcpy_async: source or destination not aligned to the copy's size");
    if (!simt_is_shared(dst_shared, size_and_align))
        async_fail("__pipeline_memcpy_async: the destination is not in the block's shared memory");
    if (simt_is_shared(src_global, 1))
        async_fail("__pipeline_memcpy_async: the source is shared memory, not global");
    ThreadCopies *t = &copies[simt_thread_rank()];
    AsyncCopy c = {(unsigned char *)dst_shared, (const unsigned char *)src_global, (unsigned)size_and_align,
                   (unsigned)zfill, t->committed};
    if (!simt_get_async_copies_late()) {
        land(&c);
        return;
    }
    if (t->count == t->capacity) {
        t->capacity = t->capacity ? 2 * t->capacity : 32;
        t->items = (AsyncCopy *)realloc(t->items, (size_t)t->capacity * sizeof(AsyncCopy));
        if (!t->items) async_fail("out of memory keeping asynchronous copies");
    }
    t->items[t->count++] = c;
}

void __pipeline_commit(void) { copies[simt_thread_rank()].committed++; }

void __pipeline_wait_prior(size_t prior) {
    ThreadCopies *t = &copies[simt_thread_rank()];
    // Groups with a tag below `upto` are complete after the wait.
    unsigned upto = t->committed > prior ? t->committed - (unsigned)prior : 0;
    int kept = 0;
    for (int i = 0; i < t->count; i++) {
        if (t->items[i].group < upto) land(&t->items[i]);
        else t->items[kept++] = t->items[i];
    }
    t->count = kept;
}
