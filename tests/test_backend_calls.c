// test_backend_calls.c: the number of backend calls that a training step, a
// prefill and a decode step make does not grow with the batch or the
// sequence. Every backend call is a kernel launch or a copy on a GPU, so a
// model that loops over rows, tokens or heads calling the backend shows up
// here as a count that grows with B x T. The CPU backend is wrapped in one
// that counts (kernels/backend_hooks.h); the model cannot tell. First, that
// wrapper covers every function of kernels/ops.def wherever it sits in the
// list.
#include <cblas.h>
#include <omp.h>
#include <string.h>

#include "../kernels/backend_hooks.h"
#include "../models/model.h"
#include "lib/common.h"
#include "test.h"

typedef struct {
    long calls, allocs, adamw, norms;
} Counts;

static void count_call(const char *op, void *ctx) {
    Counts *c = ctx;
    c->calls++;
    if (tb_streq(op, "alloc") || tb_streq(op, "free")) c->allocs++;
    if (tb_streq(op, "adamw_update")) c->adamw++;
    if (tb_streq(op, "sum_squares")) c->norms++;
}

typedef struct {
    Counts step, prefill, decode;
} ModelCounts;

// One training step (forward, backward, AdamW) at batch B x T, one prefill of
// T - 1 tokens and one decode step after it, counted.
static ModelCounts count_model(const char *config, int B, int T) {
    ModelCounts out;
    Counts counts = {0, 0, 0, 0};
    const Backend *be = backend_with_hooks(backend_cpu(), count_call, &counts);
    ModelSpec spec;
    if (model_spec_by_name(&spec, config, 1024)) tb_die("%s", tb_last_error());
    Model *m = model_create(&spec, be);
    if (!m) tb_die("%s", tb_last_error());
    m->vt->init_weights(m, 7);
    if (m->vt->alloc_activations(m, B, T) || m->vt->alloc_decode(m)) tb_die("%s", tb_last_error());
    int32_t *inputs = tb_malloc(sizeof(int32_t) * B * T), *targets = tb_malloc(sizeof(int32_t) * B * T);
    for (int i = 0; i < B * T; i++) inputs[i] = (i * 7 + 3) % 1024, targets[i] = (i * 5 + 1) % 1024;
    OptimConfig oc;
    optim_config_default(&oc);
    model_zero_grad(m);
    m->vt->forward(m, inputs, targets, B, T);
    m->vt->backward(m);
    model_adamw_step(m, &oc, 1, oc.lr);  // the first allocates the AdamW moments

    counts = (Counts){0, 0, 0, 0};
    model_zero_grad(m);
    m->vt->forward(m, inputs, targets, B, T);
    m->vt->backward(m);
    // As src/runner/train_loop.c: the norm checked, then the update with it.
    float norm = model_grad_norm(m);
    model_adamw_step_norm(m, &oc, 2, oc.lr, norm);
    out.step = counts;

    float *logits = tb_malloc(sizeof(float) * 1024);
    m->vt->decode_reset(m);
    counts = (Counts){0, 0, 0, 0};
    m->vt->prefill(m, inputs, T - 1, logits);  // leaves room for the decode step
    out.prefill = counts;
    counts = (Counts){0, 0, 0, 0};
    m->vt->decode_step(m, inputs[0], logits);
    out.decode = counts;

    free(inputs), free(targets), free(logits);
    model_destroy(m);
    return out;
}

typedef void (*AnyFn)(void);

static AnyFn op_at(const Backend *be, int i) {
    AnyFn fn;
    memcpy(&fn, (const char *)be + backend_op_offsets[i], sizeof fn);
    return fn;
}

static void record_name(const char *op, void *ctx) { snprintf(ctx, 64, "%s", op); }

// Every function of ops.def has a trampoline of its own in the hooked table
// (the optional ones where the real backend has them), the list covers every
// function field of Backend, and a call through the table reports its name.
static void check_every_op_hooked(void) {
    const Backend *real = backend_cpu();
    char last[64] = "";
    const Backend *hooked = backend_with_hooks(real, record_name, last);
    int installed = 0, distinct = 1;
    for (int i = 0; i < BACKEND_OP_COUNT; i++) {
        AnyFn r = op_at(real, i), h = op_at(hooked, i);
        CHECK(r ? h && h != r : !h, "%s: the hooked table has %s", backend_op_names[i],
              r ? "no trampoline for it" : "a trampoline for a function the backend lacks");
        installed += h && h != r;
        for (int j = 0; j < i; j++)
            if (h && h == op_at(hooked, j)) distinct = 0;
        if (i > 0)
            CHECK(backend_op_offsets[i] == backend_op_offsets[i - 1] + sizeof(AnyFn) &&
                      !tb_streq(backend_op_names[i], backend_op_names[i - 1]),
                  "%s does not follow %s in Backend", backend_op_names[i], backend_op_names[i - 1]);
    }
    CHECK(distinct, "two functions of ops.def share one trampoline");
    // On the CPU exactly the GRAPH functions are missing.
    int kinds_ok = 1;
    for (int i = 0; i < BACKEND_OP_COUNT; i++)
        kinds_ok &= backend_op_index(backend_op_names[i]) == i &&
                    backend_op_kinds[i] <= BACKEND_KIND_QUERY &&
                    (backend_op_kinds[i] == BACKEND_KIND_GRAPH) == (op_at(real, i) == NULL);
    CHECK(kinds_ok && backend_op_index("no_such_op") == -1 &&
              backend_op_kinds[BACKEND_OP_linear_forward] == BACKEND_KIND_COMPUTE &&
              backend_op_kinds[BACKEND_OP_alloc] == BACKEND_KIND_MEMORY,
          "the op names, indices and kinds disagree");
    CHECK(sizeof(Backend) == backend_op_offsets[BACKEND_OP_COUNT - 1] + sizeof(AnyFn),
          "Backend has fields after ops.def's last function %s",
          backend_op_names[BACKEND_OP_COUNT - 1]);
    printf("  %d of %d functions of ops.def hooked on the CPU (the rest are optional)\n", installed,
           BACKEND_OP_COUNT);
    // Calls from the start, the middle and the end of the list report their own names.
    float x[4] = {1, 2, 3, 4}, y[4];
    hooked->zero(y, sizeof y);
    CHECK(tb_streq(last, "zero"), "a call to zero reported '%s'", last);
    hooked->scale(x, 2.0f, 4);
    CHECK(tb_streq(last, "scale") && x[3] == 8.0f, "a call to scale reported '%s'", last);
    double sq = hooked->sum_squares(x, 4);
    CHECK(tb_streq(last, "sum_squares") && sq == 120.0, "sum_squares reported '%s', gave %g", last,
          sq);
    LstmParams lp = {.batch = 1, .seqlen = 2, .hidden = 3};
    CHECK(hooked->lstm_scratch_floats(&lp) == real->lstm_scratch_floats(&lp) &&
              tb_streq(last, "lstm_scratch_floats"),
          "lstm_scratch_floats reported '%s'", last);
}

// The CPU backend describes itself and sets its own threads: OpenMP's, with
// OpenBLAS kept single-threaded (its ops split the products themselves).
static void check_cpu_describes_itself(void) {
    const Backend *cpu = backend_cpu();
    BackendInfo info;
    int before = omp_get_max_threads();
    cpu->set_threads(3);
    cpu->describe(&info);
    CHECK(cpu->on_host && info.threads == 3 && omp_get_max_threads() == 3 &&
              openblas_get_num_threads() == 1 && tb_streq(info.precision, "fp32") &&
              strstr(info.device, "CPU"),
          "the CPU backend after set_threads(3): '%s', %d threads (OpenMP %d, OpenBLAS %d), %s",
          info.device, info.threads, omp_get_max_threads(), openblas_get_num_threads(),
          info.precision);
    cpu->set_threads(0);  // keeps them
    CHECK(omp_get_max_threads() == 3, "set_threads(0) changed the threads to %d", omp_get_max_threads());
    cpu->set_threads(before);
    CHECK(tb_streq(backend_by_name(BACKEND_DEFAULT_NAME)->name, BACKEND_DEFAULT_NAME) &&
              backend_by_name("tpu") == NULL && strstr(tb_last_error(), "tpu"),
          "backend_by_name: the default resolves, an unknown name is an error naming it");
}

int main(void) {
    check_every_op_hooked();
    check_cpu_describes_itself();
    // Every architecture's 6M config (gpt2-6m, mamba-6m, lstm-6m, ...).
    for (int a = 0; a < model_arch_count(); a++) {
        char config[48];
        snprintf(config, sizeof config, "%s-6m", model_arch_at(a)->name);
        ModelCounts small = count_model(config, 2, 32), large = count_model(config, 8, 256);
        printf("  %s backend calls: training step %ld, prefill %ld, decode step %ld\n",
               config, large.step.calls, large.prefill.calls, large.decode.calls);
        CHECK(small.step.calls == large.step.calls,
              "%s: a training step makes %ld backend calls at (2, 32) but %ld at (8, 256)",
              config, small.step.calls, large.step.calls);
        CHECK(small.prefill.calls == large.prefill.calls,
              "%s: a prefill makes %ld backend calls for 31 tokens but %ld for 255", config,
              small.prefill.calls, large.prefill.calls);
        CHECK(small.decode.calls == large.decode.calls,
              "%s: a decode step makes %ld backend calls after a 32-token prefill but %ld after "
              "256", config, small.decode.calls, large.decode.calls);
        CHECK(large.step.allocs == 0 && large.prefill.allocs == 0 && large.decode.allocs == 0,
              "%s: %ld allocations in a training step, %ld in a prefill, %ld in a decode step",
              config, large.step.allocs, large.prefill.allocs, large.decode.allocs);
        // AdamW is one call over the whole parameter buffer, whatever the tensors.
        CHECK(small.step.adamw == 1 && large.step.adamw == 1,
              "%s: a training step calls adamw_update %ld times at (2, 32), %ld at (8, 256)",
              config, small.step.adamw, large.step.adamw);
        // The gradients' norm is one reduction a step (the loop checks it,
        // and the update reuses it).
        CHECK(small.step.norms == 1 && large.step.norms == 1,
              "%s: a training step calls sum_squares %ld times at (2, 32), %ld at (8, 256)",
              config, small.step.norms, large.step.norms);
        // A few hundred at most: a layer's ops (about 30 forward and backward)
        // times the layers.
        CHECK(large.step.calls <= 1000 && large.prefill.calls <= 400 && large.decode.calls <= 400,
              "%s: %ld calls in a training step, %ld in a prefill, %ld in a decode step",
              config, large.step.calls, large.prefill.calls, large.decode.calls);
    }
    return test_summary("test_backend_calls");
}
