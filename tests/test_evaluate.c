// test_evaluate.c: evaluate_tokens against a direct computation (one window
// at a time, log-softmax of the logits in double), with a sequence whose
// length leaves a short last window and a window count that B does not divide.
#include <math.h>

#include "lib/common.h"
#include "src/evaluate.h"
#include "test.h"

static void test_against_direct(void) {
    const Backend *be = backend_cpu();
    const int V = 40, T = 16, N = 16 * 7 + 5;  // 8 windows, the last predicting 4 tokens
    ModelSpec spec;
    model_spec_by_name(&spec, "tiny-gpt2", V);
    Model *m = model_create(&spec, be);
    m->vt->init_weights(m, 3);
    uint16_t *tokens = tb_malloc(N * sizeof(uint16_t));
    Rng r;
    rng_seed(&r, 9);
    for (int i = 0; i < N; i++) tokens[i] = (uint16_t)rng_below(&r, V);
    int bytes[64];
    for (int v = 0; v < V; v++) bytes[v] = 1 + v % 3;

    // Direct: each window alone, exactly its length, logits to nats in double.
    float *ref = tb_malloc((N - 1) * sizeof(float));
    double ref_nats = 0, ref_bytes = 0;
    m->vt->alloc_activations(m, 1, T);
    float *logits = tb_malloc((size_t)T * V * sizeof(float));
    for (int start = 0; start + 1 < N; start += T) {
        int len = N - 1 - start < T ? N - 1 - start : T;
        int32_t in[16];
        for (int t = 0; t < len; t++) in[t] = tokens[start + t];
        m->vt->forward(m, in, NULL, 1, len);
        be->to_host(logits, m->acts->logits, (size_t)len * V * sizeof(float));
        for (int t = 0; t < len; t++) {
            const float *row = logits + (size_t)t * V;
            double mx = row[0], z = 0;
            for (int v = 1; v < V; v++) mx = row[v] > mx ? row[v] : mx;
            for (int v = 0; v < V; v++) z += exp(row[v] - mx);
            int target = tokens[start + t + 1];
            ref[start + t] = (float)(log(z) + mx - row[target]);
            ref_nats += ref[start + t];
            ref_bytes += bytes[target];
        }
    }
    free(logits);

    int batches[2] = {1, 3};
    float *nats = tb_malloc((N - 1) * sizeof(float));
    for (int k = 0; k < 2; k++) {
        EvalOptions opt = {batches[k], T, 0};
        EvalResult res;
        for (int i = 0; i < N - 1; i++) nats[i] = NAN;
        CHECK(evaluate_tokens(m, tokens, N, bytes, &opt, &res, nats) == 0, "evaluate: %s", tb_last_error());
        CHECK(res.tokens == (uint64_t)(N - 1) && res.windows == 8, "B=%d: %llu tokens, %llu windows",
              batches[k], (unsigned long long)res.tokens, (unsigned long long)res.windows);
        check_close(batches[k] == 1 ? "per-token nats, B=1" : "per-token nats, B=3", nats, ref, N - 1,
                    1e-5f, 1e-5f);
        float got[3] = {(float)res.loss, (float)res.bpb, (float)res.sum_bytes};
        float want[3] = {(float)(ref_nats / (N - 1)), (float)(ref_nats / (M_LN2 * ref_bytes)), (float)ref_bytes};
        check_close("loss, bpb, bytes", got, want, 3, 1e-6f, 1e-5f);
    }
    // Reproducible: the same call twice gives the same bits.
    EvalOptions opt = {3, T, 0};
    EvalResult a, b;
    evaluate_tokens(m, tokens, N, bytes, &opt, &a, NULL);
    evaluate_tokens(m, tokens, N, bytes, &opt, &b, NULL);
    CHECK(memcmp(&a.sum_nats, &b.sum_nats, sizeof(double)) == 0, "evaluation is not reproducible");
    // max_windows limits the work.
    opt.max_windows = 2;
    evaluate_tokens(m, tokens, N, bytes, &opt, &a, NULL);
    CHECK(a.windows == 2 && a.tokens == 2 * (uint64_t)T, "max_windows 2: %llu tokens", (unsigned long long)a.tokens);

    // Bad input is refused with a clear error.
    opt.max_windows = 0;
    tokens[20] = (uint16_t)V;
    CHECK(evaluate_tokens(m, tokens, N, bytes, &opt, &a, NULL) != 0 && strstr(tb_last_error(), "token 20"),
          "out-of-vocabulary token accepted: %s", tb_last_error());
    CHECK(evaluate_tokens(m, tokens, 1, bytes, &opt, &a, NULL) != 0, "one token accepted");
    opt.T = 17;
    CHECK(evaluate_tokens(m, tokens, N, bytes, &opt, &a, NULL) != 0 && strstr(tb_last_error(), "context"),
          "window longer than the context accepted");
    free(nats), free(ref), free(tokens);
    model_destroy(m);
}

int main(void) {
    test_against_direct();
    return test_summary("test_evaluate");
}
