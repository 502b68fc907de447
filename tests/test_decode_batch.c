// test_decode_batch.c: every architecture's batched decoder (DecodeState,
// models/decode.c) against its batch-1 decoder, through generate_batch as
// `tunebench generate --batch` runs it.
//
// Sequences with prompts of different lengths (6, 9, 5, 7, 3, 8, 1, 4
// tokens) stop at different lengths (caps 2, 6, 1, 8, 5, 3, 4, 7, or earlier
// at the end token). First four of them in a decoder of 4 (whose forward
// takes 4 tokens per sequence, so the common prompt of 5 is split into two
// calls): sequences are fed ragged, the finished ones dropped and the last
// one moved into their place, down to one sequence alone. Then all eight in
// decoders of 3 and of 2 (continuous refill): a finished sequence's slot is
// reset and taken by the next, which is fed its prompt token by token while
// the others go on. Every logits row that any sequence gets must equal the
// batch-1 decoder's after the same tokens, within |a - b| <= 2e-5 + 1e-4
// |ref| over the row of V, and each sequence gets exactly one row per token
// it consumed after the common prompt (after its first token, for one
// admitted into a freed slot; none after it finished). The same seeds and
// batch give the same tokens twice. A batched step makes as many backend
// calls for 8 sequences as for 2, and allocates nothing.
#include <string.h>

#include "../kernels/backend_hooks.h"
#include "../models/generate.h"
#include "../models/model.h"
#include "lib/common.h"
#include "test.h"

enum { V = 40, MAX_SEQS = 8, MAX_LEN = 16, END_TOKEN = 0 };
#define TOL_LOGITS 2e-5f, 1e-4f

static const int prompt_lens[MAX_SEQS] = {6, 9, 5, 7, 3, 8, 1, 4};
static const int caps[MAX_SEQS] = {2, 6, 1, 8, 5, 3, 4, 7};

typedef struct {
    float *rows;              // (MAX_SEQS, MAX_LEN + 1, V): logits by sequence and tokens consumed
    int seen[MAX_SEQS][MAX_LEN + 1];
} Hooked;

static void record_logits(void *ctx, int seq, int consumed, const float *logits) {
    Hooked *h = ctx;
    if (seq < 0 || seq >= MAX_SEQS || consumed < 0 || consumed > MAX_LEN) {
        CHECK(0, "hook: sequence %d after %d tokens is outside the test's range", seq, consumed);
        return;
    }
    h->seen[seq][consumed]++;
    memcpy(h->rows + ((size_t)seq * (MAX_LEN + 1) + consumed) * V, logits, V * sizeof(float));
}

static Model *make_model(const char *config, const Backend *be) {
    ModelSpec spec;
    if (model_spec_by_name(&spec, config, V)) tb_die("%s", tb_last_error());
    Model *m = model_create(&spec, be);
    if (!m) tb_die("%s: %s", config, tb_last_error());
    m->vt->init_weights(m, 11);
    be->scale(m->params.values, 2.0f, m->params.num_params);  // logits well away from zero
    return m;
}

// Each sequence's logits rows against the batch-1 decoder fed the same
// tokens. The first `capacity` sequences start together after their common
// prompt; the others each get a row from their first token on.
static void check_rows(const char *what, Model *m, const Hooked *hooked, const GenerateSequence *seqs,
                       int32_t prompts[][MAX_LEN], int32_t out[][MAX_LEN], int count, int capacity) {
    int common = MAX_LEN;
    for (int q = 0; q < count && q < capacity; q++) common = prompt_lens[q] < common ? prompt_lens[q] : common;
    if (m->vt->alloc_decode(m)) tb_die("%s", tb_last_error());
    float *ref = tb_malloc(V * sizeof(float));
    char row_what[200];
    for (int q = 0; q < count; q++) {
        const GenerateSequence *g = &seqs[q];
        int32_t toks[2 * MAX_LEN];
        memcpy(toks, prompts[q], (size_t)g->prompt_len * sizeof *toks);
        memcpy(toks + g->prompt_len, out[q], (size_t)g->n * sizeof *toks);
        int first = q < capacity ? common : 1, last = g->prompt_len + g->n - (g->ended ? 0 : 1), rows_ok = 1;
        CHECK(g->n <= g->cap && (g->ended || g->n == g->cap), "%s: sequence %d drew %d of %d (ended %d)", what,
              q, g->n, g->cap, g->ended);
        CHECK(g->slot >= 0 && g->slot < capacity && (q >= capacity || g->slot == q),
              "%s: sequence %d ran in slot %d of %d", what, q, g->slot, capacity);
        m->vt->decode_reset(m);
        for (int k = 1; k <= last; k++) {
            m->vt->decode_step(m, toks[k - 1], ref);
            int want = k >= first;
            rows_ok &= hooked->seen[q][k] == want;
            if (want && hooked->seen[q][k]) {
                snprintf(row_what, sizeof row_what, "%s: sequence %d's logits after %d tokens, batched against batch 1",
                         what, q, k);
                check_close(row_what, hooked->rows + ((size_t)q * (MAX_LEN + 1) + k) * V, ref, V, TOL_LOGITS);
            }
        }
        for (int k = last + 1; k <= MAX_LEN; k++) rows_ok &= hooked->seen[q][k] == 0;
        CHECK(rows_ok, "%s: sequence %d did not get exactly one logits row per token from %d to %d", what, q,
              first, last);
    }
    free(ref);
}

// count sequences in a decoder of capacity, twice; the first run's rows
// checked against batch 1.
static void test_against_batch1(const char *config, int count, int capacity) {
    Model *m = make_model(config, backend_cpu());
    if (m->spec.max_seq_len < MAX_LEN) tb_die("%s: the test needs a context of %d", config, MAX_LEN);
    char what[96];
    snprintf(what, sizeof what, "%s, %d sequences in a decoder of %d", config, count, capacity);
    int32_t prompts[MAX_SEQS][MAX_LEN], out[2][MAX_SEQS][MAX_LEN];
    memset(out, 0, sizeof out);
    GenerateSequence seqs[MAX_SEQS], first_run[MAX_SEQS];
    for (int q = 0; q < count; q++)
        for (int i = 0; i < prompt_lens[q]; i++) prompts[q][i] = (int32_t)(1 + (q * 7 + i * 5) % (V - 1));
    SamplerConfig sc;
    sampler_config_default(&sc);
    DecodeState *ds = decode_state_create(m, capacity);
    CHECK(ds != NULL && ds->chunk == MAX_LEN / capacity, "%s: %s", what, ds ? "chunk" : tb_last_error());
    if (!ds) {
        model_destroy(m);
        return;
    }
    Hooked hooked = {.rows = tb_calloc((size_t)MAX_SEQS * (MAX_LEN + 1) * V, sizeof(float))};
    for (int run = 0; run < 2; run++) {
        for (int q = 0; q < count; q++)
            seqs[q] = (GenerateSequence){.prompt = prompts[q], .prompt_len = prompt_lens[q],
                                         .cap = caps[q], .seed = 100 + (uint64_t)q, .out = out[run][q]};
        int rc = generate_batch(m, ds, &sc, END_TOKEN, seqs, count, run == 0 ? record_logits : NULL, &hooked);
        CHECK(rc == 0, "%s: generate_batch: %s", what, tb_last_error());
        if (run == 0) memcpy(first_run, seqs, sizeof seqs);
        if (run == 1) {
            int same = 1;
            for (int q = 0; q < count; q++)
                same &= memcmp(out[0][q], out[1][q], sizeof out[0][q]) == 0 && seqs[q].n == first_run[q].n &&
                        seqs[q].ended == first_run[q].ended && seqs[q].slot == first_run[q].slot;
            CHECK(same, "%s: the same seeds and batch drew different tokens", what);
        }
    }
    check_rows(what, m, &hooked, first_run, prompts, out[0], count, capacity);
    // An empty prompt is refused, also in a sequence that waits for a slot.
    for (int bad = 1; bad < count; bad += capacity) {
        seqs[bad].prompt_len = 0;
        CHECK(generate_batch(m, ds, &sc, END_TOKEN, seqs, count, NULL, NULL) == -1 &&
                  strstr(tb_last_error(), "generate: sequence") && strstr(tb_last_error(), "prompt of 0"),
              "%s: an empty prompt in sequence %d: %s", what, bad, tb_last_error());
        seqs[bad].prompt_len = prompt_lens[bad];
    }
    CHECK(generate_batch(m, ds, &sc, END_TOKEN, seqs, 0, NULL, NULL) == -1 && strstr(tb_last_error(), "at least one"),
          "%s: no sequences: %s", what, tb_last_error());
    CHECK(decode_state_create(m, 0) == NULL && strstr(tb_last_error(), "1 to"),
          "%s: a decoder of 0 sequences: %s", what, tb_last_error());
    tb_clear_error();
    free(hooked.rows);
    decode_state_destroy(m, ds);
    model_destroy(m);
}

// ---------------------------------------------------------------- backend calls

typedef struct {
    long calls, allocs;
} Counts;

static void count_call(const char *op, void *ctx) {
    Counts *c = ctx;
    c->calls++;
    if (tb_streq(op, "alloc") || tb_streq(op, "free")) c->allocs++;
}

// One step of B sequences after a prefill of 3 tokens each, counted.
static Counts count_step(const char *config, int B) {
    Counts counts = {0, 0};
    Model *m = make_model(config, backend_with_hooks(backend_cpu(), count_call, &counts));
    DecodeState *ds = decode_state_create(m, B);
    if (!ds) tb_die("%s", tb_last_error());
    int32_t tokens[3 * 8];
    for (int i = 0; i < 3 * B; i++) tokens[i] = (int32_t)(i * 3 % V);
    float *logits = tb_malloc((size_t)B * V * sizeof(float));
    decode_state_run(m, ds, tokens, B, 3, logits);
    counts = (Counts){0, 0};
    decode_state_run(m, ds, tokens, B, 1, logits);
    Counts step = counts;
    free(logits);
    decode_state_destroy(m, ds);
    model_destroy(m);
    return step;
}

int main(void) {
    for (int a = 0; a < model_arch_count(); a++) {
        char tiny[48];
        snprintf(tiny, sizeof tiny, "tiny-%s", model_arch_at(a)->name);
        test_against_batch1(tiny, 4, 4);
        test_against_batch1(tiny, 8, 3);  // refill
        test_against_batch1(tiny, 8, 2);
        Counts two = count_step(tiny, 2), eight = count_step(tiny, 8);
        printf("  %s: a batched decode step makes %ld backend calls for 2 and for 8 sequences\n", tiny,
               eight.calls);
        CHECK(two.calls == eight.calls && eight.allocs == 0,
              "%s: a decode step makes %ld backend calls for 2 sequences, %ld for 8 (%ld allocations)", tiny,
              two.calls, eight.calls, eight.allocs);
    }
    return test_summary("test_decode_batch");
}
