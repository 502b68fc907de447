// test_optimizer.c: AdamW and clipping against torch.optim.AdamW (fixture from
// tests/make_adamw_fixture.py), AdamW's one call over the whole buffer against
// one call per tensor (the decay spans), the sum of squares and the gradient
// norm (accuracy and bit-determinism across thread counts), and the LR schedule.
#include <omp.h>

#include "kernels/adamw.h"
#include "models/model.h"
#include "models/safetensors.h"
#include "test.h"
#include "host_backend.h"

static const float *fixture(const SafeTensors *st, const char *name, size_t numel) {
    const StTensor *t = st_find(st, name);
    if (!t || t->numel != numel) {
        fprintf(stderr, "fixture tensor %s missing or of the wrong size\n", name);
        exit(1);
    }
    return t->data;
}

// Replays the fixture's 10 steps through model_adamw_step.
static void test_adamw_against_pytorch(void) {
    SafeTensors *st = st_open("tests/fixtures/adamw.safetensors");
    CHECK(st != NULL, "cannot open the AdamW fixture: %s", tb_last_error());
    if (!st) return;
    const float *hyper = fixture(st, "hyper", 5), *lrs = fixture(st, "lr", 10),
                *norms = fixture(st, "norm", 10);

    Model m = {0};
    m.be = &host_backend;
    snprintf(m.spec.name, sizeof m.spec.name, "adamw-test");
    model_add_tensor(&m, "w", 2, (int64_t[]){7, 13}, 1);
    model_add_tensor(&m, "b", 1, (int64_t[]){13}, 0);
    CHECK(model_alloc_params(&m) == 0, "alloc: %s", tb_last_error());
    memcpy(model_param(&m, "w"), fixture(st, "p0.w", 91), 91 * sizeof(float));
    memcpy(model_param(&m, "b"), fixture(st, "p0.b", 13), 13 * sizeof(float));

    OptimConfig oc;
    optim_config_default(&oc);
    oc.beta1 = hyper[0], oc.beta2 = hyper[1], oc.eps = hyper[2];
    oc.weight_decay = hyper[3], oc.grad_clip = hyper[4];
    int clipped = 0;
    for (int step = 1; step <= 10; step++) {
        char name[64];
        snprintf(name, sizeof name, "grad.%d.w", step);
        memcpy(model_grad(&m, "w"), fixture(st, name, 91), 91 * sizeof(float));
        snprintf(name, sizeof name, "grad.%d.b", step);
        memcpy(model_grad(&m, "b"), fixture(st, name, 13), 13 * sizeof(float));
        float norm = model_adamw_step(&m, &oc, step, lrs[step - 1]);
        clipped += norm > oc.grad_clip;
        char what[64];
        snprintf(what, sizeof what, "grad norm at step %d", step);
        check_close(what, &norm, &norms[step - 1], 1, 0, 1e-6f);
        snprintf(name, sizeof name, "param.%d.w", step);
        snprintf(what, sizeof what, "w after step %d (decay on)", step);
        check_close(what, model_param(&m, "w"), fixture(st, name, 91), 91, 1e-8f, 2e-6f);
        snprintf(name, sizeof name, "param.%d.b", step);
        snprintf(what, sizeof what, "b after step %d (decay off)", step);
        check_close(what, model_param(&m, "b"), fixture(st, name, 13), 13, 1e-8f, 2e-6f);
    }
    CHECK(clipped == 5, "expected 5 clipped steps in the fixture, saw %d", clipped);
    m.vt = NULL;
    CHECK(m.params.num_decay_spans == 1 && m.params.decay_spans[0] == 0 && m.params.decay_spans[1] == 91,
          "the decay spans of [w (decay) | b]: %d spans", m.params.num_decay_spans);
    free(m.params.values), free(m.params.grads), free(m.params.adam_m), free(m.params.adam_v);
    free(m.params.decay_spans), free(m.params.tensors), free(m.params.tensor_slots);
    st_close(st);
}

// Decay applies only where the flag is set: with zero gradients, AdamW leaves
// an undecayed tensor exactly unchanged and shrinks a decayed one by 1 - lr*wd.
static void test_decay_flags(void) {
    float p[4] = {1, -2, 3, -4}, g[4] = {0}, m[4] = {0}, v[4] = {0};
    size_t all[2] = {0, 4};
    adamw_update_cpu(p, g, m, v, 4, NULL, 0, 0.5f, 0.9f, 0.95f, 1e-8f, 0.1f, 1.0f, 1);
    float same[4] = {1, -2, 3, -4};
    check_close("no decay span, zero gradient: unchanged", p, same, 4, 0, 0);
    adamw_update_cpu(p, g, m, v, 4, all, 1, 0.5f, 0.9f, 0.95f, 1e-8f, 0.1f, 1.0f, 2);
    float shrunk[4] = {0.95f, -1.9f, 2.85f, -3.8f};
    check_close("decay 0.1 at lr 0.5: x0.95", p, shrunk, 4, 0, 1e-7f);
}

static float *random_floats(size_t n, uint64_t seed) {
    Rng r;
    rng_seed(&r, seed);
    float *x = tb_malloc(n * sizeof(float) + 1);
    for (size_t i = 0; i < n; i++) x[i] = rng_normal(&r) * (i % 97 == 0 ? 100.0f : 1.0f);
    return x;
}

// The span walk: a buffer of several chunks with spans that start, end and
// cross chunk edges, against each element updated alone with its own decay
// (in a span or not, found by a plain scan), bit for bit, on 1 to 3 threads.
static void test_adamw_spans(void) {
    enum { N = 3 * 16384 + 1000 };
    size_t spans[] = {0, 5, 100, 16390, 32768, 32769, 49145, 49161, N - 13, N};
    int num = (int)(sizeof spans / sizeof spans[0] / 2);
    float *p0 = random_floats(N, 1), *g = random_floats(N, 2), *m0 = random_floats(N, 3);
    float *v0 = random_floats(N, 4);
    for (size_t i = 0; i < N; i++) v0[i] = v0[i] * v0[i];
    float *ref[3] = {tb_malloc(N * sizeof(float)), tb_malloc(N * sizeof(float)), tb_malloc(N * sizeof(float))};
    memcpy(ref[0], p0, N * sizeof(float)), memcpy(ref[1], m0, N * sizeof(float)), memcpy(ref[2], v0, N * sizeof(float));
    AdamwScalars s = adamw_scalars(0.01f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.75f, 3);
    size_t decayed = 0;
    for (size_t i = 0; i < N; i++) {
        int in = 0;
        for (int k = 0; k < num; k++) in |= spans[2 * k] <= i && i < spans[2 * k + 1];
        decayed += in;
        adamw_element(ref[0], g, ref[1], ref[2], i, in ? s.decay : 1.0f, s);
    }
    int threads[3] = {1, 2, 3};
    for (int t = 0; t < 3; t++) {
        float *p = tb_malloc(N * sizeof(float)), *m = tb_malloc(N * sizeof(float)), *v = tb_malloc(N * sizeof(float));
        memcpy(p, p0, N * sizeof(float)), memcpy(m, m0, N * sizeof(float)), memcpy(v, v0, N * sizeof(float));
        omp_set_num_threads(threads[t]);
        adamw_update_cpu(p, g, m, v, N, spans, num, 0.01f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.75f, 3);
        CHECK(memcmp(p, ref[0], N * sizeof(float)) == 0 && memcmp(m, ref[1], N * sizeof(float)) == 0 &&
                  memcmp(v, ref[2], N * sizeof(float)) == 0,
              "AdamW over %d spans (%zu of %d elements decayed) on %d threads differs from each "
              "element updated alone", num, decayed, N, threads[t]);
        free(p), free(m), free(v);
    }
    omp_set_num_threads(2);
    // The decay did something: a decayed element differs from the same step without it.
    float p1 = p0[200], m1 = m0[200], v1 = v0[200];
    adamw_element(&p1, g + 200, &m1, &v1, 0, 1.0f, s);
    CHECK(p1 != ref[0][200], "element 200 (in a decay span) came out as if undecayed");
    free(p0), free(g), free(m0), free(v0), free(ref[0]), free(ref[1]), free(ref[2]);
}

// One training step of model m on a fixed batch, then AdamW: through
// model_adamw_step (one call over the buffer) or, per_tensor, with one call
// per tensor of the table, each with its own decay (the spans {0, numel} or none).
static int clipped_steps;  // per-tensor steps whose clip scale was below 1
static void adamw_train_step(Model *m, int step, int per_tensor) {
    enum { B = 2, T = 16 };
    int32_t inp[B * T], tgt[B * T];
    for (int i = 0; i < B * T; i++) inp[i] = (i * 7 + step) % 50, tgt[i] = (i * 5 + 3 * step) % 50;
    OptimConfig oc;
    optim_config_default(&oc);
    oc.grad_clip = 0.5f;  // low, so that the clip scale takes part (counted in clipped_steps)
    model_zero_grad(m);
    m->vt->forward(m, inp, tgt, B, T);
    m->vt->backward(m);
    float lr = 1e-2f;
    if (!per_tensor) {
        model_adamw_step(m, &oc, step, lr);
        return;
    }
    const Backend *be = m->be;
    if (!m->params.adam_m) {
        m->params.adam_m = be->alloc(m->params.num_params * sizeof(float));
        m->params.adam_v = be->alloc(m->params.num_params * sizeof(float));
    }
    float norm = model_grad_norm(m), scale = oc.grad_clip / (norm + 1e-6f);
    if (scale > 1.0f) scale = 1.0f;
    clipped_steps += scale < 1.0f;
    for (int i = 0; i < m->params.num_tensors; i++) {
        const ParamTensor *t = &m->params.tensors[i];
        size_t whole[2] = {0, t->numel};
        be->adamw_update(m->params.values + t->offset, m->params.grads + t->offset, m->params.adam_m + t->offset,
                         m->params.adam_v + t->offset, t->numel, whole, t->weight_decay ? 1 : 0, lr,
                         oc.beta1, oc.beta2, oc.eps, oc.weight_decay, scale, step);
    }
}

// Each tiny model, 3 steps both ways from the same weights: the same bits.
static void test_one_call_matches_per_tensor(void) {
    const char *configs[] = {"tiny-gpt2", "tiny-mamba", "tiny-lstm"};
    for (int c = 0; c < 3; c++) {
        ModelSpec spec;
        if (model_spec_by_name(&spec, configs[c], 50)) tb_die("%s", tb_last_error());
        Model *one = model_create(&spec, backend_cpu()), *each = model_create(&spec, backend_cpu());
        if (!one || !each || one->vt->alloc_activations(one, 2, 16) || each->vt->alloc_activations(each, 2, 16))
            tb_die("%s: %s", configs[c], tb_last_error());
        one->vt->init_weights(one, 5), each->vt->init_weights(each, 5);
        for (int step = 1; step <= 3; step++) adamw_train_step(one, step, 0), adamw_train_step(each, step, 1);
        size_t bytes = one->params.num_params * sizeof(float);
        int decays = 0, plain = 0;
        for (int i = 0; i < one->params.num_tensors; i++) decays += one->params.tensors[i].weight_decay, plain += !one->params.tensors[i].weight_decay;
        CHECK(memcmp(one->params.values, each->params.values, bytes) == 0 && memcmp(one->params.adam_m, each->params.adam_m, bytes) == 0 &&
                  memcmp(one->params.adam_v, each->params.adam_v, bytes) == 0,
              "%s: 3 steps of AdamW in one call over %d decay spans differ from one call per tensor "
              "(%d decayed tensors, %d not)", configs[c], one->params.num_decay_spans, decays, plain);
        CHECK(decays > 0 && plain > 0 && one->params.num_decay_spans >= 1 && one->params.num_decay_spans <= decays,
              "%s: %d decayed and %d undecayed tensors in %d spans", configs[c], decays, plain,
              one->params.num_decay_spans);
        printf("  %s: %d tensors (%d decayed) in %d decay spans; one AdamW call per step\n", configs[c],
               one->params.num_tensors, decays, one->params.num_decay_spans);
        model_destroy(one), model_destroy(each);
    }
    CHECK(clipped_steps > 0, "no step of the comparison was clipped: the clip scale went untested");
}

static void test_sum_squares(void) {
    size_t sizes[] = {0, 1, 7, 8, 8193, 100000, 3000017};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        float *x = random_floats(n, 42 + k);
        long double exact = 0;
        for (size_t i = 0; i < n; i++) exact += (long double)x[i] * x[i];
        double got[3];
        int threads[3] = {1, 2, 3};
        for (int t = 0; t < 3; t++) {
            omp_set_num_threads(threads[t]);
            got[t] = sum_squares_cpu(x, n);
        }
        omp_set_num_threads(2);
        double err = fabs((double)(got[0] - exact));
        CHECK(err <= 1e-12 * (double)exact + 1e-300, "sum_squares(n=%zu) = %.17g, exact %.17Lg", n,
              got[0], exact);
        CHECK(memcmp(&got[0], &got[1], sizeof(double)) == 0 &&
                  memcmp(&got[0], &got[2], sizeof(double)) == 0,
              "sum_squares(n=%zu) differs across thread counts: %.17g %.17g %.17g", n, got[0],
              got[1], got[2]);
        free(x);
    }
}

static void test_grad_norm(void) {
    Model m = {0};
    m.be = &host_backend;
    model_add_tensor(&m, "a", 2, (int64_t[]){1000, 700}, 1);
    model_add_tensor(&m, "b", 1, (int64_t[]){333}, 0);
    model_alloc_params(&m);
    float *g = random_floats(m.params.num_params, 7);
    memcpy(m.params.grads, g, m.params.num_params * sizeof(float));
    long double exact = 0;
    for (size_t i = 0; i < m.params.num_params; i++) exact += (long double)g[i] * g[i];
    float ref = (float)sqrtl(exact);
    float n1 = model_grad_norm(&m);
    omp_set_num_threads(1);
    float n2 = model_grad_norm(&m);
    omp_set_num_threads(2);
    float n3 = model_grad_norm(&m);
    check_close("grad norm", &n1, &ref, 1, 0, 1e-7f);
    CHECK(memcmp(&n1, &n2, sizeof n1) == 0 && memcmp(&n1, &n3, sizeof n1) == 0,
          "grad norm not bit-identical across runs and thread counts: %.9g %.9g %.9g", n1, n2, n3);
    model_zero_grad(&m);
    CHECK(model_grad_norm(&m) == 0.0f, "grad norm after zero_grad is not 0");
    free(g), free(m.params.values), free(m.params.grads), free(m.params.tensors), free(m.params.tensor_slots);
}

static void test_lr_schedule(void) {
    OptimConfig oc;
    optim_config_default(&oc);
    CHECK(oc.lr == (float)OPTIM_DEFAULT_LR && oc.warmup_steps == OPTIM_DEFAULT_WARMUP_STEPS &&
              oc.total_steps == OPTIM_DEFAULT_TOTAL_STEPS && oc.beta1 == (float)OPTIM_DEFAULT_BETA1 &&
              oc.beta2 == (float)OPTIM_DEFAULT_BETA2 && oc.eps == (float)OPTIM_DEFAULT_EPS &&
              oc.weight_decay == (float)OPTIM_DEFAULT_WEIGHT_DECAY && oc.grad_clip == (float)OPTIM_DEFAULT_GRAD_CLIP,
          "optim_config_default differs from the OPTIM_DEFAULT_* values of models/model.h");
    oc.lr = 1e-3f, oc.min_lr = 1e-4f, oc.warmup_steps = 10, oc.total_steps = 110;
    float got[4] = {optim_lr_at(&oc, 1), optim_lr_at(&oc, 5), optim_lr_at(&oc, 10),
                    optim_lr_at(&oc, 60)};
    float want[4] = {1e-4f, 5e-4f, 1e-3f, 5.5e-4f};  // 60 is half-way through the cosine
    check_close("lr: warmup, peak, cosine midpoint", got, want, 4, 0, 1e-6f);
    float end[3] = {optim_lr_at(&oc, 110), optim_lr_at(&oc, 111), optim_lr_at(&oc, 100000)};
    float floor3[3] = {1e-4f, 1e-4f, 1e-4f};
    check_close("lr: floor at and after total_steps", end, floor3, 3, 0, 0);
    int monotone = 1;
    for (int s = 11; s <= 110; s++) monotone &= optim_lr_at(&oc, s) <= optim_lr_at(&oc, s - 1);
    CHECK(monotone, "lr is not non-increasing after warmup");
    // A quarter into the decay: min + (lr - min) * (1 + cos(pi/4)) / 2.
    float q = optim_lr_at(&oc, 35), qref = (float)(1e-4 + 9e-4 * 0.5 * (1 + cos(M_PI / 4)));
    check_close("lr a quarter into the cosine", &q, &qref, 1, 0, 1e-6f);
    oc.warmup_steps = 0;
    float first = optim_lr_at(&oc, 1);
    CHECK(first > 0.99e-3f && first <= 1e-3f, "no warmup: first lr %g should be near the peak",
          first);
}

int main(void) {
    test_adamw_against_pytorch();
    test_decay_flags();
    test_adamw_spans();
    test_one_call_matches_per_tensor();
    test_sum_squares();
    test_grad_norm();
    test_lr_schedule();
    return test_summary("test_optimizer");
}
