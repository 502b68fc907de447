// test_dist_buckets.c: what data-parallel training's reduction relies on,
// without MPI (tests/test_dist.sh runs the ranks):
// - the buckets (src/runner/dist_buckets.h): contiguous, descending, each
//   but the last at least min_floats, together the whole buffer once, for
//   any sequence of promises;
// - every registered architecture keeps its backward's promise
//   (model_grads_final): a gradient it calls final is not written again;
// - the GPU each rank of a node drives (dist_gpu_for_rank).
#include <stdint.h>

#include "lib/common.h"
#include "models/model.h"
#include "src/runner/dist.h"
#include "src/runner/dist_buckets.h"
#include "test.h"

// ---------------------------------------------------------------- buckets

static void test_buckets_example(void) {
    DistBuckets b;
    size_t lo = 0, hi = 0;
    dist_buckets_init(&b, 100);
    CHECK(b.min_floats == 7, "100 floats in %d buckets: min_floats %zu, expected 7", DIST_BUCKETS_PER_BACKWARD,
          b.min_floats);
    dist_buckets_begin(&b);
    CHECK(dist_buckets_final(&b, 90, &lo, &hi) == 1 && lo == 90 && hi == 100, "10 final floats: [%zu, %zu)", lo, hi);
    CHECK(dist_buckets_final(&b, 95, &lo, &hi) == 0, "a promise above the final part launches nothing");
    CHECK(dist_buckets_final(&b, 85, &lo, &hi) == 0, "5 new floats are under min_floats");
    CHECK(dist_buckets_final(&b, 80, &lo, &hi) == 1 && lo == 80 && hi == 90, "then 10: [%zu, %zu)", lo, hi);
    CHECK(dist_buckets_final(&b, 500, &lo, &hi) == 0, "a promise past the buffer launches nothing");
    CHECK(dist_buckets_rest(&b, &lo, &hi) == 1 && lo == 0 && hi == 80, "the rest: [%zu, %zu)", lo, hi);
    CHECK(dist_buckets_rest(&b, &lo, &hi) == 0 && b.launched == 3, "nothing after the rest (%d launched)",
          b.launched);
    dist_buckets_begin(&b);
    CHECK(b.launched == 0 && dist_buckets_rest(&b, &lo, &hi) == 1 && lo == 0 && hi == 100,
          "a backward that promises nothing sends the whole buffer at its end");
    dist_buckets_init(&b, 1);
    CHECK(b.min_floats == 1 && dist_buckets_final(&b, 0, &lo, &hi) == 1 && lo == 0 && hi == 1 &&
              dist_buckets_rest(&b, &lo, &hi) == 0,
          "one float: one bucket");
}

// Random promises (descending, repeated, out of order, past the end) over
// many buffer sizes: the buckets tile the buffer from the top down.
static void test_buckets_tile(void) {
    Rng rng;
    rng_seed(&rng, 7);
    int bad = 0, rounds = 0, most = 0;
    for (int round = 0; round < 2000 && bad < 3; round++, rounds++) {
        size_t P = 1 + rng_below(&rng, round % 2 ? 50 : 100000);
        DistBuckets b;
        dist_buckets_init(&b, P);
        dist_buckets_begin(&b);
        size_t next_hi = P, lo, hi;
        int promises = (int)rng_below(&rng, 40), count = 0;
        for (int k = 0; k <= promises && bad < 3; k++) {
            int last = k == promises;
            size_t from = last ? 0 : rng_below(&rng, (uint32_t)(P + P / 8 + 1));
            int got = last ? dist_buckets_rest(&b, &lo, &hi) : dist_buckets_final(&b, from, &lo, &hi);
            if (!got) continue;
            count++;
            int ok = hi == next_hi && lo < hi && (last || (lo == from && hi - lo >= b.min_floats));
            if (!ok) {
                bad++;
                CHECK(0, "P %zu, promise %zu: bucket [%zu, %zu) does not continue down from %zu (min %zu)", P, from,
                      lo, hi, next_hi, b.min_floats);
            }
            next_hi = lo;
        }
        if (next_hi != 0 || count != b.launched || count > DIST_MAX_BUCKETS) {
            bad++;
            CHECK(0, "P %zu: %d buckets (launched %d, at most %d) end at %zu, not 0", P, count, b.launched,
                  DIST_MAX_BUCKETS, next_hi);
        }
        if (count > most) most = count;
    }
    CHECK(bad == 0 && most > 2, "%d rounds of random promises: %d broke the tiling (most buckets %d)", rounds, bad,
          most);
}

// ---------------------------------------------------------------- the models' promises

typedef struct {
    int n;
    size_t from[64];
    float *copy[64];  // grads[from, P) at the promise
} Promises;
static Promises promises;

static void record_promise(Model *m, size_t from) {
    if (promises.n >= 64) return;
    size_t n = m->params.num_params - from;
    float *copy = tb_malloc(sizeof(float) * (n ? n : 1));
    m->be->to_host(copy, m->params.grads + from, sizeof(float) * n);
    promises.from[promises.n] = from;
    promises.copy[promises.n++] = copy;
}

static void test_promises(const ModelArch *arch) {
    char name[48];
    snprintf(name, sizeof name, "tiny-%s", arch->name);
    ModelSpec spec;
    Model *m = NULL;
    const int V = 64, B = 2;
    if (model_spec_by_name(&spec, name, V) || !(m = model_create(&spec, backend_cpu()))) {
        CHECK(0, "%s: cannot build it: %s", name, tb_last_error());
        return;
    }
    const int T = spec.max_seq_len < 8 ? spec.max_seq_len : 8;
    m->vt->init_weights(m, 11);
    CHECK(m->vt->alloc_activations(m, B, T) == 0, "%s: activations: %s", name, tb_last_error());
    int32_t inputs[2 * 8], targets[2 * 8];
    Rng rng;
    rng_seed(&rng, 5);
    for (int i = 0; i < B * T; i++) inputs[i] = (int32_t)rng_below(&rng, V), targets[i] = (int32_t)rng_below(&rng, V);
    m->vt->forward(m, inputs, targets, B, T);
    model_zero_grad(m);
    memset(&promises, 0, sizeof promises);
    m->grads_final = record_promise;
    m->vt->backward(m);
    m->grads_final = NULL;

    size_t P = m->params.num_params;
    float *grads = tb_malloc(sizeof(float) * P);
    m->be->to_host(grads, m->params.grads, sizeof(float) * P);
    int descending = 1, kept = 1;
    for (int k = 0; k < promises.n; k++) {
        if (k > 0 && promises.from[k] >= promises.from[k - 1]) descending = 0;
        size_t n = P - promises.from[k];
        if (memcmp(promises.copy[k], grads + promises.from[k], sizeof(float) * n) != 0) {
            kept = 0;
            CHECK(0, "%s: promise %d called grads[%zu, %zu) final, but the backward changed them after it", name, k,
                  promises.from[k], P);
        }
    }
    CHECK(promises.n == spec.n_layer, "%s: %d promises, one per layer expected (%d layers)", name, promises.n,
          spec.n_layer);
    CHECK(descending, "%s: each promise reaches further down the buffer than the one before", name);
    CHECK(kept && promises.n > 0, "%s: every promised gradient kept its value to the end of the backward", name);
    // Not a vacuous promise: the layers' gradients were written before it,
    // and the embedding below the last one afterwards.
    const ParamTensor *emb = model_find_tensor(m, arch->embedding_tensor);
    size_t last = promises.n ? promises.from[promises.n - 1] : 0;
    double above = 0, below = 0;
    for (size_t i = last; i < P; i++) above += fabs(grads[i]);
    for (size_t i = 0; i < last; i++) below += fabs(grads[i]);
    CHECK(emb && emb->offset < last && above > 0 && below > 0,
          "%s: the layers' gradients (sum |g| %g) are promised, the embedding's (%g, below offset %zu) are not", name,
          above, below, last);
    for (int k = 0; k < promises.n; k++) free(promises.copy[k]);
    free(grads);
    model_destroy(m);
}

// ---------------------------------------------------------------- GPUs

static void test_gpu_for_rank(void) {
    CHECK(dist_gpu_for_rank(0, 2, 2) == 0 && dist_gpu_for_rank(1, 2, 2) == 1, "2 ranks, 2 GPUs: one each");
    CHECK(dist_gpu_for_rank(3, 4, 8) == 3, "4 ranks, 8 GPUs: rank 3 drives GPU 3");
    CHECK(dist_gpu_for_rank(1, 2, 1) == 0, "a rank that sees one GPU (its own, --gpus-per-task) drives GPU 0");
    CHECK(dist_gpu_for_rank(0, 1, 1) == 0, "one rank, one GPU");
    int gpu = dist_gpu_for_rank(5, 8, 4);
    CHECK(gpu == -1 && strstr(tb_last_error(), "8 ranks on this node share its 4 GPUs") &&
              strstr(tb_last_error(), "at most 4 ranks per node"),
          "8 ranks on 4 GPUs: refused, saying how many per node (%d: %s)", gpu, tb_last_error());
    gpu = dist_gpu_for_rank(0, 2, 0);
    CHECK(gpu == -1 && strstr(tb_last_error(), "no GPU"), "no GPU: refused (%d: %s)", gpu, tb_last_error());
    CHECK(dist_gpu_for_rank(2, 2, 2) == -1, "a local rank outside its node's count is refused");
}

static void make_id(void *id) { *(int *)id = 42; }

int main(void) {
    test_buckets_example();
    test_buckets_tile();
    for (int a = 0; a < model_arch_count(); a++) test_promises(model_arch_at(a));
    test_gpu_for_rank();
    // Without MPI: rank 0 of 1, and the id is rank 0's own.
    int local_size = 0, id = 0;
    CHECK(dist_local_rank(&local_size) == 0 && local_size == 1, "without MPI: local rank 0 of 1");
    dist_share_id(make_id, &id, sizeof id);
    CHECK(id == 42, "without MPI: the id is the one this process made (%d)", id);
    return test_summary("test_dist_buckets");
}
