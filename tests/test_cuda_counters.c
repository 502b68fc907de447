// test_cuda_counters.c: what the CUDA backend reports about itself for the
// benchmark (backend_cuda.h): the counters of launches, GEMMs, copies and
// graph replays, the timing marks, and the per-op profile. One tiny-gpt2 and
// one tiny-mamba model, emulated in `make test`, native in `make test-gpu`.
//
// The counters are checked against a second, independent count: the ops the
// model called, seen through the hooks. Every compute op issues at least one
// launch or GEMM, every backend copy at least one copy of its kind. Decode
// steps replayed from a graph must issue no launch at all from the host.
#include <stdlib.h>

#include "test.h"

#include "cuda_test_util.h"
#include "models/model.h"

enum { V = 50, B = 2, T = 16, PREFILL = 5 };

static Model *make_model(const char *name, const Backend *be) {
    ModelSpec spec;
    if (model_spec_by_name(&spec, name, V)) tb_die("%s", tb_last_error());
    Model *m = model_create(&spec, be);
    if (!m || m->vt->alloc_activations(m, B, T) || m->vt->alloc_decode(m))
        tb_die("%s: %s", name, tb_last_error());
    m->vt->init_weights(m, 11);
    return m;
}

static int32_t inputs[B * T], targets[B * T];

static void train_step(Model *m, int step) {
    OptimConfig oc;
    optim_config_default(&oc);
    model_zero_grad(m);
    m->vt->forward(m, inputs, targets, B, T);
    m->vt->backward(m);
    model_adamw_step(m, &oc, step, 1e-3f);
}

static CudaCounters counted_step(Model *m, int step) {
    CudaCounters c;
    backend_cuda_counters_reset();
    train_step(m, step);
    backend_cuda_counters(&c);
    return c;
}

static int same_counts(const CudaCounters *a, const CudaCounters *b) {
    return a->kernel_launches == b->kernel_launches && a->gemm_calls == b->gemm_calls &&
           a->memcpy_h2d == b->memcpy_h2d && a->memcpy_d2h == b->memcpy_d2h &&
           a->memcpy_d2d == b->memcpy_d2d && a->memsets == b->memsets &&
           a->graph_launches == b->graph_launches && a->backend_calls == b->backend_calls;
}

// Calls of one op in a profile (0 if it was not called).
static int op_calls(const CudaOpProfile *p, const char *op) {
    for (int i = 0; i < p->n_ops; i++)
        if (tb_streq(p->ops[i].name, op)) return p->ops[i].calls;
    return 0;
}

// Ops that issue kernels (kernels/ops.def's COMPUTE kind), not memory
// management, copies, queries or graphs.
static int is_compute_op(const char *op) {
    int i = backend_op_index(op);
    return i >= 0 && backend_op_kinds[i] == BACKEND_KIND_COMPUTE;
}

static void test_training_step(const char *name, Model *m) {
    train_step(m, 1);  // the first step allocates AdamW's moments
    CudaCounters c1 = counted_step(m, 2), c2 = counted_step(m, 3);
    printf("  %s training step: %lld launches, %lld GEMMs, %lld+%lld+%lld copies (h2d, d2h, "
           "d2d), %lld memsets, %lld backend calls\n",
           name, c1.kernel_launches, c1.gemm_calls, c1.memcpy_h2d, c1.memcpy_d2h, c1.memcpy_d2d,
           c1.memsets, c1.backend_calls);
    CHECK(c1.kernel_launches > 0 && c1.gemm_calls > 0 && c1.backend_calls > 0,
          "%s: a training step counted %lld launches, %lld GEMMs and %lld backend calls", name,
          c1.kernel_launches, c1.gemm_calls, c1.backend_calls);
    CHECK(same_counts(&c1, &c2),
          "%s: two identical training steps counted %lld and %lld launches, %lld and %lld GEMMs, "
          "%lld and %lld backend calls",
          name, c1.kernel_launches, c2.kernel_launches, c1.gemm_calls, c2.gemm_calls,
          c1.backend_calls, c2.backend_calls);
    CHECK(c1.graph_launches == 0, "%s: a training step launched %lld graphs", name,
          c1.graph_launches);

    // The same step profiled: the marks must not change what is issued, and
    // every op call must have its mark.
    CudaOpProfile p;
    backend_cuda_counters_reset();
    backend_cuda_profile_begin();
    train_step(m, 4);
    backend_cuda_profile_end(&p);
    CudaCounters cp;
    backend_cuda_counters(&cp);
    CHECK(same_counts(&c1, &cp), "%s: a profiled step counted %lld launches against %lld unprofiled",
          name, cp.kernel_launches, c1.kernel_launches);
    long marked = 0, compute = 0;
    for (int i = 0; i < p.n_ops; i++) {
        marked += p.ops[i].calls;
        if (is_compute_op(p.ops[i].name)) compute += p.ops[i].calls;
    }
    CHECK(marked == c1.backend_calls, "%s: the profile marked %ld op calls, the counter saw %lld",
          name, marked, c1.backend_calls);
    CHECK(c1.kernel_launches + c1.gemm_calls >= compute,
          "%s: %ld compute ops but only %lld launches and %lld GEMMs counted", name, compute,
          c1.kernel_launches, c1.gemm_calls);
    CHECK(c1.memcpy_h2d >= op_calls(&p, "to_device") && c1.memcpy_d2h >= op_calls(&p, "to_host") &&
              c1.memcpy_d2d >= op_calls(&p, "copy") + op_calls(&p, "copy_2d") &&
              c1.memsets >= op_calls(&p, "zero"),
          "%s: copies counted (h2d %lld, d2h %lld, d2d %lld, memsets %lld) below the backend's "
          "copy calls (to_device %d, to_host %d, copy %d + copy_2d %d, zero %d)",
          name, c1.memcpy_h2d, c1.memcpy_d2h, c1.memcpy_d2d, c1.memsets, op_calls(&p, "to_device"),
          op_calls(&p, "to_host"), op_calls(&p, "copy"), op_calls(&p, "copy_2d"),
          op_calls(&p, "zero"));

    // Attribution: the classes add up to the step, and only Mamba scans.
    double sum = 0.0;
    for (int k = 0; k < CUDA_OP_CLASSES; k++) sum += p.class_ms[k];
    printf("  %s profiled step: %.3f ms (scan %.3f, gemm %.3f, other %.3f)\n", name, p.total_ms,
           p.class_ms[CUDA_OP_SCAN], p.class_ms[CUDA_OP_GEMM], p.class_ms[CUDA_OP_OTHER]);
    CHECK(p.total_ms > 0 && fabs(sum - p.total_ms) <= 1e-3 * marked + 1e-4 * p.total_ms,
          "%s: the op classes add up to %.6f ms but the step took %.6f", name, sum, p.total_ms);
    CHECK(p.class_ms[CUDA_OP_GEMM] > 0, "%s: %.6f ms in GEMMs", name, p.class_ms[CUDA_OP_GEMM]);
    int scans = op_calls(&p, "selective_scan_forward") + op_calls(&p, "selective_scan_backward");
    if (tb_streq(m->spec.arch, "mamba"))
        CHECK(scans == 2 * m->spec.n_layer && p.class_ms[CUDA_OP_SCAN] > 0,
              "%s: %d scan calls (expected %d) taking %.6f ms", name, scans, 2 * m->spec.n_layer,
              p.class_ms[CUDA_OP_SCAN]);
    else
        CHECK(scans == 0 && p.class_ms[CUDA_OP_SCAN] == 0, "%s: %d scan calls, %.6f ms", name,
              scans, p.class_ms[CUDA_OP_SCAN]);
}

// A decode step counted: the first one of a model with graphs runs directly,
// the second captures (and counts what it records), later ones replay.
static CudaCounters counted_decode(Model *m, int32_t token) {
    float logits[V];
    CudaCounters c;
    backend_cuda_counters_reset();
    m->vt->decode_step(m, token, logits);
    backend_cuda_counters(&c);
    return c;
}

static void test_decode(const char *name, Model *with_graphs, Model *without) {
    float logits[V];
    Model *ms[2] = {with_graphs, without};
    CudaCounters warm[2], first[2], second[2];
    for (int k = 0; k < 2; k++) {
        // The model reads the switch once, at its first decode step.
        setenv("TUNEBENCH_DECODE_GRAPHS", k == 0 ? "1" : "0", 1);
        ms[k]->vt->decode_reset(ms[k]);
        ms[k]->vt->prefill(ms[k], inputs, PREFILL, logits);
        warm[k] = counted_decode(ms[k], inputs[PREFILL]);
        first[k] = counted_decode(ms[k], inputs[PREFILL + 1]);
        second[k] = counted_decode(ms[k], inputs[PREFILL + 2]);
    }
    unsetenv("TUNEBENCH_DECODE_GRAPHS");
    // The first step runs outside any capture, as a step without graphs does.
    CHECK(warm[0].graph_launches == 0 && same_counts(&warm[0], &second[1]),
          "%s: the first decode step with graphs issued %lld launches and %lld graph launches; "
          "one without graphs issues %lld and 0",
          name, warm[0].kernel_launches, warm[0].graph_launches, second[1].kernel_launches);
    const CudaCounters *capture = &first[0], *replay = &second[0], *direct = &second[1];
    printf("  %s decode step: %lld launches and %lld GEMMs without a graph; replayed: %lld "
           "launches, %lld graph launch, %lld backend calls (against %lld)\n",
           name, direct->kernel_launches, direct->gemm_calls, replay->kernel_launches,
           replay->graph_launches, replay->backend_calls, direct->backend_calls);
    CHECK(replay->kernel_launches == 0 && replay->gemm_calls == 0 && replay->memcpy_d2d == 0 &&
              replay->memsets == 0 && replay->graph_launches == 1,
          "%s: a replayed decode step issued %lld launches, %lld GEMMs, %lld d2d copies, %lld "
          "memsets and %lld graph launches (expected 0, 0, 0, 0, 1)",
          name, replay->kernel_launches, replay->gemm_calls, replay->memcpy_d2d, replay->memsets,
          replay->graph_launches);
    // The capture records exactly what a step without graphs issues.
    CHECK(capture->graph_launches == 1 && capture->kernel_launches == direct->kernel_launches &&
              capture->gemm_calls == direct->gemm_calls && capture->memcpy_d2d == direct->memcpy_d2d,
          "%s: the capturing step recorded %lld launches and %lld GEMMs, a step without graphs "
          "issued %lld and %lld",
          name, capture->kernel_launches, capture->gemm_calls, direct->kernel_launches,
          direct->gemm_calls);
    CHECK(direct->graph_launches == 0 && direct->kernel_launches > 0 &&
              same_counts(&first[1], &second[1]),
          "%s: decode without graphs: %lld graph launches, %lld launches (then %lld)", name,
          direct->graph_launches, first[1].kernel_launches, direct->kernel_launches);
    // A precision change makes the graph stale: the next step runs directly
    // (the new math mode's routines load outside a capture), the one after
    // captures again, then replays resume.
    backend_cuda_set_tf32(1);
    CudaCounters after[3];
    for (int s = 0; s < 3; s++) after[s] = counted_decode(with_graphs, inputs[PREFILL + 3 + s]);
    backend_cuda_set_tf32(0);
    CHECK(after[0].graph_launches == 0 && after[0].kernel_launches == direct->kernel_launches &&
              after[1].graph_launches == 1 && after[1].kernel_launches == direct->kernel_launches &&
              after[2].graph_launches == 1 && after[2].kernel_launches == 0,
          "%s: after TF32 was turned on, decode steps issued %lld/%lld/%lld launches and "
          "%lld/%lld/%lld graph launches (expected direct, capture, replay)",
          name, after[0].kernel_launches, after[1].kernel_launches, after[2].kernel_launches,
          after[0].graph_launches, after[1].graph_launches, after[2].graph_launches);
    // The token goes in and the logits come out around the graph, as before.
    CHECK(replay->memcpy_h2d == direct->memcpy_h2d && replay->memcpy_d2h == direct->memcpy_d2h &&
              replay->backend_calls < direct->backend_calls,
          "%s: host copies h2d %lld/%lld, d2h %lld/%lld, backend calls %lld/%lld (graph/direct)",
          name, replay->memcpy_h2d, direct->memcpy_h2d, replay->memcpy_d2h, direct->memcpy_d2h,
          replay->backend_calls, direct->backend_calls);
}

// Marks measure forward in time and add up.
static void test_marks(Model *m) {
    backend_cuda_marks_clear();
    int a = backend_cuda_mark();
    train_step(m, 5);
    int b = backend_cuda_mark();
    train_step(m, 6);
    int c = backend_cuda_mark();
    double ab = backend_cuda_elapsed_ms(a, b), bc = backend_cuda_elapsed_ms(b, c),
           ac = backend_cuda_elapsed_ms(a, c);
    CHECK(ab > 0 && bc > 0 && fabs(ac - (ab + bc)) <= 2e-3 + 1e-5 * ac,
          "marks: %.6f + %.6f ms against %.6f ms in all", ab, bc, ac);
    CHECK(backend_cuda_elapsed_ms(b, b) == 0, "marks: a mark to itself is %.6f ms",
          backend_cuda_elapsed_ms(b, b));
}

static void test_classes(void) {
    CHECK(backend_cuda_op_class("selective_scan_backward") == CUDA_OP_SCAN &&
              backend_cuda_op_class("selective_scan_step") == CUDA_OP_SCAN &&
              backend_cuda_op_class("linear_backward") == CUDA_OP_GEMM &&
              backend_cuda_op_class("attention_decode") == CUDA_OP_GEMM &&
              backend_cuda_op_class("layernorm_forward") == CUDA_OP_OTHER &&
              backend_cuda_op_class("copy_2d") == CUDA_OP_OTHER,
          "op classes: scan, gemm and other misattributed");
    CHECK(tb_streq(backend_cuda_op_class_name(CUDA_OP_SCAN), "scan") &&
              tb_streq(backend_cuda_op_class_name(CUDA_OP_GEMM), "gemm") &&
              tb_streq(backend_cuda_op_class_name(CUDA_OP_OTHER), "other"),
          "op class names");
}

int main(void) {
    if (!open_gpu()) return test_summary("test_cuda_counters") | 1;
    const Backend *profiled = backend_cuda_profiled();
    Rng rng;
    rng_seed(&rng, 9);
    for (int i = 0; i < B * T; i++)
        inputs[i] = (int32_t)rng_below(&rng, V), targets[i] = (int32_t)rng_below(&rng, V);
    test_classes();
    const char *names[] = {"tiny-gpt2", "tiny-mamba"};
    for (int k = 0; k < 2; k++) {
        Model *m = make_model(names[k], profiled), *fresh = make_model(names[k], profiled);
        test_training_step(names[k], m);
        test_decode(names[k], m, fresh);
        if (k == 0) test_marks(m);
        model_destroy(m);
        model_destroy(fresh);
    }
    return test_summary("test_cuda_counters");
}
