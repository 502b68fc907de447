// test_cuda_ops.c: every CUDA kernel except the scan against a plain-C
// reference, on random inputs, in both scheduling orders of the emulation
// (or natively under `make test-gpu`). Shapes are deliberately ragged (rows
// not a multiple of the warps per block, columns not a multiple of 32, more
// rows than one reduction slice) so that edge handling is exercised.
// Parameter gradients are pre-filled with random values to test "+=".
#include "test.h"

#include "cuda_ref.h"
#include "cuda_test_util.h"

static Rng rng;

// Tolerances |got - ref| <= atol + rtol |ref|, per op (reported by the CUDA
// README section): elementwise ops are exact up to libm differences; sums
// and GEMMs differ from the double-precision references by float rounding.
#define TOL_ELEMENTWISE 1e-6f, 1e-5f
#define TOL_REDUCTION 1e-5f, 1e-4f
#define TOL_GEMM 1e-5f, 1e-4f

static void test_linear(int order) {
    enum { N = 300, C = 20, OC = 45 };
    for (int w_in_out = 0; w_in_out < 2; w_in_out++) {
        const char *op = w_in_out ? "linear(in,out)" : "linear(out,in)";
        float *inp = host_random(&rng, N * C, -1, 1), *w = host_random(&rng, C * OC, -1, 1);
        float *bias = host_random(&rng, OC, -1, 1), *dout = host_random(&rng, N * OC, -1, 1);
        float *dw = host_random(&rng, C * OC, -1, 1), *db = host_random(&rng, OC, -1, 1);
        float *out_ref = tb_malloc(sizeof(float) * N * OC), *dinp_ref = tb_malloc(sizeof(float) * N * C);
        float *dw_ref = host_copy(dw, C * OC), *db_ref = host_copy(db, OC);
        ref_linear_forward(out_ref, inp, w, bias, N, C, OC, w_in_out);
        ref_linear_backward(dinp_ref, dw_ref, db_ref, dout, inp, w, N, C, OC, w_in_out);
        float *d_inp = dev_upload(inp, N * C), *d_w = dev_upload(w, C * OC), *d_b = dev_upload(bias, OC);
        float *d_dout = dev_upload(dout, N * OC), *d_dw = dev_upload(dw, C * OC), *d_db = dev_upload(db, OC);
        float *d_out = gpu->alloc(sizeof(float) * N * OC), *d_dinp = gpu->alloc(sizeof(float) * N * C);
        gpu->linear_forward(d_out, OC, d_inp, C, d_w, d_b, N, C, OC, w_in_out);
        gpu->linear_backward(d_dinp, C, d_dw, d_db, d_dout, OC, d_inp, C, d_w, N, C, OC, w_in_out);
        check_dev(op, "out", order, d_out, out_ref, N * OC, TOL_GEMM);
        check_dev(op, "dinp", order, d_dinp, dinp_ref, N * C, TOL_GEMM);
        check_dev(op, "dweight", order, d_dw, dw_ref, C * OC, TOL_GEMM);
        check_dev(op, "dbias", order, d_db, db_ref, OC, TOL_REDUCTION);
        // Without bias: forward without the add, backward skips dbias and dinp.
        ref_linear_forward(out_ref, inp, w, NULL, N, C, OC, w_in_out);
        gpu->linear_forward(d_out, OC, d_inp, C, d_w, NULL, N, C, OC, w_in_out);
        check_dev(op, "out (no bias)", order, d_out, out_ref, N * OC, TOL_GEMM);
        gpu->linear_backward(NULL, C, d_dw, NULL, d_dout, OC, d_inp, C, d_w, N, C, OC, w_in_out);
        ref_linear_backward(NULL, dw_ref, NULL, dout, inp, w, N, C, OC, w_in_out);
        check_dev(op, "dweight (second accumulation)", order, d_dw, dw_ref, C * OC, TOL_GEMM);
        void *frees[] = {inp, w, bias, dout, dw, db, out_ref, dinp_ref, dw_ref, db_ref};
        for (size_t i = 0; i < sizeof frees / sizeof *frees; i++) free(frees[i]);
        float *dfrees[] = {d_inp, d_w, d_b, d_dout, d_dw, d_db, d_out, d_dinp};
        for (size_t i = 0; i < sizeof dfrees / sizeof *dfrees; i++) gpu->free(dfrees[i]);
    }
}

// The embedding backward in the CPU's order: each dwte and dwpe row starts
// from its old value and adds dout's rows in position order, so the device
// must give the same bits (tolerance 0).
static void ref_embedding_backward(float *dwte, float *dwpe, const float *dout,
                                   const int32_t *tokens, int B, int T, int C) {
    for (int i = 0; i < B * T; i++)
        for (int c = 0; c < C; c++) {
            dwte[(size_t)tokens[i] * C + c] += dout[(size_t)i * C + c];
            if (dwpe) dwpe[(size_t)(i % T) * C + c] += dout[(size_t)i * C + c];
        }
}

// One shape: forward against its definition, the backward (with and
// without positions) against ref_embedding_backward, bit for bit.
static void check_embedding(int order, const char *name, const int32_t *tokens, int B, int T, int C,
                            int V) {
    float *wte = host_random(&rng, (size_t)V * C, -1, 1), *wpe = host_random(&rng, (size_t)T * C, -1, 1);
    float *dout = host_random(&rng, (size_t)B * T * C, -1, 1);
    float *dwte = host_random(&rng, (size_t)V * C, -1, 1), *dwpe = host_random(&rng, (size_t)T * C, -1, 1);
    float *out_ref = tb_malloc(sizeof(float) * B * T * C);
    float *dwte_ref = host_copy(dwte, (size_t)V * C), *dwpe_ref = host_copy(dwpe, (size_t)T * C);
    for (int i = 0; i < B * T; i++)
        for (int c = 0; c < C; c++)
            out_ref[(size_t)i * C + c] = wte[(size_t)tokens[i] * C + c] + wpe[(size_t)(i % T) * C + c];
    ref_embedding_backward(dwte_ref, dwpe_ref, dout, tokens, B, T, C);
    int32_t *d_tok = dev_upload_ints(tokens, (size_t)B * T);
    float *d_wte = dev_upload(wte, (size_t)V * C), *d_wpe = dev_upload(wpe, (size_t)T * C);
    float *d_dout = dev_upload(dout, (size_t)B * T * C);
    float *d_dwte = dev_upload(dwte, (size_t)V * C), *d_dwpe = dev_upload(dwpe, (size_t)T * C);
    float *d_out = gpu->alloc(sizeof(float) * B * T * C);
    gpu->embedding_forward(d_out, d_tok, d_wte, d_wpe, B, T, C);
    CudaCounters issued;
    backend_cuda_counters_reset();
    gpu->embedding_backward(d_dwte, d_dwpe, d_dout, d_tok, B, T, C);
    backend_cuda_counters(&issued);
    char op[64];
    snprintf(op, sizeof op, "embedding %s", name);
    // All on the device: the sort, the runs and dwpe in at most 3 launches, no copy.
    CHECK(issued.kernel_launches >= 2 && issued.kernel_launches <= 3 && issued.memcpy_h2d == 0 &&
              issued.memcpy_d2h == 0 && issued.memcpy_d2d == 0 && issued.memsets == 0,
          "%s: the backward issued %lld launches and %lld + %lld + %lld copies (h2d, d2h, d2d), "
          "%lld memsets", op, issued.kernel_launches, issued.memcpy_h2d, issued.memcpy_d2h,
          issued.memcpy_d2d, issued.memsets);
    check_dev(op, "out", order, d_out, out_ref, (size_t)B * T * C, TOL_ELEMENTWISE);
    check_dev(op, "dwte (exact)", order, d_dwte, dwte_ref, (size_t)V * C, 0, 0);
    check_dev(op, "dwpe (exact)", order, d_dwpe, dwpe_ref, (size_t)T * C, 0, 0);
    // Mamba's and the LSTM's embedding has no positions: dwpe is NULL.
    for (int i = 0; i < B * T * C; i++) out_ref[i] -= wpe[(size_t)((i / C) % T) * C + i % C];
    gpu->embedding_forward(d_out, d_tok, d_wte, NULL, B, T, C);
    check_dev(op, "out (no wpe)", order, d_out, out_ref, (size_t)B * T * C, TOL_ELEMENTWISE);
    ref_embedding_backward(dwte_ref, NULL, dout, tokens, B, T, C);
    gpu->embedding_backward(d_dwte, NULL, d_dout, d_tok, B, T, C);
    check_dev(op, "dwte (exact, no wpe)", order, d_dwte, dwte_ref, (size_t)V * C, 0, 0);
    void *frees[] = {wte, wpe, dout, dwte, dwpe, out_ref, dwte_ref, dwpe_ref};
    for (size_t i = 0; i < sizeof frees / sizeof *frees; i++) free(frees[i]);
    void *dfrees[] = {d_tok, d_wte, d_wpe, d_dout, d_dwte, d_dwpe, d_out};
    for (size_t i = 0; i < sizeof dfrees / sizeof *dfrees; i++) gpu->free(dfrees[i]);
}

static void test_embedding(int order) {
    // Few rows: six distinct tokens of 17, each repeated, the rest absent.
    enum { B = 3, T = 11, C = 40, V = 17 };
    int32_t tokens[B * T];
    for (int i = 0; i < B * T; i++) tokens[i] = (int32_t)rng_below(&rng, 6) * 3 % V;
    check_embedding(order, "3x11, 6 of 17 tokens", tokens, B, T, C, V);
    // Five sort tiles (the last partial), a vocabulary larger than a block,
    // rows wider than a block: one token in every row of the first half of
    // each sequence (so its run crosses every tile), the rest drawn from all
    // 3000, most of which never occur.
    enum { B2 = 5, T2 = 450, C2 = 150, V2 = 3000 };
    int32_t *many = tb_malloc(sizeof(int32_t) * B2 * T2);
    for (int i = 0; i < B2 * T2; i++)
        many[i] = i % T2 < T2 / 2 ? V2 - 1 : (int32_t)rng_below(&rng, V2);
    check_embedding(order, "5x450, 3000 tokens", many, B2, T2, C2, V2);
    // One row, and one token everywhere.
    int32_t one = 5;
    check_embedding(order, "1x1", &one, 1, 1, 8, 9);
    for (int i = 0; i < B2 * T2; i++) many[i] = 7;
    check_embedding(order, "5x450, one token", many, B2, T2, 3, 8);
    free(many);
}

static void test_norms(int order) {
    enum { N = 521, C = 70 };
    float *inp = host_random(&rng, N * C, -2, 2), *w = host_random(&rng, C, 0.5f, 1.5f);
    float *b = host_random(&rng, C, -1, 1), *dout = host_random(&rng, N * C, -1, 1);
    float *dinp = host_random(&rng, N * C, -1, 1), *dw = host_random(&rng, C, -1, 1);
    float *db = host_random(&rng, C, -1, 1);
    float *out_ref = tb_malloc(sizeof(float) * N * C), *mean_ref = tb_malloc(sizeof(float) * N);
    float *rstd_ref = tb_malloc(sizeof(float) * N);
    float *dinp_ref = host_copy(dinp, N * C), *dw_ref = host_copy(dw, C), *db_ref = host_copy(db, C);
    float *d_inp = dev_upload(inp, N * C), *d_w = dev_upload(w, C), *d_b = dev_upload(b, C);
    float *d_dout = dev_upload(dout, N * C), *d_dinp = dev_upload(dinp, N * C);
    float *d_dw = dev_upload(dw, C), *d_db = dev_upload(db, C);
    float *d_out = gpu->alloc(sizeof(float) * N * C), *d_mean = gpu->alloc(sizeof(float) * N);
    float *d_rstd = gpu->alloc(sizeof(float) * N);

    ref_layernorm_forward(out_ref, mean_ref, rstd_ref, inp, w, b, N, C, 1e-5f);
    ref_layernorm_backward(dinp_ref, dw_ref, db_ref, dout, inp, w, mean_ref, rstd_ref, N, C);
    gpu->layernorm_forward(d_out, d_mean, d_rstd, d_inp, d_w, d_b, N, C, 1e-5f);
    gpu->layernorm_backward(d_dinp, d_dw, d_db, d_dout, d_inp, d_w, d_mean, d_rstd, N, C);
    check_dev("layernorm", "out", order, d_out, out_ref, N * C, TOL_REDUCTION);
    check_dev("layernorm", "mean", order, d_mean, mean_ref, N, TOL_REDUCTION);
    check_dev("layernorm", "rstd", order, d_rstd, rstd_ref, N, TOL_REDUCTION);
    check_dev("layernorm", "dinp", order, d_dinp, dinp_ref, N * C, TOL_REDUCTION);
    check_dev("layernorm", "dweight", order, d_dw, dw_ref, C, TOL_REDUCTION);
    check_dev("layernorm", "dbias", order, d_db, db_ref, C, TOL_REDUCTION);

    memcpy(dinp_ref, dinp, sizeof(float) * N * C);
    memcpy(dw_ref, dw, sizeof(float) * C);
    gpu->to_device(d_dinp, dinp, sizeof(float) * N * C);
    gpu->to_device(d_dw, dw, sizeof(float) * C);
    ref_rmsnorm_forward(out_ref, rstd_ref, inp, w, N, C, 1e-5f);
    ref_rmsnorm_backward(dinp_ref, dw_ref, dout, inp, w, rstd_ref, N, C);
    gpu->rmsnorm_forward(d_out, d_rstd, d_inp, d_w, N, C, 1e-5f);
    gpu->rmsnorm_backward(d_dinp, d_dw, d_dout, d_inp, d_w, d_rstd, N, C);
    check_dev("rmsnorm", "out", order, d_out, out_ref, N * C, TOL_REDUCTION);
    check_dev("rmsnorm", "rstd", order, d_rstd, rstd_ref, N, TOL_REDUCTION);
    check_dev("rmsnorm", "dinp", order, d_dinp, dinp_ref, N * C, TOL_REDUCTION);
    check_dev("rmsnorm", "dweight", order, d_dw, dw_ref, C, TOL_REDUCTION);
    void *frees[] = {inp, w, b, dout, dinp, dw, db, out_ref, mean_ref, rstd_ref, dinp_ref, dw_ref, db_ref};
    for (size_t i = 0; i < sizeof frees / sizeof *frees; i++) free(frees[i]);
    float *dfrees[] = {d_inp, d_w, d_b, d_dout, d_dinp, d_dw, d_db, d_out, d_mean, d_rstd};
    for (size_t i = 0; i < sizeof dfrees / sizeof *dfrees; i++) gpu->free(dfrees[i]);
}

static void test_elementwise(int order) {
    enum { ROWS = 23, COLS = 37, STRIDE = 50, N = ROWS * STRIDE };
    float *x = host_random(&rng, N, -6, 6), *y = host_random(&rng, N, -6, 6);
    float *dout = host_random(&rng, N, -1, 1);
    float *ref = tb_malloc(sizeof(float) * N), *ref2 = tb_malloc(sizeof(float) * N);
    float *d_x = dev_upload(x, N), *d_y = dev_upload(y, N), *d_dout = dev_upload(dout, N);
    float *d_out = gpu->alloc(sizeof(float) * N), *d_out2 = gpu->alloc(sizeof(float) * N);

    for (int i = 0; i < N; i++) {
        double h = 1e-3 * (fabs(x[i]) + 1.0);  // derivative by central differences in double
        ref[i] = (float)ref_gelu(x[i]);
        ref2[i] = (float)(dout[i] * (ref_gelu(x[i] + h) - ref_gelu(x[i] - h)) / (2 * h));
    }
    gpu->gelu_forward(d_out, d_x, N);
    gpu->gelu_backward(d_out2, d_x, d_dout, N);
    check_dev("gelu", "out", order, d_out, ref, N, TOL_ELEMENTWISE);
    check_dev("gelu", "dinp", order, d_out2, ref2, N, 1e-5f, 1e-4f);

    // SiLU on strided rows: out and dinp keep their own stride, the rest untouched.
    memset(ref, 0, sizeof(float) * N);
    memset(ref2, 0, sizeof(float) * N);
    for (int r = 0; r < ROWS; r++)
        for (int c = 0; c < COLS; c++) {
            double v = x[r * STRIDE + c], s = ref_sigmoid(v);
            ref[r * COLS + c] = (float)(v * s);
            ref2[r * STRIDE + c] = (float)(dout[r * COLS + c] * s * (1 + v * (1 - s)));
        }
    gpu->zero(d_out, sizeof(float) * N);
    gpu->zero(d_out2, sizeof(float) * N);
    gpu->silu_forward(d_out, COLS, d_x, STRIDE, ROWS, COLS);
    gpu->silu_backward(d_out2, STRIDE, d_x, STRIDE, d_dout, ROWS, COLS);
    check_dev("silu", "out", order, d_out, ref, N, TOL_ELEMENTWISE);
    check_dev("silu", "dinp", order, d_out2, ref2, N, TOL_ELEMENTWISE);

    for (int i = 0; i < N; i++) ref[i] = x[i] + y[i];
    gpu->add(d_out, d_x, d_y, N);
    check_dev("add", "out", order, d_out, ref, N, 0, 0);
    gpu->add(d_out, d_out, d_y, N);  // aliasing out == a
    for (int i = 0; i < N; i++) ref[i] += y[i];
    check_dev("add", "out (aliased)", order, d_out, ref, N, 0, 0);
    for (int i = 0; i < N; i++) ref[i] += dout[i];
    gpu->accumulate(d_out, d_dout, N);
    check_dev("accumulate", "dst", order, d_out, ref, N, 0, 0);
    for (int i = 0; i < N; i++) ref[i] *= 0.37f;
    gpu->scale(d_out, 0.37f, N);
    check_dev("scale", "x", order, d_out, ref, N, 0, 0);
    void *frees[] = {x, y, dout, ref, ref2};
    for (size_t i = 0; i < sizeof frees / sizeof *frees; i++) free(frees[i]);
    float *dfrees[] = {d_x, d_y, d_dout, d_out, d_out2};
    for (size_t i = 0; i < sizeof dfrees / sizeof *dfrees; i++) gpu->free(dfrees[i]);
}

static void test_attention(int order) {
    enum { B = 2, T = 13, C = 24, NH = 3, HS = C / NH };
    size_t nqkv = (size_t)B * T * 3 * C, natt = (size_t)B * NH * T * T, nout = (size_t)B * T * C;
    float *qkv = host_random(&rng, nqkv, -1.5f, 1.5f), *dout = host_random(&rng, nout, -1, 1);
    float *out_ref = tb_malloc(sizeof(float) * nout), *att_ref = tb_malloc(sizeof(float) * natt);
    float *dqkv_ref = tb_malloc(sizeof(float) * nqkv);
    ref_attention_forward(out_ref, att_ref, qkv, B, T, C, NH);
    ref_attention_backward(dqkv_ref, dout, qkv, att_ref, B, T, C, NH);
    float *d_qkv = dev_upload(qkv, nqkv), *d_dout = dev_upload(dout, nout);
    float *d_out = gpu->alloc(sizeof(float) * nout), *d_att = gpu->alloc(sizeof(float) * natt);
    float *d_dqkv = gpu->alloc(sizeof(float) * nqkv), *d_scratch = gpu->alloc(sizeof(float) * natt);
    gpu->attention_forward(d_out, d_att, d_qkv, B, T, C, NH);
    gpu->attention_backward(d_dqkv, d_scratch, d_dout, d_qkv, d_att, B, T, C, NH);
    check_dev("attention", "out", order, d_out, out_ref, nout, TOL_GEMM);
    check_dev("attention", "att", order, d_att, att_ref, natt, TOL_GEMM);
    check_dev("attention", "dqkv", order, d_dqkv, dqkv_ref, nqkv, TOL_GEMM);

    // Decode: feeding batch 0's tokens one at a time reproduces its outputs.
    enum { MAX_T = 16 };
    float *d_kc = gpu->alloc(sizeof(float) * NH * MAX_T * HS), *d_vc = gpu->alloc(sizeof(float) * NH * MAX_T * HS);
    float *d_step = gpu->alloc(sizeof(float) * C);
    int32_t *d_pos = gpu->alloc(sizeof(int32_t));
    float *got = tb_malloc(sizeof(float) * T * C);
    for (int t = 0; t < T; t++) {
        int32_t pos = t;
        gpu->to_device(d_pos, &pos, sizeof pos);
        gpu->attention_decode(d_step, d_kc, d_vc, d_qkv + (size_t)t * 3 * C, d_pos, 1, 1, MAX_T, C, NH);
        gpu->to_host(got + t * C, d_step, sizeof(float) * C);
    }
    char what[64];
    snprintf(what, sizeof what, "attention_decode out (%s order)", order_name(order));
    check_close(what, got, out_ref, T * C, TOL_GEMM);
    // Both sequences at once, each into its own cache (B, MAX_T, C): every
    // row of out (B, T, C) is the forward's.
    float *d_kc2 = gpu->alloc(sizeof(float) * B * MAX_T * C), *d_vc2 = gpu->alloc(sizeof(float) * B * MAX_T * C);
    int32_t zeros[B] = {0}, *d_pos2 = gpu->alloc(sizeof zeros);
    gpu->to_device(d_pos2, zeros, sizeof zeros);
    gpu->attention_decode(d_out, d_kc2, d_vc2, d_qkv, d_pos2, B, T, MAX_T, C, NH);
    check_dev("attention_decode", "out of both sequences in one call", order, d_out, out_ref, nout, TOL_GEMM);
    gpu->free(d_kc2), gpu->free(d_vc2), gpu->free(d_pos2);
    void *frees[] = {qkv, dout, out_ref, att_ref, dqkv_ref, got};
    for (size_t i = 0; i < sizeof frees / sizeof *frees; i++) free(frees[i]);
    float *dfrees[] = {d_qkv, d_dout, d_out, d_att, d_dqkv, d_scratch, d_kc, d_vc, d_step};
    for (size_t i = 0; i < sizeof dfrees / sizeof *dfrees; i++) gpu->free(dfrees[i]);
    gpu->free(d_pos);
}

static void test_crossentropy(int order) {
    enum { N = 9, V = 300 };
    float *logits = host_random(&rng, N * V, -4, 4);
    int32_t targets[N];
    for (int i = 0; i < N; i++) targets[i] = (int32_t)rng_below(&rng, V);
    targets[4] = -1;  // ignored
    float losses_ref[N], *dlogits_ref = tb_malloc(sizeof(float) * N * V);
    const float dloss = 1.0f / 8;
    for (int i = 0; i < N; i++) {
        double mx = -INFINITY, sum = 0.0;
        for (int v = 0; v < V; v++) mx = fmax(mx, logits[i * V + v]);
        for (int v = 0; v < V; v++) sum += exp(logits[i * V + v] - mx);
        double lse = mx + log(sum);
        losses_ref[i] = targets[i] < 0 ? 0.0f : (float)(lse - logits[i * V + targets[i]]);
        for (int v = 0; v < V; v++)
            dlogits_ref[i * V + v] = targets[i] < 0 ? 0.0f
                : (float)(dloss * (exp(logits[i * V + v] - lse) - (v == targets[i])));
    }
    float *d_logits = dev_upload(logits, N * V), *d_losses = gpu->alloc(sizeof(float) * N);
    float *d_dlogits = gpu->alloc(sizeof(float) * N * V);
    int32_t *d_targets = dev_upload_ints(targets, N);
    gpu->crossentropy_forward_backward(d_losses, d_dlogits, d_logits, d_targets, N, V, dloss);
    check_dev("crossentropy", "losses", order, d_losses, losses_ref, N, TOL_REDUCTION);
    check_dev("crossentropy", "dlogits", order, d_dlogits, dlogits_ref, N * V, 1e-7f, 1e-4f);
    // In place (dlogits aliases logits), as the models call it.
    gpu->crossentropy_forward_backward(d_losses, d_logits, d_logits, d_targets, N, V, dloss);
    check_dev("crossentropy", "losses (in place)", order, d_losses, losses_ref, N, TOL_REDUCTION);
    check_dev("crossentropy", "dlogits (in place)", order, d_logits, dlogits_ref, N * V, 1e-7f, 1e-4f);
    free(logits);
    free(dlogits_ref);
    gpu->free(d_logits), gpu->free(d_losses), gpu->free(d_dlogits), gpu->free(d_targets);
}

static void test_optimizer(int order) {
    enum { N = 70001 };
    float *p = host_random(&rng, N, -1, 1), *g = host_random(&rng, N, -1, 1);
    float *m = host_random(&rng, N, -0.1f, 0.1f), *v = host_random(&rng, N, 0, 0.01f);
    double ss = 0.0;
    for (int i = 0; i < N; i++) ss += (double)g[i] * g[i];
    float *d_p = dev_upload(p, N), *d_g = dev_upload(g, N), *d_m = dev_upload(m, N), *d_v = dev_upload(v, N);
    double got = gpu->sum_squares(d_g, N);
    CHECK(fabs(got - ss) <= 1e-9 * ss, "sum_squares %.12g vs %.12g (%s order)", got, ss, order_name(order));
    CHECK(gpu->sum_squares(d_g, N) == got, "sum_squares not deterministic");
    const float lr = 1e-3f, b1 = 0.9f, b2 = 0.95f, eps = 1e-8f, wd = 0.5f, scale = 0.5f;
    const int t = 3;
    // Decay on three spans: the first elements, a middle stretch, the last ones.
    size_t spans[6] = {0, 1000, 5000, 40000, N - 11, N};
    size_t *d_spans = (size_t *)gpu->alloc(sizeof spans);
    gpu->to_device(d_spans, spans, sizeof spans);
    for (int i = 0; i < N; i++) {  // torch.optim.AdamW, in double
        int decayed = (size_t)i < spans[1] || (spans[2] <= (size_t)i && (size_t)i < spans[3]) || (size_t)i >= spans[4];
        double gi = (double)g[i] * scale;
        double mi = b1 * (double)m[i] + (1 - b1) * gi, vi = b2 * (double)v[i] + (1 - b2) * gi * gi;
        double bc1 = 1 - pow(b1, t), bc2 = 1 - pow(b2, t);
        double pi = p[i] * (1 - (double)lr * (decayed ? wd : 0.0f));
        p[i] = (float)(pi - lr / bc1 * mi / (sqrt(vi) / sqrt(bc2) + eps));
        m[i] = (float)mi;
        v[i] = (float)vi;
    }
    gpu->adamw_update(d_p, d_g, d_m, d_v, N, d_spans, 3, lr, b1, b2, eps, wd, scale, t);
    gpu->free(d_spans);
    // At wd 0.5 the decay moves a weight by 5e-4 of itself, 50 times the tolerance.
    check_dev("adamw", "param", order, d_p, p, N, 1e-6f, 1e-5f);
    check_dev("adamw", "m", order, d_m, m, N, 1e-7f, 1e-5f);
    check_dev("adamw", "v", order, d_v, v, N, 1e-9f, 1e-5f);
    free(p), free(g), free(m), free(v);
    gpu->free(d_p), gpu->free(d_g), gpu->free(d_m), gpu->free(d_v);
}

static void test_conv1d(int order) {
    enum { B = 2, L = 150, D = 40, K = 4, XS = 2 * D + 3 };  // x is a strided view
    size_t nx = (size_t)B * L * XS, n = (size_t)B * L * D;
    float *x = host_random(&rng, nx, -1, 1), *w = host_random(&rng, D * K, -1, 1);
    float *bias = host_random(&rng, D, -1, 1), *dout = host_random(&rng, n, -1, 1);
    float *dw = host_random(&rng, D * K, -1, 1), *db = host_random(&rng, D, -1, 1);
    float *out_ref = tb_malloc(sizeof(float) * n), *dx_ref = tb_malloc(sizeof(float) * nx);
    float *dw_ref = host_copy(dw, D * K), *db_ref = host_copy(db, D);
    memset(dx_ref, 0, sizeof(float) * nx);
    ref_conv1d_forward(out_ref, x, XS, w, bias, B, L, D, K);
    ref_conv1d_backward(dx_ref, XS, dw_ref, db_ref, dout, x, XS, w, B, L, D, K);
    float *d_x = dev_upload(x, nx), *d_w = dev_upload(w, D * K), *d_b = dev_upload(bias, D);
    float *d_dout = dev_upload(dout, n), *d_dw = dev_upload(dw, D * K), *d_db = dev_upload(db, D);
    float *d_out = gpu->alloc(sizeof(float) * n), *d_dx = gpu->alloc(sizeof(float) * nx);
    gpu->conv1d_forward(d_out, d_x, XS, NULL, d_w, d_b, B, L, D, K);
    gpu->conv1d_backward(d_dx, XS, d_dw, d_db, d_dout, d_x, XS, d_w, B, L, D, K);
    check_dev("conv1d", "out", order, d_out, out_ref, n, TOL_REDUCTION);
    check_dev("conv1d", "dx", order, d_dx, dx_ref, nx, TOL_REDUCTION);
    check_dev("conv1d", "dweight", order, d_dw, dw_ref, D * K, TOL_REDUCTION);
    check_dev("conv1d", "dbias", order, d_db, db_ref, D, TOL_REDUCTION);

    // The state after the whole sequence (both batches): its last K rows.
    float *d_state = gpu->alloc(sizeof(float) * B * D * K), *d_step = gpu->alloc(sizeof(float) * D);
    float state_ref[B * D * K];
    gpu->conv1d_state_from_sequence(d_state, d_x, XS, B, L, D, K);
    for (int b = 0; b < B; b++)
        for (int d = 0; d < D; d++)
            for (int k = 0; k < K; k++)
                state_ref[(b * D + d) * K + k] = x[((size_t)b * L + L - K + k) * XS + d];
    float *state = dev_download(d_state, B * D * K);
    char what[64];
    snprintf(what, sizeof what, "conv1d_state_from_sequence (%s order)", order_name(order));
    check_close(what, state, state_ref, B * D * K, 0, 0);
    free(state);
    // Prefill from the first Lp steps of batch 1 (fewer than K: the state
    // starts with zeros), then step through the rest: each step's output is
    // the full convolution's row.
    const int Lp = 2;
    gpu->zero(d_state, sizeof(float) * D * K);  // a reset decoder
    gpu->conv1d_state_from_sequence(d_state, d_x + (size_t)L * XS, XS, 1, Lp, D, K);
    for (int d = 0; d < D; d++)
        for (int k = 0; k < K; k++) {
            int t = Lp - K + k;
            state_ref[d * K + k] = t >= 0 ? x[((size_t)L + t) * XS + d] : 0.0f;
        }
    state = dev_download(d_state, D * K);
    snprintf(what, sizeof what, "conv1d_state_from_sequence short (%s order)", order_name(order));
    check_close(what, state, state_ref, D * K, 0, 0);
    float *got = tb_malloc(sizeof(float) * L * D), *want = tb_malloc(sizeof(float) * L * D);
    for (int t = Lp; t < L; t++) {
        gpu->conv1d_silu_step(d_step, d_state, d_x + ((size_t)L + t) * XS, d_w, d_b, D, K);
        gpu->to_host(got + t * D, d_step, sizeof(float) * D);
        for (int d = 0; d < D; d++) {  // the step applies SiLU to the conv's row
            double c = out_ref[((size_t)L + t) * D + d];
            want[t * D + d] = (float)(c / (1.0 + exp(-c)));
        }
    }
    snprintf(what, sizeof what, "conv1d_silu_step (%s order)", order_name(order));
    check_close(what, got + Lp * D, want + Lp * D, (L - Lp) * D, TOL_REDUCTION);
    void *frees[] = {x, w, bias, dout, dw, db, out_ref, dx_ref, dw_ref, db_ref, state, got, want};
    for (size_t i = 0; i < sizeof frees / sizeof *frees; i++) free(frees[i]);
    float *dfrees[] = {d_x, d_w, d_b, d_dout, d_dw, d_db, d_out, d_dx, d_state, d_step};
    for (size_t i = 0; i < sizeof dfrees / sizeof *dfrees; i++) gpu->free(dfrees[i]);
}

// The same op twice on the same input: bit-identical results. (Meaningful
// on a GPU, where a float atomic would make it fail; the emulation runs
// blocks in a fixed order, so there it checks the plumbing.)
static void test_determinism(void) {
    enum { N = 700, C = 33, OC = 29 };
    float *inp = host_random(&rng, N * C, -1, 1), *dout = host_random(&rng, N * OC, -1, 1);
    float *w = host_random(&rng, C * OC, -1, 1);
    float *d_inp = dev_upload(inp, N * C), *d_dout = dev_upload(dout, N * OC), *d_w = dev_upload(w, C * OC);
    float *dw[2], *db[2];
    for (int r = 0; r < 2; r++) {
        dw[r] = gpu->alloc(sizeof(float) * C * OC);
        db[r] = gpu->alloc(sizeof(float) * OC);
        gpu->linear_backward(NULL, C, dw[r], db[r], d_dout, OC, d_inp, C, d_w, N, C, OC, 1);
    }
    CHECK(dev_bits_equal(dw[0], dw[1], C * OC) && dev_bits_equal(db[0], db[1], OC),
          "linear_backward is not bit-for-bit reproducible");
    free(inp), free(dout), free(w);
    gpu->free(d_inp), gpu->free(d_dout), gpu->free(d_w);
    for (int r = 0; r < 2; r++) gpu->free(dw[r]), gpu->free(db[r]);
}

// The backend describes itself: its device, host threads and the matmuls'
// precision, which follows the TF32 switch.
static void test_describe(void) {
    BackendInfo info;
    gpu->describe(&info);
    CHECK(!gpu->on_host && info.device[0] && tb_streq(info.device, backend_cuda_device_name()) &&
              tb_streq(info.precision, "fp32"),
          "the CUDA backend describes itself as '%s', '%s'", info.device, info.precision);
    backend_cuda_set_tf32(1);
    gpu->describe(&info);
    CHECK(tb_streq(info.precision, "tf32"), "with TF32 on, the precision reads '%s'", info.precision);
    backend_cuda_set_tf32(0);
    gpu->set_threads(2);
    gpu->describe(&info);
    CHECK(info.threads == 2, "after set_threads(2) the CUDA backend reports %d host threads",
          info.threads);
}

int main(void) {
    if (!open_gpu()) return test_summary("test_cuda_ops") | 1;
    rng_seed(&rng, 1234);
    for (int order = 0; order < num_orders(); order++) {
        use_order(order);
        test_linear(order);
        test_embedding(order);
        test_norms(order);
        test_elementwise(order);
        test_attention(order);
        test_crossentropy(order);
        test_optimizer(order);
        test_conv1d(order);
    }
    test_determinism();
    test_describe();
    return test_summary("test_cuda_ops");
}
