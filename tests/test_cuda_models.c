// test_cuda_models.c: a full training step of each tiny model on the CUDA
// backend (emulated in `make test`, native in `make test-gpu`) against the
// same step on the CPU backend: the loss, the per-position losses, every
// parameter gradient, the parameters after one AdamW step, and the decode
// path (prefill, then single steps) logits, for one sequence and for several.
#include <unistd.h>

#include "test.h"

#include "cuda_test_util.h"
#include "kernels/backend_hooks.h"
#include "models/model.h"

enum { V = 50, B = 2, T = 16, PREFILL = 5, DECODE_STEPS = 4 };

// Whole-model sums through many ops: looser than a single kernel.
#define TOL_LOSS 1e-5f, 1e-5f
#define TOL_GRAD 1e-5f, 2e-3f
#define TOL_PARAM 1e-6f, 1e-5f
#define TOL_LOGITS 1e-4f, 1e-4f

static Model *make_model(const char *name, const Backend *be) {
    ModelSpec spec;
    if (model_spec_by_name(&spec, name, V)) tb_die("%s", tb_last_error());
    Model *m = model_create(&spec, be);
    if (!m || m->vt->alloc_activations(m, B, T)) tb_die("%s: %s", name, tb_last_error());
    return m;
}

static float *grads_to_host(Model *m) {
    float *h = tb_malloc(m->params.num_params * sizeof(float));
    m->be->to_host(h, m->params.grads, m->params.num_params * sizeof(float));
    return h;
}
static float *params_to_host(Model *m) {
    float *h = tb_malloc(m->params.num_params * sizeof(float));
    m->be->to_host(h, m->params.values, m->params.num_params * sizeof(float));
    return h;
}

static void test_model(const char *name, int order) {
    const Backend *cpu = backend_cpu();
    Model *mc = make_model(name, cpu), *mg = make_model(name, gpu);
    mc->vt->init_weights(mc, 42);
    mg->vt->init_weights(mg, 42);
    float *pc = params_to_host(mc), *pg = params_to_host(mg);
    char what[160];
    snprintf(what, sizeof what, "%s init_weights on cuda (%s order)", name, order_name(order));
    check_close(what, pg, pc, mc->params.num_params, 0, 0);

    Rng rng;
    rng_seed(&rng, 7);
    int32_t inputs[B * T], targets[B * T];
    for (int i = 0; i < B * T; i++) inputs[i] = (int32_t)rng_below(&rng, V), targets[i] = (int32_t)rng_below(&rng, V);
    targets[3] = -1;  // an ignored position
    Model *ms[2] = {mc, mg};
    for (int k = 0; k < 2; k++) {
        model_zero_grad(ms[k]);
        ms[k]->vt->forward(ms[k], inputs, targets, B, T);
        ms[k]->vt->backward(ms[k]);
    }
    snprintf(what, sizeof what, "%s loss (%s order)", name, order_name(order));
    check_close(what, &mg->acts->loss, &mc->acts->loss, 1, TOL_LOSS);
    snprintf(what, sizeof what, "%s per-position losses (%s order)", name, order_name(order));
    check_close(what, mg->acts->losses_host, mc->acts->losses_host, B * T, TOL_LOSS);
    float *gc = grads_to_host(mc), *gg = grads_to_host(mg);
    for (int i = 0; i < mc->params.num_tensors; i++) {
        const ParamTensor *t = &mc->params.tensors[i];
        snprintf(what, sizeof what, "%s grad %s (%s order)", name, t->name, order_name(order));
        check_close(what, gg + t->offset, gc + t->offset, t->numel, TOL_GRAD);
    }

    // AdamW from identical gradients (the CPU's): Adam's step direction
    // m / sqrt(v) amplifies float noise in gradients near zero, which would
    // say nothing about the optimizer kernels.
    gpu->to_device(mg->params.grads, gc, mc->params.num_params * sizeof(float));
    OptimConfig oc;
    optim_config_default(&oc);
    float norm_c = model_adamw_step(mc, &oc, 1, 1e-3f), norm_g = model_adamw_step(mg, &oc, 1, 1e-3f);
    snprintf(what, sizeof what, "%s grad norm (%s order)", name, order_name(order));
    check_close(what, &norm_g, &norm_c, 1, 1e-6f, 1e-4f);
    free(pc), free(pg);
    pc = params_to_host(mc), pg = params_to_host(mg);
    snprintf(what, sizeof what, "%s params after AdamW (%s order)", name, order_name(order));
    check_close(what, pg, pc, mc->params.num_params, TOL_PARAM);

    // Decode with the updated weights: prefill, then single tokens.
    float logits_c[V], logits_g[V];
    if (mc->vt->alloc_decode(mc) || mg->vt->alloc_decode(mg)) tb_die("%s", tb_last_error());
    mc->vt->decode_reset(mc), mg->vt->decode_reset(mg);
    mc->vt->prefill(mc, inputs, PREFILL, logits_c);
    mg->vt->prefill(mg, inputs, PREFILL, logits_g);
    snprintf(what, sizeof what, "%s prefill logits (%s order)", name, order_name(order));
    check_close(what, logits_g, logits_c, V, TOL_LOGITS);
    for (int s = 0; s < DECODE_STEPS; s++) {
        mc->vt->decode_step(mc, inputs[PREFILL + s], logits_c);
        mg->vt->decode_step(mg, inputs[PREFILL + s], logits_g);
        snprintf(what, sizeof what, "%s decode step %d logits (%s order)", name, s, order_name(order));
        check_close(what, logits_g, logits_c, V, TOL_LOGITS);
    }
    free(pc), free(pg), free(gc), free(gg);
    model_destroy(mc);
    model_destroy(mg);
}

// Two identical training steps on the CUDA backend give bit-identical losses
// and gradients (the GPU determinism check of `make test-gpu`).
static void test_determinism(const char *name) {
    float loss[2];
    float *grads[2];
    for (int r = 0; r < 2; r++) {
        Model *m = make_model(name, gpu);
        m->vt->init_weights(m, 5);
        int32_t inputs[B * T], targets[B * T];
        for (int i = 0; i < B * T; i++) inputs[i] = (i * 7) % V, targets[i] = (i * 11 + 3) % V;
        OptimConfig oc;
        optim_config_default(&oc);
        for (int step = 1; step <= 2; step++) {
            model_zero_grad(m);
            m->vt->forward(m, inputs, targets, B, T);
            m->vt->backward(m);
            model_adamw_step(m, &oc, step, 1e-3f);
        }
        loss[r] = m->acts->loss;
        grads[r] = grads_to_host(m);
        if (r == 1)
            CHECK(loss[0] == loss[1] && !memcmp(grads[0], grads[1], m->params.num_params * sizeof(float)),
                  "%s: two identical training runs on cuda differ", name);
        model_destroy(m);
    }
    free(grads[0]), free(grads[1]);
}

// Decode steps replayed from a captured graph give the bits of the same
// steps run op by op (TUNEBENCH_DECODE_GRAPHS=0), also after a prefill that
// continues the sequence between them.
static void count_graph_launches(const char *op, void *ctx) {
    if (!strcmp(op, "graph_launch")) ++*(int *)ctx;
}

static void test_decode_graph(const char *name) {
    float *logits[2];
    int launches[2] = {0, 0};
    for (int r = 0; r < 2; r++) {
        setenv("TUNEBENCH_DECODE_GRAPHS", r == 0 ? "1" : "0", 1);
        Model *m = make_model(name, backend_with_hooks(gpu, count_graph_launches, &launches[r]));
        m->vt->init_weights(m, 9);
        if (m->vt->alloc_decode(m)) tb_die("%s", tb_last_error());
        int32_t prompt[PREFILL];
        for (int i = 0; i < PREFILL; i++) prompt[i] = (i * 13 + 2) % V;
        logits[r] = tb_malloc(sizeof(float) * V * (2 * DECODE_STEPS + 1));
        m->vt->prefill(m, prompt, PREFILL, logits[r]);
        for (int s = 0; s < DECODE_STEPS; s++)
            m->vt->decode_step(m, (s * 5 + 1) % V, logits[r] + (size_t)(s + 1) * V);
        m->vt->prefill(m, prompt, 2, logits[r]);  // continues the sequence
        for (int s = 0; s < DECODE_STEPS; s++)
            m->vt->decode_step(m, (s * 3 + 4) % V, logits[r] + (size_t)(DECODE_STEPS + s + 1) * V);
        model_destroy(m);
    }
    unsetenv("TUNEBENCH_DECODE_GRAPHS");
    // Every step but the first (run directly, outside a capture) replays.
    CHECK(launches[0] == 2 * DECODE_STEPS - 1 && launches[1] == 0,
          "%s: %d decode steps made %d graph launches with graphs on (expected %d) and %d with "
          "them off", name, 2 * DECODE_STEPS, launches[0], 2 * DECODE_STEPS - 1, launches[1]);
    CHECK(!memcmp(logits[0], logits[1], sizeof(float) * V * (2 * DECODE_STEPS + 1)),
          "%s: decode steps replayed from a graph differ from the same steps run directly", name);
    free(logits[0]), free(logits[1]);
}

// The batched decoder on cuda against the CPU's: 3 sequences prefilled
// with 5 tokens each, 4 steps of all three, then the middle one dropped (the
// last moved into its place) and 4 steps of the other two. Replayed from
// graphs (one per number of sequences: a direct step, a capture, then
// replays) it gives the bits of the same calls run op by op.
static void test_batched_decode(const char *name) {
    enum { SEQ = 3, STEPS = 4, ROWS = SEQ + STEPS * SEQ + STEPS * 2 };
    float *logits[3];  // cpu, cuda with graphs, cuda without
    int launches[3] = {0, 0, 0};
    for (int r = 0; r < 3; r++) {
        setenv("TUNEBENCH_DECODE_GRAPHS", r == 2 ? "0" : "1", 1);
        const Backend *be = r == 0 ? backend_cpu() : backend_with_hooks(gpu, count_graph_launches, &launches[r]);
        Model *m = make_model(name, be);
        m->vt->init_weights(m, 13);
        DecodeState *ds = decode_state_create(m, SEQ);
        if (!ds) tb_die("%s", tb_last_error());
        int32_t prompt[SEQ * PREFILL], step[SEQ];
        for (int i = 0; i < SEQ * PREFILL; i++) prompt[i] = (i * 7 + 3) % V;
        float *out = logits[r] = tb_malloc(sizeof(float) * V * ROWS);
        decode_state_run(m, ds, prompt, SEQ, PREFILL, out);
        out += SEQ * V;
        for (int s = 0; s < 2 * STEPS; s++) {
            int B = s < STEPS ? SEQ : SEQ - 1;
            if (s == STEPS) decode_state_move(m, ds, 1, 2);
            for (int b = 0; b < B; b++) step[b] = (s * 5 + b * 11 + 1) % V;
            decode_state_run(m, ds, step, B, 1, out);
            out += B * V;
        }
        decode_state_destroy(m, ds);
        model_destroy(m);
    }
    unsetenv("TUNEBENCH_DECODE_GRAPHS");
    char what[160];
    snprintf(what, sizeof what, "%s batched decode logits, cuda against cpu", name);
    check_close(what, logits[1], logits[0], (size_t)V * ROWS, TOL_LOGITS);
    CHECK(!memcmp(logits[1], logits[2], sizeof(float) * V * ROWS),
          "%s: batched decode steps replayed from graphs differ from the same steps run directly", name);
    CHECK(launches[1] == 2 * (STEPS - 1) && launches[2] == 0,
          "%s: %d batched steps made %d graph launches with graphs on (expected %d) and %d with them off", name,
          2 * STEPS, launches[1], 2 * (STEPS - 1), launches[2]);
    free(logits[0]), free(logits[1]), free(logits[2]);
}

// A d_state above the CUDA scan's limit is refused when the model is made,
// with the limit in the message, not in the middle of a run.
static void test_dstate_limit(void) {
    ModelSpec spec;
    if (model_spec_by_name(&spec, "tiny-mamba", V)) tb_die("%s", tb_last_error());
    spec.d_state = gpu->selective_scan_max_dstate + 1;
    Model *m = model_create(&spec, gpu);
    CHECK(m == NULL && strstr(tb_last_error(), "limit") != NULL,
          "mamba with d_state %d on cuda: %s", spec.d_state, m ? "created" : tb_last_error());
    if (m) model_destroy(m);
    tb_clear_error();
    if (model_spec_by_name(&spec, "tiny-mamba", V)) tb_die("%s", tb_last_error());
    spec.d_conv = gpu->conv1d_max_kernel + 1;
    m = model_create(&spec, gpu);
    CHECK(m == NULL && strstr(tb_last_error(), "d_conv") != NULL,
          "mamba with d_conv %d on cuda: %s", spec.d_conv, m ? "created" : tb_last_error());
    if (m) model_destroy(m);
    tb_clear_error();
}

#ifdef TB_SIMT_EMU
// A capture that fails (the emulation invalidates it, as a GPU does when a
// kernel cannot load inside one) ends nothing: the step runs op by op with
// the same logits as a run without graphs, the later steps too, and stderr
// gets one line saying so.
static void test_failed_capture(const char *name) {
    float *logits[2];
    int lines = -1;
    int32_t inputs[PREFILL + DECODE_STEPS];
    for (int i = 0; i < PREFILL + DECODE_STEPS; i++) inputs[i] = (i * 11 + 3) % V;
    for (int r = 0; r < 2; r++) {
        setenv("TUNEBENCH_DECODE_GRAPHS", r == 0 ? "1" : "0", 1);
        Model *m = make_model(name, gpu);
        m->vt->init_weights(m, 9);
        if (m->vt->alloc_decode(m)) tb_die("%s", tb_last_error());
        logits[r] = tb_malloc(sizeof(float) * V * (DECODE_STEPS + 1));
        m->vt->prefill(m, inputs, PREFILL, logits[r]);
        FILE *err = tmpfile();
        int saved = dup(2);
        fflush(stderr);
        dup2(fileno(err), 2);
        for (int s = 0; s < DECODE_STEPS; s++) {
            if (r == 0 && s == 1) simt_invalidate_next_capture();  // step 0 runs directly, 1 captures
            m->vt->decode_step(m, inputs[PREFILL + s], logits[r] + (size_t)(s + 1) * V);
        }
        fflush(stderr);
        dup2(saved, 2), close(saved);
        if (r == 0) {
            char line[512];
            lines = 0;
            rewind(err);
            while (fgets(line, sizeof line, err)) lines += strstr(line, "graph capture failed") != NULL;
        }
        fclose(err);
        model_destroy(m);
    }
    unsetenv("TUNEBENCH_DECODE_GRAPHS");
    CHECK(lines == 1, "%s: a failed capture logged %d lines about it (expected 1)", name, lines);
    CHECK(!memcmp(logits[0], logits[1], sizeof(float) * V * (DECODE_STEPS + 1)),
          "%s: after a failed capture the decode steps differ from steps run without graphs", name);
    free(logits[0]), free(logits[1]);
}
#endif

int main(void) {
    if (!open_gpu()) return test_summary("test_cuda_models") | 1;
    // Every architecture's tiny config, tiny-<arch> (test_registry holds them to the name).
    for (int a = 0; a < model_arch_count(); a++) {
        char tiny[48];
        snprintf(tiny, sizeof tiny, "tiny-%s", model_arch_at(a)->name);
        for (int order = 0; order < num_orders(); order++) {
            use_order(order);
            test_model(tiny, order);
        }
        test_determinism(tiny);
        test_decode_graph(tiny);
        test_batched_decode(tiny);
#ifdef TB_SIMT_EMU
        test_failed_capture(tiny);
#endif
    }
    test_dstate_limit();
    return test_summary("test_cuda_models");
}
