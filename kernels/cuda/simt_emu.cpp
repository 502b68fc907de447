// simt_emu.cpp: the runtime behind simt_emu.h (see there for the model).
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

#include <cblas.h>
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
    if (smem) memset(dynamic_smem, 0xff, smem);  // NaN until written
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

// ---------------------------------------------------------------- runtime API
cudaError_t cudaMalloc(void **p, size_t bytes) {
    simt_forbid_in_capture("cudaMalloc");
    *p = malloc(bytes ? bytes : 1);
    return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
cudaError_t cudaFree(void *p) {
    simt_forbid_in_capture("cudaFree");
    free(p);
    return cudaSuccess;
}
cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind) {
    (void)kind;
    simt_forbid_in_capture("cudaMemcpy (synchronous)");
    if (bytes) memmove(dst, src, bytes);
    return cudaSuccess;
}
cudaError_t cudaMemset(void *p, int value, size_t bytes) {
    simt_forbid_in_capture("cudaMemset (synchronous)");
    if (bytes) memset(p, value, bytes);
    return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize(void) {
    simt_forbid_in_capture("cudaDeviceSynchronize");
    return cudaSuccess;
}
cudaError_t cudaGetLastError(void) { return cudaSuccess; }
cudaError_t cudaGetDeviceCount(int *count) {
    *count = 1;
    return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) { return device == 0 ? cudaSuccess : cudaErrorInvalidValue; }
const char *cudaGetErrorString(cudaError_t err) {
    switch (err) {
        case cudaSuccess: return "no error";
        case cudaErrorMemoryAllocation: return "out of memory";
        case cudaErrorNoDevice: return "no CUDA-capable device is detected";
        default: return "invalid value";
    }
}

// ---------------------------------------------------------------- cuBLAS subset
struct SimtCublas {
    cublasMath_t math_mode;
};

cublasStatus_t cublasCreate(cublasHandle_t *handle) {
    *handle = (cublasHandle_t)calloc(1, sizeof(struct SimtCublas));
    return *handle ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_INVALID_VALUE;
}
cublasStatus_t cublasDestroy(cublasHandle_t handle) {
    free(handle);
    return CUBLAS_STATUS_SUCCESS;
}
// TF32 changes the precision on a GPU; the emulation always computes in fp32.
cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) {
    handle->math_mode = mode;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasGetMathMode(cublasHandle_t handle, cublasMath_t *mode) {
    *mode = handle->math_mode;
    return CUBLAS_STATUS_SUCCESS;
}

static CBLAS_TRANSPOSE cblas_op(cublasOperation_t op) { return op == CUBLAS_OP_T ? CblasTrans : CblasNoTrans; }

// A strided-batched sgemm recorded during a capture, replayed as issued.
struct SgemmCall {
    cublasOperation_t ta, tb;
    int m, n, k;
    float alpha;
    const float *A;
    int lda;
    long long sA;
    const float *B;
    int ldb;
    long long sB;
    float beta;
    float *C;
    int ldc;
    long long sC;
    int batch;
    static void run(void *p) {
        SgemmCall *c = (SgemmCall *)p;
        for (int i = 0; i < c->batch; i++)
            cblas_sgemm(CblasColMajor, cblas_op(c->ta), cblas_op(c->tb), c->m, c->n, c->k,
                        c->alpha, c->A + i * c->sA, c->lda, c->B + i * c->sB, c->ldb, c->beta,
                        c->C + i * c->sC, c->ldc);
    }
    static void destroy(void *p) { delete (SgemmCall *)p; }
};

// cuBLAS checks the leading dimensions against the stored (not the
// transposed) shape; so does this, so a wrong ld fails here too.
static int gemm_args_valid(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                           int lda, int ldb, int ldc) {
    if (m < 0 || n < 0 || k < 0) return 0;
    int a_rows = ta == CUBLAS_OP_N ? m : k, b_rows = tb == CUBLAS_OP_N ? k : n;
    return lda >= (a_rows > 1 ? a_rows : 1) && ldb >= (b_rows > 1 ? b_rows : 1) &&
           ldc >= (m > 1 ? m : 1);
}

cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t stream) {
    (void)stream;
    return handle ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_INVALID_VALUE;
}
cublasStatus_t cublasSetWorkspace(cublasHandle_t handle, void *workspace, size_t bytes) {
    (void)workspace, (void)bytes;
    return handle ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_INVALID_VALUE;
}

cublasStatus_t cublasSgemm(cublasHandle_t handle, cublasOperation_t transa,
                           cublasOperation_t transb, int m, int n, int k, const float *alpha,
                           const float *A, int lda, const float *B, int ldb, const float *beta,
                           float *C, int ldc) {
    return cublasSgemmStridedBatched(handle, transa, transb, m, n, k, alpha, A, lda, 0, B, ldb, 0,
                                     beta, C, ldc, 0, 1);
}

cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t handle, cublasOperation_t transa,
                                         cublasOperation_t transb, int m, int n, int k,
                                         const float *alpha, const float *A, int lda,
                                         long long strideA, const float *B, int ldb,
                                         long long strideB, const float *beta, float *C, int ldc,
                                         long long strideC, int batch_count) {
    if (!handle || batch_count < 0 || !gemm_args_valid(transa, transb, m, n, k, lda, ldb, ldc))
        return CUBLAS_STATUS_INVALID_VALUE;
    if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
    if (simt_capturing()) {  // keep the call, with alpha and beta read now (host pointer mode)
        SgemmCall *c = new SgemmCall{transa, transb, m, n, k, *alpha, A, lda, strideA, B, ldb,
                                     strideB, *beta, C, ldc, strideC, batch_count};
        simt_record(&SgemmCall::run, &SgemmCall::destroy, c);
        return CUBLAS_STATUS_SUCCESS;
    }
    for (int i = 0; i < batch_count; i++)
        cblas_sgemm(CblasColMajor, cblas_op(transa), cblas_op(transb), m, n, k, *alpha,
                    A + i * strideA, lda, B + i * strideB, ldb, *beta, C + i * strideC, ldc);
    return CUBLAS_STATUS_SUCCESS;
}
