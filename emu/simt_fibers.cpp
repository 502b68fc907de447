// simt_fibers.cpp: the threads of a kernel (see simt_emu.h for the model).
//
// One block at a time: every thread of the block is a fiber (ucontext) with
// its own stack. The scheduler resumes each runnable fiber in the chosen
// order; a fiber runs until it waits at a barrier or returns. When nothing is
// runnable, the scheduler releases a barrier whose members have all arrived:
// first any warp whose live lanes all wait at a warp barrier (a shuffle), then
// the block barrier when every live thread waits there. If neither can be
// released the kernel has diverged around a barrier, which is a bug on a real
// GPU as well, and the emulation stops with a message.
#include "simt_emu.h"

#include <stdio.h>
#include <stdlib.h>
#include <ucontext.h>

// Context switches. On x86-64 a fiber switch is six pushes, a stack swap and
// six pops (below); ucontext's swapcontext also saves the signal mask with a
// system call each time, which made the emulated tests several times slower.
// ucontext stays as the portable fallback, and under AddressSanitizer, which
// understands it.
#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#define SIMT_ASM_SWITCH 1
// Saves the callee-saved registers on the current stack, stores the stack
// pointer in *save_sp, and resumes the context whose stack pointer is load_sp.
extern "C" void simt_switch(void **save_sp, void *load_sp);
__asm__(
    ".text\n"
    ".globl simt_switch\n"
    ".type simt_switch,@function\n"
    "simt_switch:\n"
    "  pushq %rbp\n  pushq %rbx\n  pushq %r12\n  pushq %r13\n  pushq %r14\n  pushq %r15\n"
    "  movq %rsp, (%rdi)\n"
    "  movq %rsi, %rsp\n"
    "  popq %r15\n  popq %r14\n  popq %r13\n  popq %r12\n  popq %rbx\n  popq %rbp\n"
    "  ret\n"
    ".size simt_switch,.-simt_switch\n");
#else
#define SIMT_ASM_SWITCH 0
#endif

enum { FIBER_RUNNABLE, FIBER_AT_BLOCK_BARRIER, FIBER_AT_WARP_BARRIER, FIBER_DONE };

typedef struct {
#if SIMT_ASM_SWITCH
    void *sp;
#else
    ucontext_t context;
#endif
    SimtCoords coords;
    int state;
    unsigned lane, warp;
    char *stack;
} Fiber;

enum { FIBER_STACK_BYTES = 128 * 1024, MAX_BLOCK_THREADS = 1024,
       MAX_DYNAMIC_SMEM = 227 * 1024 };

SimtCoords *simt_self;
static Fiber *fibers;         // MAX_BLOCK_THREADS, stacks allocated on first use
static Fiber *running;        // the fiber being resumed now, NULL on the host
static int fiber_count;
#if SIMT_ASM_SWITCH
static void *scheduler_sp;
#else
static ucontext_t scheduler_context;
#endif
static SimtThunk kernel_fn;
static void *kernel_ctx;
static int schedule_order = SIMT_FORWARD;
static unsigned long long switch_count;
static unsigned char *dynamic_smem;
// One exchange slot per thread of the block; lanes of a warp are contiguous.
static uint64_t exchange_slot[MAX_BLOCK_THREADS];
static const uint64_t POISON_BITS = 0x7fc00bad7fc00badull;  // NaN in both halves

static void simt_fail(const char *what) {
    fprintf(stderr, "simt emulation: %s\n", what);
    abort();
}

void simt_set_schedule(int order) { schedule_order = order == SIMT_REVERSED ? SIMT_REVERSED : SIMT_FORWARD; }
int simt_get_schedule(void) { return schedule_order; }
unsigned long long simt_switch_count(void) { return switch_count; }

// The static shared arrays met so far (SHARED), poisoned at every block start.
typedef struct {
    void *p;
    size_t bytes;
} SharedArray;
static SharedArray *shared_arrays;
static int shared_count, shared_capacity;

int simt_shared_register(void *p, size_t bytes) {
    if (shared_count == shared_capacity) {
        shared_capacity = shared_capacity ? 2 * shared_capacity : 64;
        shared_arrays = (SharedArray *)realloc(shared_arrays, (size_t)shared_capacity * sizeof *shared_arrays);
        if (!shared_arrays) simt_fail("out of memory registering shared memory");
    }
    shared_arrays[shared_count++] = (SharedArray){p, bytes};
    memset(p, 0xff, bytes);
    return 1;
}

int simt_is_shared(const void *p, size_t bytes) {
    static int last;  // the array found last time: a kernel copies into a few, many times
    const unsigned char *lo = (const unsigned char *)p, *hi = lo + bytes;
    if (dynamic_smem && lo >= dynamic_smem && hi <= dynamic_smem + MAX_DYNAMIC_SMEM) return 1;
    for (int k = 0; k < shared_count; k++) {
        int i = (last + k) % shared_count;
        const unsigned char *base = (const unsigned char *)shared_arrays[i].p;
        if (lo >= base && hi <= base + shared_arrays[i].bytes) return last = i, 1;
    }
    return 0;
}

int simt_thread_rank(void) {
    if (!running) simt_fail("an asynchronous copy or wait outside a kernel");
    return (int)(running - fibers);
}

void *simt_dynamic_shared(void) {
    if (!running) simt_fail("dynamic shared memory used outside a kernel");
    return dynamic_smem;
}

// From a fiber back to the scheduler.
static void fiber_yield(void) {
    switch_count++;
#if SIMT_ASM_SWITCH
    simt_switch(&running->sp, scheduler_sp);
#else
    swapcontext(&running->context, &scheduler_context);
#endif
}

static void wait_at(int state) {
    if (!running) simt_fail("a barrier or shuffle was called outside a kernel");
    running->state = state;
    fiber_yield();
}

void __syncthreads(void) { wait_at(FIBER_AT_BLOCK_BARRIER); }
void __syncwarp(unsigned mask) {
    (void)mask;
    wait_at(FIBER_AT_WARP_BARRIER);
}
unsigned simt_lane_id(void) {
    if (!running) simt_fail("lane id asked outside a kernel");
    return running->lane;
}

uint64_t simt_warp_exchange(uint64_t bits, int src_lane) {
    if (src_lane < 0 || src_lane > 31) simt_fail("shuffle source lane out of range");
    int self = (int)(running - fibers);
    exchange_slot[self] = bits;
    wait_at(FIBER_AT_WARP_BARRIER);
    int src = (int)running->warp * 32 + src_lane;
    uint64_t got = src < fiber_count ? exchange_slot[src] : POISON_BITS;
    wait_at(FIBER_AT_WARP_BARRIER);
    exchange_slot[self] = POISON_BITS;  // a lane that has left reads as NaN
    return got;
}

static void fiber_main(void) {
    kernel_fn(kernel_ctx);
    running->state = FIBER_DONE;
    fiber_yield();
    simt_fail("a finished thread was resumed");
}

// A fresh context that starts in fiber_main on f's stack.
static void fiber_prepare(Fiber *f) {
#if SIMT_ASM_SWITCH
    // The stack as simt_switch will pop it: six saved registers, then the
    // address `ret` jumps to, then a dummy return address, so that
    // fiber_main starts with the stack aligned as after a call.
    uintptr_t top = ((uintptr_t)f->stack + FIBER_STACK_BYTES) & ~(uintptr_t)15;
    void **sp = (void **)top;
    *--sp = NULL;
    *--sp = (void *)fiber_main;
    for (int i = 0; i < 6; i++) *--sp = NULL;
    f->sp = sp;
#else
    getcontext(&f->context);
    f->context.uc_stack.ss_sp = f->stack;
    f->context.uc_stack.ss_size = FIBER_STACK_BYTES;
    f->context.uc_link = NULL;
    makecontext(&f->context, fiber_main, 0);
#endif
}

static void fiber_resume(Fiber *f) {
#if SIMT_ASM_SWITCH
    simt_switch(&scheduler_sp, f->sp);
#else
    swapcontext(&scheduler_context, &f->context);
#endif
}

// Releases the warps whose live lanes all wait at a warp barrier; if there
// is none, the block barrier when every live thread waits at it. Returns
// whether anything was released.
static int release_barriers(void) {
    int released = 0;
    for (int w = 0; w * 32 < fiber_count; w++) {
        int lo = w * 32, hi = lo + 32 < fiber_count ? lo + 32 : fiber_count;
        int waiting = 0, live = 0;
        for (int i = lo; i < hi; i++) {
            if (fibers[i].state == FIBER_DONE) continue;
            live++;
            waiting += fibers[i].state == FIBER_AT_WARP_BARRIER;
        }
        if (waiting > 0 && waiting == live) {
            for (int i = lo; i < hi; i++)
                if (fibers[i].state == FIBER_AT_WARP_BARRIER) fibers[i].state = FIBER_RUNNABLE;
            released = 1;
        }
    }
    if (released) return 1;
    int live = 0, waiting = 0;
    for (int i = 0; i < fiber_count; i++) {
        if (fibers[i].state == FIBER_DONE) continue;
        live++;
        waiting += fibers[i].state == FIBER_AT_BLOCK_BARRIER;
    }
    if (live == 0) return 0;
    if (waiting != live)
        simt_fail("deadlock: some threads wait at __syncthreads() while others of the block "
                  "wait in a warp shuffle (a barrier inside divergent code)");
    for (int i = 0; i < fiber_count; i++)
        if (fibers[i].state == FIBER_AT_BLOCK_BARRIER) fibers[i].state = FIBER_RUNNABLE;
    return 1;
}

static void run_block(dim3 grid, dim3 block, dim3 block_idx, size_t smem) {
    int n = fiber_count;
    for (int i = 0; i < n; i++) {
        Fiber *f = &fibers[i];
        if (!f->stack) f->stack = (char *)malloc(FIBER_STACK_BYTES);
        if (!f->stack) simt_fail("out of memory for fiber stacks");
        f->coords.thread_idx = dim3(i % block.x, (i / block.x) % block.y, i / (block.x * block.y));
        f->coords.block_idx = block_idx;
        f->coords.block_dim = block;
        f->coords.grid_dim = grid;
        f->state = FIBER_RUNNABLE;
        f->lane = (unsigned)i % 32;
        f->warp = (unsigned)i / 32;
        exchange_slot[i] = POISON_BITS;
        fiber_prepare(f);
    }
    // Shared memory holds NaN bytes until the block writes it, and no
    // asynchronous copy of the block before is left to land in it.
    simt_async_block_start(n);
    if (smem) memset(dynamic_smem, 0xff, smem);
    for (int i = 0; i < shared_count; i++) memset(shared_arrays[i].p, 0xff, shared_arrays[i].bytes);
    for (;;) {
        for (int k = 0; k < n; k++) {
            int i = schedule_order == SIMT_REVERSED ? n - 1 - k : k;
            if (fibers[i].state != FIBER_RUNNABLE) continue;
            running = &fibers[i];
            simt_self = &fibers[i].coords;
            fiber_resume(&fibers[i]);
        }
        running = NULL;
        simt_self = NULL;
        if (!release_barriers()) break;
    }
}

void simt_run_grid(dim3 grid, dim3 block, size_t smem, SimtThunk fn, void *ctx) {
    size_t threads = (size_t)block.x * block.y * block.z;
    if (threads == 0 || threads > MAX_BLOCK_THREADS || grid.x == 0 || grid.y == 0 ||
        grid.z == 0 || grid.y > 65535 || grid.z > 65535)
        simt_fail("invalid launch configuration (a block of 1..1024 threads, a non-empty grid)");
    if (smem > MAX_DYNAMIC_SMEM) simt_fail("more dynamic shared memory than a GPU block can have");
    if (running) simt_fail("a kernel launched from inside a kernel");
    if (!fibers) fibers = (Fiber *)calloc(MAX_BLOCK_THREADS, sizeof(Fiber));
    if (!dynamic_smem) dynamic_smem = (unsigned char *)malloc(MAX_DYNAMIC_SMEM);
    if (!fibers || !dynamic_smem) simt_fail("out of memory");
    fiber_count = (int)threads;
    kernel_fn = fn;
    kernel_ctx = ctx;
    for (unsigned z = 0; z < grid.z; z++)
        for (unsigned y = 0; y < grid.y; y++)
            for (unsigned x = 0; x < grid.x; x++) run_block(grid, block, dim3(x, y, z), smem);
}
