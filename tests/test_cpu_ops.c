// test_cpu_ops.c: each CPU op (the GPT-2 set) against a plain double-precision
// reference written straight from the formula, on random inputs whose sizes
// are not multiples of any block or vector width.
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/cpu/cpu_ops.h"
#include "lib/common.h"
#include "test.h"

// fp32 results against double references; sums of up to a few hundred terms.
#define ATOL 1e-5f
#define RTOL 1e-5f

static Rng rng;

static float *randn(size_t n, float std) {
    float *x = tb_malloc(n * sizeof(float) + 1);
    for (size_t i = 0; i < n; i++) x[i] = std * rng_normal(&rng);
    return x;
}

static float *copy_of(const float *x, size_t n) {
    float *y = tb_malloc(n * sizeof(float) + 1);
    memcpy(y, x, n * sizeof(float));
    return y;
}

static float *to_float(const double *x, size_t n) {
    float *y = tb_malloc(n * sizeof(float) + 1);
    for (size_t i = 0; i < n; i++) y[i] = (float)x[i];
    return y;
}

// ---------------------------------------------------------------- linear

static void test_linear(int N, int C, int OC, int w_in_out, int with_bias) {
    char what[96];
    float *inp = randn((size_t)N * C, 1.0f), *w = randn((size_t)C * OC, 0.5f);
    float *bias = with_bias ? randn(OC, 1.0f) : NULL;
    float *out = randn((size_t)N * OC, 1.0f);  // garbage: must be overwritten
    linear_forward_cpu(out, OC, inp, C, w, bias, N, C, OC, w_in_out);
    double *ref = calloc((size_t)N * OC, sizeof(double));
    for (int i = 0; i < N; i++)
        for (int o = 0; o < OC; o++) {
            double s = bias ? bias[o] : 0.0;
            for (int c = 0; c < C; c++)
                s += (double)inp[i * C + c] * (w_in_out ? w[c * OC + o] : w[o * C + c]);
            ref[i * OC + o] = s;
        }
    float *reff = to_float(ref, (size_t)N * OC);
    snprintf(what, sizeof what, "linear_forward N%d C%d OC%d layout%d bias%d", N, C, OC, w_in_out, with_bias);
    check_close(what, out, reff, (size_t)N * OC, ATOL, RTOL);

    // Backward: dinp written, dweight and dbias accumulate onto what is there.
    float *dout = randn((size_t)N * OC, 1.0f), *dinp = randn((size_t)N * C, 1.0f);
    float *dw0 = randn((size_t)C * OC, 1.0f), *dw = copy_of(dw0, (size_t)C * OC);
    float *db0 = randn(OC, 1.0f), *db = copy_of(db0, OC);
    linear_backward_cpu(dinp, C, dw, with_bias ? db : NULL, dout, OC, inp, C, w, N, C, OC, w_in_out);
    double *rdinp = calloc((size_t)N * C, sizeof(double)), *rdw = calloc((size_t)C * OC, sizeof(double));
    double *rdb = calloc(OC, sizeof(double));
    for (size_t i = 0; i < (size_t)C * OC; i++) rdw[i] = dw0[i];
    for (int o = 0; o < OC; o++) rdb[o] = db0[o];
    for (int i = 0; i < N; i++)
        for (int o = 0; o < OC; o++) {
            double g = dout[i * OC + o];
            rdb[o] += g;
            for (int c = 0; c < C; c++) {
                size_t wi = w_in_out ? (size_t)c * OC + o : (size_t)o * C + c;
                rdinp[i * C + c] += g * w[wi];
                rdw[wi] += g * inp[i * C + c];
            }
        }
    float *f;
    snprintf(what, sizeof what, "linear_backward dinp N%d layout%d", N, w_in_out);
    check_close(what, dinp, f = to_float(rdinp, (size_t)N * C), (size_t)N * C, ATOL, RTOL), free(f);
    // dweight sums N products of unit-size terms: fp32 rounding grows with the
    // length of the sum (sgemm's blocking decides its order), so the absolute
    // tolerance does too, about one ulp of 1.0 per term.
    snprintf(what, sizeof what, "linear_backward dweight N%d layout%d", N, w_in_out);
    check_close(what, dw, f = to_float(rdw, (size_t)C * OC), (size_t)C * OC,
                ATOL + 1.2e-7f * (float)N, RTOL), free(f);
    if (with_bias) {
        snprintf(what, sizeof what, "linear_backward dbias N%d layout%d", N, w_in_out);
        check_close(what, db, f = to_float(rdb, OC), OC, ATOL, RTOL), free(f);
    } else {
        CHECK(memcmp(db, db0, OC * sizeof(float)) == 0, "linear_backward touched dbias given NULL");
    }
    free(inp), free(w), free(bias), free(out), free(ref), free(reff), free(dout), free(dinp);
    free(dw0), free(dw), free(db0), free(db), free(rdinp), free(rdw), free(rdb);
}

// ---------------------------------------------------------------- embedding

static void test_embedding(int with_wpe) {
    const int B = 3, T = 7, C = 21, V = 5;  // V small: tokens repeat
    int32_t tokens[3 * 7];
    for (int i = 0; i < B * T; i++) tokens[i] = (int32_t)rng_below(&rng, V);
    float *wte = randn((size_t)V * C, 1.0f), *wpe = randn((size_t)T * C, 1.0f);
    float *out = randn((size_t)B * T * C, 1.0f);
    embedding_forward_cpu(out, tokens, wte, with_wpe ? wpe : NULL, B, T, C);
    double ref[3 * 7 * 21];
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int c = 0; c < C; c++)
                ref[(b * T + t) * C + c] = (double)wte[tokens[b * T + t] * C + c] +
                                           (with_wpe ? wpe[t * C + c] : 0.0);
    float *f = to_float(ref, (size_t)B * T * C);
    check_close(with_wpe ? "embedding_forward wpe" : "embedding_forward", out, f, (size_t)B * T * C, 0, 1e-7f);
    free(f);

    float *dout = randn((size_t)B * T * C, 1.0f);
    float *dwte0 = randn((size_t)V * C, 1.0f), *dwte = copy_of(dwte0, (size_t)V * C);
    float *dwpe0 = randn((size_t)T * C, 1.0f), *dwpe = copy_of(dwpe0, (size_t)T * C);
    embedding_backward_cpu(dwte, with_wpe ? dwpe : NULL, dout, tokens, B, T, C);
    double rwte[5 * 21], rwpe[7 * 21];
    for (int i = 0; i < V * C; i++) rwte[i] = dwte0[i];
    for (int i = 0; i < T * C; i++) rwpe[i] = dwpe0[i];
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int c = 0; c < C; c++) {
                rwte[tokens[b * T + t] * C + c] += dout[(b * T + t) * C + c];
                rwpe[t * C + c] += dout[(b * T + t) * C + c];
            }
    check_close("embedding_backward dwte", dwte, f = to_float(rwte, (size_t)V * C), (size_t)V * C, ATOL, RTOL), free(f);
    if (with_wpe)
        check_close("embedding_backward dwpe", dwpe, f = to_float(rwpe, (size_t)T * C), (size_t)T * C, ATOL, RTOL), free(f);
    else
        CHECK(memcmp(dwpe, dwpe0, (size_t)T * C * sizeof(float)) == 0, "embedding_backward touched dwpe given NULL");
    free(wte), free(wpe), free(out), free(dout), free(dwte0), free(dwte), free(dwpe0), free(dwpe);
}

// ---------------------------------------------------------------- layernorm

static void test_layernorm(void) {
    const int N = 13, C = 70;
    const float eps = 1e-5f;
    float *inp = randn((size_t)N * C, 2.0f), *w = randn(C, 1.0f), *bias = randn(C, 1.0f);
    for (int i = 0; i < N * C; i++) inp[i] += 3.0f;  // a non-zero mean
    float *out = randn((size_t)N * C, 1.0f), mean[13], rstd[13];
    layernorm_forward_cpu(out, mean, rstd, inp, w, bias, N, C, eps);
    double ref[13 * 70], rmean[13], rrstd[13];
    for (int i = 0; i < N; i++) {
        double m = 0, v = 0;
        for (int c = 0; c < C; c++) m += inp[i * C + c];
        m /= C;
        for (int c = 0; c < C; c++) v += (inp[i * C + c] - m) * (inp[i * C + c] - m);
        v /= C;
        rmean[i] = m, rrstd[i] = 1.0 / sqrt(v + eps);
        for (int c = 0; c < C; c++) ref[i * C + c] = (inp[i * C + c] - m) * rrstd[i] * w[c] + bias[c];
    }
    float *f;
    check_close("layernorm_forward out", out, f = to_float(ref, (size_t)N * C), (size_t)N * C, ATOL, RTOL), free(f);
    check_close("layernorm_forward mean", mean, f = to_float(rmean, N), N, ATOL, RTOL), free(f);
    check_close("layernorm_forward rstd", rstd, f = to_float(rrstd, N), N, ATOL, RTOL), free(f);

    // Backward by the chain rule written out element by element:
    // y_c = n_c w_c + b_c, n_c = (x_c - m) r; dn_c/dx_k = r (delta_ck - 1/C - n_c n_k / C).
    float *dout = randn((size_t)N * C, 1.0f);
    float *dinp0 = randn((size_t)N * C, 1.0f), *dinp = copy_of(dinp0, (size_t)N * C);
    float *dw0 = randn(C, 1.0f), *dw = copy_of(dw0, C), *db0 = randn(C, 1.0f), *db = copy_of(db0, C);
    layernorm_backward_cpu(dinp, dw, db, dout, inp, w, mean, rstd, N, C);
    double rdinp[13 * 70], rdw[70], rdb[70];
    for (int c = 0; c < C; c++) rdw[c] = dw0[c], rdb[c] = db0[c];
    for (int i = 0; i < N; i++) {
        double r = rrstd[i];
        for (int k = 0; k < C; k++) {
            double g = dinp0[i * C + k];
            for (int c = 0; c < C; c++) {
                double nc = (inp[i * C + c] - rmean[i]) * r, nk = (inp[i * C + k] - rmean[i]) * r;
                g += dout[i * C + c] * w[c] * r * ((c == k) - 1.0 / C - nc * nk / C);
            }
            rdinp[i * C + k] = g;
        }
        for (int c = 0; c < C; c++) {
            rdw[c] += dout[i * C + c] * (inp[i * C + c] - rmean[i]) * r;
            rdb[c] += dout[i * C + c];
        }
    }
    check_close("layernorm_backward dinp", dinp, f = to_float(rdinp, (size_t)N * C), (size_t)N * C, 1e-4f, 1e-4f), free(f);
    check_close("layernorm_backward dweight", dw, f = to_float(rdw, C), C, ATOL, RTOL), free(f);
    check_close("layernorm_backward dbias", db, f = to_float(rdb, C), C, ATOL, RTOL), free(f);
    free(inp), free(w), free(bias), free(out), free(dout), free(dinp0), free(dinp);
    free(dw0), free(dw), free(db0), free(db);
}

// ---------------------------------------------------------------- gelu, elementwise

static double gelu_ref(double x) {
    return 0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}

static void test_gelu_elementwise(void) {
    const size_t n = 1003;
    float *x = randn(n, 3.0f), *out = randn(n, 1.0f), *dout = randn(n, 1.0f), *dinp = randn(n, 1.0f);
    double ref[1003], dref[1003];
    gelu_forward_cpu(out, x, n);
    gelu_backward_cpu(dinp, x, dout, n);
    // The derivative reference is a central difference of the formula in
    // double: independent of the analytic derivative the op uses.
    for (size_t i = 0; i < n; i++) {
        double h = 1e-6;
        ref[i] = gelu_ref(x[i]);
        dref[i] = dout[i] * (gelu_ref(x[i] + h) - gelu_ref(x[i] - h)) / (2 * h);
    }
    float *f;
    check_close("gelu_forward", out, f = to_float(ref, n), n, 1e-6f, 1e-5f), free(f);
    check_close("gelu_backward", dinp, f = to_float(dref, n), n, 1e-5f, 1e-4f), free(f);
    gelu_backward_cpu(dout, x, dout, n);  // in place (dinp aliasing dout)
    check_close("gelu_backward in place", dout, dinp, n, 0, 0);

    float *a = randn(n, 1.0f), *b = randn(n, 1.0f), *sum = randn(n, 1.0f);
    add_cpu(sum, a, b, n);
    for (size_t i = 0; i < n; i++) ref[i] = (double)a[i] + b[i];
    check_close("add", sum, f = to_float(ref, n), n, 0, 1e-7f), free(f);
    accumulate_cpu(a, b, n);  // a += b
    check_close("accumulate", a, sum, n, 0, 0);
    scale_cpu(a, 0.25f, n);
    for (size_t i = 0; i < n; i++) ref[i] = 0.25 * sum[i];
    check_close("scale", a, f = to_float(ref, n), n, 0, 0), free(f);
    free(x), free(out), free(dout), free(dinp), free(a), free(b), free(sum);
}

// ---------------------------------------------------------------- attention

// Plain causal attention in double, straight from the definitions.
static void attention_ref(double *y, double *P, const float *qkv, int B, int T, int C, int NH) {
    int hs = C / NH;
    double scale = 1.0 / sqrt((double)hs);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            double *p = P + ((size_t)b * NH + h) * T * T;
            for (int i = 0; i < T; i++) {
                const float *q = qkv + ((size_t)b * T + i) * 3 * C + h * hs;
                double maxv = -INFINITY, sum = 0;
                for (int j = 0; j < T; j++) {
                    const float *k = qkv + ((size_t)b * T + j) * 3 * C + C + h * hs;
                    double s = 0;
                    for (int d = 0; d < hs; d++) s += (double)q[d] * k[d];
                    p[i * T + j] = j <= i ? s * scale : -INFINITY;
                    if (j <= i && p[i * T + j] > maxv) maxv = p[i * T + j];
                }
                for (int j = 0; j < T; j++) sum += p[i * T + j] = j <= i ? exp(p[i * T + j] - maxv) : 0.0;
                for (int j = 0; j < T; j++) p[i * T + j] /= sum;
                for (int d = 0; d < hs; d++) {
                    double s = 0;
                    for (int j = 0; j <= i; j++)
                        s += p[i * T + j] * qkv[((size_t)b * T + j) * 3 * C + 2 * C + h * hs + d];
                    y[((size_t)b * T + i) * C + h * hs + d] = s;
                }
            }
        }
}

static void attention_backward_ref(double *dqkv, const float *dy, const float *qkv, const double *P,
                                   int B, int T, int C, int NH) {
    int hs = C / NH;
    double scale = 1.0 / sqrt((double)hs);
    double *dP = malloc((size_t)T * T * sizeof(double)), *dS = malloc((size_t)T * T * sizeof(double));
    memset(dqkv, 0, (size_t)B * T * 3 * C * sizeof(double));
#define Q(t, d) qkv[((size_t)b * T + (t)) * 3 * C + h * hs + (d)]
#define K(t, d) qkv[((size_t)b * T + (t)) * 3 * C + C + h * hs + (d)]
#define VV(t, d) qkv[((size_t)b * T + (t)) * 3 * C + 2 * C + h * hs + (d)]
#define DQ(t, d) dqkv[((size_t)b * T + (t)) * 3 * C + h * hs + (d)]
#define DK(t, d) dqkv[((size_t)b * T + (t)) * 3 * C + C + h * hs + (d)]
#define DV(t, d) dqkv[((size_t)b * T + (t)) * 3 * C + 2 * C + h * hs + (d)]
#define DY(t, d) dy[((size_t)b * T + (t)) * C + h * hs + (d)]
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            const double *p = P + ((size_t)b * NH + h) * T * T;
            for (int i = 0; i < T; i++)
                for (int j = 0; j < T; j++) {
                    double s = 0;
                    for (int d = 0; d < hs; d++) s += DY(i, d) * VV(j, d);
                    dP[i * T + j] = s;
                }
            for (int i = 0; i < T; i++) {
                double dot = 0;
                for (int j = 0; j < T; j++) dot += p[i * T + j] * dP[i * T + j];
                for (int j = 0; j < T; j++) dS[i * T + j] = p[i * T + j] * (dP[i * T + j] - dot);
            }
            for (int i = 0; i < T; i++)
                for (int j = 0; j <= i; j++)
                    for (int d = 0; d < hs; d++) {
                        DQ(i, d) += scale * dS[i * T + j] * K(j, d);
                        DK(j, d) += scale * dS[i * T + j] * Q(i, d);
                        DV(j, d) += p[i * T + j] * DY(i, d);
                    }
        }
#undef Q
#undef K
#undef VV
#undef DQ
#undef DK
#undef DV
#undef DY
    free(dP), free(dS);
}

static void test_attention(int B, int T, int C, int NH) {
    char what[96];
    size_t nqkv = (size_t)B * T * 3 * C, ny = (size_t)B * T * C, natt = (size_t)B * NH * T * T;
    float *qkv = randn(nqkv, 1.0f), *out = randn(ny, 1.0f), *att = randn(natt, 1.0f);
    attention_forward_cpu(out, att, qkv, B, T, C, NH);
    double *ry = malloc(ny * sizeof(double)), *rP = malloc(natt * sizeof(double));
    attention_ref(ry, rP, qkv, B, T, C, NH);
    float *f;
    snprintf(what, sizeof what, "attention_forward out B%d T%d C%d NH%d", B, T, C, NH);
    check_close(what, out, f = to_float(ry, ny), ny, ATOL, RTOL), free(f);
    snprintf(what, sizeof what, "attention_forward probabilities T%d (zero above the diagonal)", T);
    check_close(what, att, f = to_float(rP, natt), natt, 1e-6f, RTOL), free(f);

    float *dy = randn(ny, 1.0f), *dqkv = randn(nqkv, 1.0f), *scratch = randn(natt, 1.0f);
    attention_backward_cpu(dqkv, scratch, dy, qkv, att, B, T, C, NH);
    double *rdqkv = malloc(nqkv * sizeof(double));
    attention_backward_ref(rdqkv, dy, qkv, rP, B, T, C, NH);
    snprintf(what, sizeof what, "attention_backward dqkv B%d T%d C%d NH%d", B, T, C, NH);
    check_close(what, dqkv, f = to_float(rdqkv, nqkv), nqkv, ATOL, 1e-4f), free(f);

    // Decode: batch 0's positions one at a time through the KV cache give
    // the forward's outputs at every position.
    int max_T = T + 3, worst_ok = 1;
    float *kc = randn((size_t)max_T * C, 1.0f), *vc = randn((size_t)max_T * C, 1.0f);
    float *step = malloc(C * sizeof(float));
    for (int t = 0; t < T; t++) {
        int32_t pos = t;
        attention_decode_cpu(step, kc, vc, qkv + (size_t)t * 3 * C, &pos, 1, 1, max_T, C, NH);
        for (int c = 0; c < C; c++) {
            float want = out[(size_t)t * C + c];
            if (!(fabsf(step[c] - want) <= 1e-5f + 1e-5f * fabsf(want))) worst_ok = 0;
        }
    }
    CHECK(worst_ok, "attention_decode differs from attention_forward (T %d, C %d, NH %d)", T, C, NH);
    // The caches hold the k and v parts of qkv row by row (max_T, C).
    int layout_ok = 1;
    for (int t = 0; t < T; t++)
        layout_ok &= memcmp(kc + (size_t)t * C, qkv + (size_t)t * 3 * C + C, C * sizeof(float)) == 0 &&
                     memcmp(vc + (size_t)t * C, qkv + (size_t)t * 3 * C + 2 * C, C * sizeof(float)) == 0;
    CHECK(layout_ok, "attention_decode's caches are not qkv's k and v rows (T %d, C %d)", T, C);
    // Several tokens at once (a prefill, then one that continues it) give the
    // same outputs as the forward.
    if (T >= 2) {
        float *rows = malloc((size_t)T * C * sizeof(float));
        int32_t pos = 0, first = T / 2;
        attention_decode_cpu(rows, kc, vc, qkv, &pos, 1, first, max_T, C, NH);
        pos = first;
        attention_decode_cpu(rows + (size_t)first * C, kc, vc, qkv + (size_t)first * 3 * C, &pos,
                         1, T - first, max_T, C, NH);
        snprintf(what, sizeof what, "attention_decode of %d then %d tokens T%d", first, T - first, T);
        check_close(what, rows, out, (size_t)T * C, 1e-5f, 1e-5f);
        free(rows);
    }
    // Two sequences in one call, each with its own cache: both start with h
    // tokens, sequence 0 alone takes one more, then one call gives each its
    // next token at different positions (h + 1 and h). Every row is the
    // forward's at its sequence and position.
    if (B >= 2 && T >= 4) {
        const int h = T / 2;
        const size_t C3 = 3 * (size_t)C;
        float *kc2 = randn(2 * (size_t)max_T * C, 1.0f), *vc2 = randn(2 * (size_t)max_T * C, 1.0f);
        float *q2 = malloc(2 * (size_t)h * C3 * sizeof(float)), *o2 = malloc(2 * (size_t)h * C * sizeof(float));
        for (int b = 0; b < 2; b++) memcpy(q2 + (size_t)b * h * C3, qkv + (size_t)b * T * C3, h * C3 * sizeof(float));
        int32_t pos2[2] = {0, 0};
        attention_decode_cpu(o2, kc2, vc2, q2, pos2, 2, h, max_T, C, NH);
        int ok = 1;
        for (int b = 0; b < 2; b++)
            for (int i = 0; i < h; i++)
                for (int c = 0; c < C; c++) {
                    float got = o2[((size_t)b * h + i) * C + c], want = out[((size_t)b * T + i) * C + c];
                    ok &= fabsf(got - want) <= 1e-5f + 1e-5f * fabsf(want);
                }
        pos2[0] = h;
        attention_decode_cpu(o2, kc2, vc2, qkv + (size_t)h * C3, pos2, 1, 1, max_T, C, NH);
        for (int c = 0; c < C; c++) {
            float want = out[(size_t)h * C + c];
            ok &= fabsf(o2[c] - want) <= 1e-5f + 1e-5f * fabsf(want);
        }
        pos2[0] = h + 1, pos2[1] = h;
        memcpy(q2, qkv + (size_t)(h + 1) * C3, C3 * sizeof(float));
        memcpy(q2 + C3, qkv + ((size_t)T + h) * C3, C3 * sizeof(float));
        attention_decode_cpu(o2, kc2, vc2, q2, pos2, 2, 1, max_T, C, NH);
        for (int c = 0; c < C; c++) {
            float want0 = out[(size_t)(h + 1) * C + c], want1 = out[((size_t)T + h) * C + c];
            ok &= fabsf(o2[c] - want0) <= 1e-5f + 1e-5f * fabsf(want0);
            ok &= fabsf(o2[C + c] - want1) <= 1e-5f + 1e-5f * fabsf(want1);
        }
        CHECK(ok, "attention_decode of two sequences at their own positions differs from the forward "
                  "(T %d, C %d, NH %d; |a-b| <= 1e-5 + 1e-5 |ref|)", T, C, NH);
        free(kc2), free(vc2), free(q2), free(o2);
    }
    free(qkv), free(out), free(att), free(ry), free(rP), free(dy), free(dqkv), free(scratch);
    free(rdqkv), free(kc), free(vc), free(step);
}

// ---------------------------------------------------------------- cross-entropy

static void test_crossentropy(void) {
    const int N = 9, V = 300;
    float *logits = randn((size_t)N * V, 3.0f), losses[9];
    int32_t targets[9];
    for (int i = 0; i < N; i++) targets[i] = (int32_t)rng_below(&rng, V);
    targets[4] = -100;  // ignored
    targets[7] = -1;    // any negative is ignored
    const float dloss = 1.0f / 7.0f;
    double rloss[9], *rd = calloc((size_t)N * V, sizeof(double));
    for (int i = 0; i < N; i++) {
        if (targets[i] < 0) { rloss[i] = 0; continue; }
        double maxv = -INFINITY, sum = 0;
        for (int v = 0; v < V; v++) maxv = fmax(maxv, logits[i * V + v]);
        for (int v = 0; v < V; v++) sum += exp(logits[i * V + v] - maxv);
        rloss[i] = log(sum) + maxv - logits[i * V + targets[i]];
        for (int v = 0; v < V; v++)
            rd[i * V + v] = dloss * (exp(logits[i * V + v] - maxv) / sum - (v == targets[i]));
    }
    float *dlogits = randn((size_t)N * V, 1.0f), *f, *logits_copy = copy_of(logits, (size_t)N * V);
    crossentropy_forward_backward_cpu(losses, dlogits, logits, targets, N, V, dloss);
    check_close("crossentropy losses", losses, f = to_float(rloss, N), N, ATOL, RTOL), free(f);
    check_close("crossentropy dlogits", dlogits, f = to_float(rd, (size_t)N * V), (size_t)N * V, 1e-7f, RTOL);
    // In place: dlogits aliasing logits gives the same bits.
    float losses2[9];
    crossentropy_forward_backward_cpu(losses2, logits, logits, targets, N, V, dloss);
    check_close("crossentropy in place", logits, dlogits, (size_t)N * V, 0, 0);
    check_close("crossentropy in place losses", losses2, losses, N, 0, 0);
    // Losses only: the same losses, and the logits are left alone.
    memset(losses2, 0xff, sizeof losses2);
    crossentropy_forward_backward_cpu(losses2, NULL, logits_copy, targets, N, V, dloss);
    check_close("crossentropy losses only", losses2, losses, N, 0, 0);
    free(f), free(rd), free(logits), free(dlogits), free(logits_copy);
}

int main(void) {
    rng_seed(&rng, 42);
    cpu_blas_single_threaded();  // as backend_cpu() sets it
    for (int layout = 0; layout <= 1; layout++) {
        test_linear(37, 19, 23, layout, 1);
        test_linear(37, 19, 23, layout, 0);
        test_linear(1, 40, 70, layout, 1);  // the decode (matrix-vector) path
        test_linear(200, 64, 96, layout, 1);
        test_linear(300, 64, 130, layout, 1);  // split over rows across threads
        test_linear(40, 256, 300, layout, 1);  // few rows: split over columns
        test_linear(1, 256, 300, layout, 1);   // matrix-vector split over outputs
    }
    test_embedding(1);
    test_embedding(0);
    test_layernorm();
    test_gelu_elementwise();
    test_attention(2, 5, 12, 3);
    test_attention(2, 150, 24, 3);  // crosses the 64-row blocks, partial last block
    test_attention(1, 64, 16, 2);   // exactly one block
    // The tiled path (head sizes a multiple of 16): 4-row tiles with a
    // partial last tile, 64- and 16-column score tiles, every vector width.
    test_attention(2, 37, 32, 2);   // hs 16
    test_attention(2, 70, 64, 2);   // hs 32 (gpt2-6m's)
    test_attention(1, 83, 128, 2);  // hs 64 (gpt2-60m's)
    test_attention(1, 21, 128, 1);  // hs 128
    test_crossentropy();
    return test_summary("test_cpu_ops");
}
