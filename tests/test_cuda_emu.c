// test_cuda_emu.c: the SIMT emulation that runs the CUDA kernels in `make
// test` is itself tested: barriers, lane exchanges, atomics, dynamic shared
// memory, the cuBLAS subset, and above all that a kernel missing its
// __syncthreads() is caught by at least one of the two scheduling orders,
// that shared memory starts as NaN in every block, that deferred mode holds
// work back until a synchronisation, and that an invalidated capture fails
// its calls without running them; and that an asynchronous copy (cp.async)
// read without its wait is caught in deferred mode, one that refills a buffer
// still being read in one of the two orders.
#include <math.h>
#include <stdlib.h>

#include "emu/simt_emu_api.h"
#include "test.h"

void emu_neighbour(int *out, int blocks, int threads, int seed, int with_barrier);
void emu_shuffles(int *out, int threads);
void emu_atomics(int *counter, int *maximum, int blocks, int threads);
void emu_reverse(float *data, int blocks, int threads);
void emu_block_sum(float *out, int blocks, int threads);
int emu_sgemm(int transa, int transb, int m, int n, int k, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc);
void emu_shared_poison(float *before, float *after, int blocks, int threads);
void emu_fill(float *x, float value, int blocks, int threads, int sync);
void emu_synchronize(void);
int emu_invalidated_capture(float *x, int n, int *graph_made);
void emu_async_copy(float *out, const float *in, int blocks, int threads, int mode);
void emu_async_reuse(float *out, const float *in, int threads, int with_barrier);
enum { ASYNC_WAIT_ALL, ASYNC_WAIT_FIRST, ASYNC_NO_WAIT, ASYNC_NO_COMMIT };  // emu_kernels.cu

static const char *order_name(int order) { return order == SIMT_FORWARD ? "forward" : "reversed"; }

// Returns the number of wrong outputs of the neighbour kernel.
static int neighbour_errors(int with_barrier, int seed) {
    enum { BLOCKS = 3, THREADS = 96 };
    int out[BLOCKS * THREADS];
    emu_neighbour(out, BLOCKS, THREADS, seed, with_barrier);
    int wrong = 0;
    for (int b = 0; b < BLOCKS; b++)
        for (int t = 0; t < THREADS; t++)
            wrong += out[b * THREADS + t] != seed + 1000 * b + (t + 1) % THREADS;
    return wrong;
}

static void test_barrier(void) {
    int caught = 0;
    for (int order = 0; order < 2; order++) {
        simt_set_schedule(order);
        CHECK(neighbour_errors(1, 7 + order) == 0, "kernel with __syncthreads wrong in %s order",
              order_name(order));
        int wrong = neighbour_errors(0, 50 + order);
        caught |= wrong > 0;
    }
    CHECK(caught, "the kernel without __syncthreads() gave the right answer in both orders");
    simt_set_schedule(SIMT_FORWARD);
}

static void test_shuffles(void) {
    enum { N = 64 };
    int out[5 * N];
    for (int order = 0; order < 2; order++) {
        simt_set_schedule(order);
        emu_shuffles(out, N);
        int bad = 0;
        for (int t = 0; t < N; t++) {
            int lane = t % 32, warp_base = t - lane;
            int down = lane + 3 < 32 ? t + 3 : t, up = lane >= 3 ? t - 3 : t;
            int idx = warp_base + (lane & ~15) + 7;
            int sum = 0;
            for (int l = 0; l < 32; l++) sum += 100 + warp_base + l;
            bad += out[0 * N + t] != 100 + (warp_base + (lane ^ 5));
            bad += out[1 * N + t] != 100 + down;
            bad += out[2 * N + t] != 100 + up;
            bad += out[3 * N + t] != 100 + idx;
            bad += out[4 * N + t] != sum;
        }
        CHECK(bad == 0, "%d wrong shuffle results in %s order", bad, order_name(order));
    }
    simt_set_schedule(SIMT_FORWARD);
}

static void test_atomics(void) {
    int counter = 0, maximum = -1;
    emu_atomics(&counter, &maximum, 5, 70);
    CHECK(counter == 350, "atomicAdd counted %d of 350 threads", counter);
    CHECK(maximum == 349, "atomicMax gave %d, expected 349", maximum);
}

static void test_dynamic_shared_and_block_sum(void) {
    enum { BLOCKS = 2, THREADS = 128 };
    float data[BLOCKS * THREADS], sums[BLOCKS * THREADS];
    for (int order = 0; order < 2; order++) {
        simt_set_schedule(order);
        for (int i = 0; i < BLOCKS * THREADS; i++) data[i] = (float)i;
        emu_reverse(data, BLOCKS, THREADS);
        int bad = 0;
        for (int b = 0; b < BLOCKS; b++)
            for (int t = 0; t < THREADS; t++) bad += data[b * THREADS + t] != (float)(b * THREADS + THREADS - 1 - t);
        CHECK(bad == 0, "dynamic shared memory reverse: %d wrong (%s)", bad, order_name(order));
        emu_block_sum(sums, BLOCKS, THREADS);
        bad = 0;
        for (int i = 0; i < BLOCKS * THREADS; i++) bad += sums[i] != THREADS * (THREADS + 1) / 2.0f;
        CHECK(bad == 0, "block_sum: %d wrong (%s)", bad, order_name(order));
    }
    simt_set_schedule(SIMT_FORWARD);
}

// cublasSgemm must keep the column-major convention: element (i, j) of a
// column-major matrix with leading dimension ld is at [i + j * ld].
static void test_sgemm(void) {
    enum { M = 5, N = 4, K = 3, LD = 7 };
    float A[LD * 7], B[LD * 7], C[LD * 7], ref[LD * 7];
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            for (int i = 0; i < LD * 7; i++) {
                A[i] = (float)((i * 7) % 11) - 5.0f;
                B[i] = (float)((i * 5) % 13) - 6.0f;
                C[i] = ref[i] = (float)(i % 3);
            }
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++) {
                    float s = 0.0f;
                    for (int p = 0; p < K; p++) {
                        float a = ta ? A[p + i * LD] : A[i + p * LD];
                        float b = tb ? B[j + p * LD] : B[p + j * LD];
                        s += a * b;
                    }
                    ref[i + j * LD] = s + 0.5f * ref[i + j * LD];
                }
            CHECK(emu_sgemm(ta, tb, M, N, K, A, LD, B, LD, 0.5f, C, LD) == 0, "sgemm failed");
            char what[64];
            snprintf(what, sizeof what, "sgemm transa=%d transb=%d", ta, tb);
            check_close(what, C, ref, LD * 7, 1e-5f, 1e-5f);
        }
    // A leading dimension smaller than the stored rows is rejected, as cuBLAS does.
    CHECK(emu_sgemm(0, 0, M, N, K, A, M - 1, B, LD, 0.0f, C, LD) != 0, "lda < m accepted");
}

// A read before the block's own write sees NaN, in the first block and in
// every later one (nothing persists from the block before).
static void test_shared_poison(void) {
    enum { BLOCKS = 3, THREADS = 64 };
    float before[BLOCKS * THREADS], after[BLOCKS * THREADS];
    emu_shared_poison(before, after, BLOCKS, THREADS);
    int bad = 0;
    for (int i = 0; i < BLOCKS * THREADS; i++)
        bad += !isnan(before[i]) + (i < THREADS ? after[i] != 1.0f : !isnan(after[i]));
    CHECK(bad == 0, "shared memory: %d reads were not NaN before the block wrote (or lost its write)",
          bad);
}

// Deferred mode: work waits for the next synchronisation, so a read that
// misses it sees memory from before.
static void test_deferred(void) {
    enum { N = 64 };
    float x[N];
    int was = simt_get_deferred();
    simt_set_deferred(1);
    for (int i = 0; i < N; i++) x[i] = 0.0f;
    emu_fill(x, 3.0f, 2, N / 2, 0);
    CHECK(x[0] == 0.0f && x[N - 1] == 0.0f, "deferred mode ran a launch before any synchronisation");
    emu_synchronize();
    CHECK(x[0] == 3.0f && x[N - 1] == 3.0f, "the synchronisation did not run the deferred launch");
    emu_fill(x, 4.0f, 2, N / 2, 1);
    CHECK(x[0] == 4.0f, "a launch followed by its synchronisation did not run");
    simt_set_deferred(0);
    emu_fill(x, 6.0f, 2, N / 2, 0);
    CHECK(x[0] == 6.0f, "with deferred mode off a launch did not run at once");
    simt_set_deferred(was);
}

static void test_invalidated_capture(void) {
    enum { N = 32 };
    float x[N];
    for (int i = 0; i < N; i++) x[i] = 0.0f;
    int graph_made = 1;
    int failed = emu_invalidated_capture(x, N, &graph_made);
    emu_synchronize();
    CHECK(failed && !graph_made && x[0] == 0.0f,
          "an invalidated capture: launch error %s, graph %s, work %s", failed ? "reported" : "missing",
          graph_made ? "made" : "refused", x[0] == 0.0f ? "dropped" : "ran");
}

// Counts the wrong elements of emu_async_copy's two outputs: the first
// group's, and the second's (every fourth thread's all zero-fill). A group
// expected missing must read NaN everywhere (the poison).
static void async_copy_errors(int mode, int second_lands, int *bad_first, int *bad_second) {
    enum { BLOCKS = 2, THREADS = 64, N = BLOCKS * THREADS };
    float in[N], out[2 * N];
    for (int i = 0; i < N; i++) in[i] = 1.0f + (float)i;
    emu_async_copy(out, in, BLOCKS, THREADS, mode);
    *bad_first = *bad_second = 0;
    for (int b = 0; b < BLOCKS; b++)
        for (int t = 0; t < THREADS; t++) {
            int i = b * THREADS + t, right = (t + 1) % THREADS, src = b * THREADS + right;
            float second = right % 4 == 0 ? 0.0f : in[src];
            *bad_first += out[i] != in[src];
            *bad_second += second_lands ? out[N + i] != second : !isnan(out[N + i]);
        }
}

static void test_async_copies(void) {
    int was = simt_get_async_copies_late(), bad1, bad2;
    for (int late = 0; late < 2; late++) {
        simt_set_async_copies_late(late);
        const char *when = late ? "landing at the wait" : "landing at the issue";
        for (int order = 0; order < 2; order++) {
            simt_set_schedule(order);
            async_copy_errors(ASYNC_WAIT_ALL, 1, &bad1, &bad2);
            CHECK(bad1 + bad2 == 0, "cp.async, both groups waited for: %d + %d wrong (%s, %s order)", bad1, bad2,
                  when, order_name(order));
            async_copy_errors(ASYNC_WAIT_FIRST, !late, &bad1, &bad2);
            CHECK(bad1 == 0 && bad2 == 0,
                  "cp.async, wait_prior(1): %d wrong in the first group, %d in the second, which %s (%s, %s order)",
                  bad1, bad2, late ? "must still be poison" : "landed at its issue", when, order_name(order));
            async_copy_errors(ASYNC_NO_WAIT, !late, &bad1, &bad2);
            CHECK(late ? bad1 == 2 * 64 && bad2 == 0 : bad1 + bad2 == 0,
                  "cp.async without a wait: %d + %d reads differ from %s (%s, %s order)", bad1, bad2,
                  late ? "the poison" : "the copies", when, order_name(order));
            async_copy_errors(ASYNC_NO_COMMIT, !late, &bad1, &bad2);
            CHECK(late ? bad1 == 2 * 64 && bad2 == 0 : bad1 + bad2 == 0,
                  "cp.async never committed, then wait_prior(0): %d + %d reads differ from %s (%s, %s order)",
                  bad1, bad2, late ? "the poison" : "the copies", when, order_name(order));
        }
        // Refilling a buffer that another thread still reads.
        enum { THREADS = 64 };
        float in[THREADS], out[THREADS];
        for (int i = 0; i < THREADS; i++) in[i] = -1.0f;
        int caught = 0;
        for (int order = 0; order < 2; order++) {
            simt_set_schedule(order);
            for (int with_barrier = 1; with_barrier >= 0; with_barrier--) {
                emu_async_reuse(out, in, THREADS, with_barrier);
                int wrong = 0;
                for (int t = 0; t < THREADS; t++) wrong += out[t] != (float)((t + 1) % THREADS);
                if (with_barrier)
                    CHECK(wrong == 0, "cp.async after a barrier: %d wrong reads (%s, %s order)", wrong, when,
                          order_name(order));
                else caught |= wrong > 0;
            }
        }
        CHECK(caught, "cp.async into a buffer still being read, without the barrier, was right in both orders (%s)",
              when);
    }
    simt_set_async_copies_late(was);
    simt_set_schedule(SIMT_FORWARD);
}

int main(void) {
    unsigned long long switches = simt_switch_count();
    test_shared_poison();
    test_deferred();
    test_invalidated_capture();
    test_async_copies();
    test_barrier();
    test_shuffles();
    test_atomics();
    test_dynamic_shared_and_block_sum();
    test_sgemm();
    CHECK(simt_switch_count() > switches, "no fiber switches happened");
    return test_summary("test_cuda_emu");
}
