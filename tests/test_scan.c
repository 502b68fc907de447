// test_scan.c: the Mamba ops (selective scan, causal conv1d, RMSNorm, SiLU)
// against plain references.
//
// The reference scan below is the naive one: it stores every state h_t
// (B, L, dim, N) in double and runs the textbook backward over them. Its
// gradients are checked by finite differences (in double, so tightly), and
// the fused, chunked float scan is checked against it, for chunk sizes that
// do and do not divide L, odd channel counts and strided views. The test
// also prints the activation memory per token of both.
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/cpu/cpu_ops.h"
#include "lib/common.h"
#include "test.h"

// ---------------------------------------------------------------- problem
typedef struct {
    int B, L, Dm, N, stride;  // stride: row stride of u, delta, z (>= Dm, a view)
    int bc_stride;            // row stride of B and C (>= N)
    double *u, *dr, *z, *Bm, *Cm, *A_log, *D, *bias, *R;  // R: dL/dout weights
} Problem;

static double *rand_vec(Rng *r, size_t n, double lo, double hi) {
    double *x = tb_malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * rng_uniform(r);
    return x;
}

static Problem make_problem(int B, int L, int Dm, int N, int pad, uint64_t seed) {
    Problem P = {B, L, Dm, N, Dm + pad, N + pad, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    Rng r;
    rng_seed(&r, seed);
    size_t rows = (size_t)B * L;
    P.u = rand_vec(&r, rows * P.stride, -1, 1);
    P.dr = rand_vec(&r, rows * P.stride, -3, 1);
    P.z = rand_vec(&r, rows * P.stride, -2, 2);
    P.Bm = rand_vec(&r, rows * P.bc_stride, -1, 1);
    P.Cm = rand_vec(&r, rows * P.bc_stride, -1, 1);
    P.A_log = rand_vec(&r, (size_t)Dm * N, -1, 2.5);
    P.D = rand_vec(&r, Dm, 0.5, 1.5);
    P.bias = rand_vec(&r, Dm, -4, -1);
    P.R = rand_vec(&r, rows * Dm, -1, 1);
    return P;
}

static void free_problem(Problem *P) {
    free(P->u), free(P->dr), free(P->z), free(P->Bm), free(P->Cm);
    free(P->A_log), free(P->D), free(P->bias), free(P->R);
}

// ---------------------------------------------------------------- naive reference
// Forward storing every state; returns the loss sum(out * R).
static double sp(double x) { return x <= 20 ? log1p(exp(x)) : x; }
static double sig(double x) { return 1.0 / (1.0 + exp(-x)); }

typedef struct {
    double *out, *du, *ddr, *dz, *dB, *dC, *dA_log, *dD, *dbias;  // gradients of sum(out*R)
    size_t state_bytes;  // what the naive version stores for its backward
} NaiveResult;

#define IDX(P, b, t) ((size_t)(b) * (P)->L + (t))

static double naive_scan(const Problem *P, NaiveResult *res) {
    int B = P->B, L = P->L, Dm = P->Dm, N = P->N;
    size_t rows = (size_t)B * L;
    double *hs = tb_calloc(rows * Dm * N, sizeof(double));  // h_t for every t
    double *delta = tb_malloc(rows * Dm * sizeof(double));
    double *y = tb_malloc(rows * Dm * sizeof(double));
    double loss = 0;
    if (res) res->state_bytes = rows * Dm * N * sizeof(float) + rows * Dm * sizeof(float);
    for (int b = 0; b < B; b++)
        for (int d = 0; d < Dm; d++)
            for (int t = 0; t < L; t++) {
                size_t row = IDX(P, b, t);
                double dt = sp(P->dr[row * P->stride + d] + P->bias[d]);
                double u = P->u[row * P->stride + d];
                delta[row * Dm + d] = dt;
                double yy = 0;
                for (int n = 0; n < N; n++) {
                    double A = -exp(P->A_log[d * N + n]);
                    double hp = t ? hs[((row - 1) * Dm + d) * N + n] : 0;
                    double h = exp(dt * A) * hp + dt * P->Bm[row * P->bc_stride + n] * u;
                    hs[(row * Dm + d) * N + n] = h;
                    yy += P->Cm[row * P->bc_stride + n] * h;
                }
                yy += P->D[d] * u;
                y[row * Dm + d] = yy;
                double zz = P->z[row * P->stride + d];
                double o = yy * zz * sig(zz);
                if (res) res->out[row * Dm + d] = o;
                loss += o * P->R[row * Dm + d];
            }
    if (res) {
        memset(res->dB, 0, rows * N * sizeof(double));
        memset(res->dC, 0, rows * N * sizeof(double));
        memset(res->dA_log, 0, (size_t)Dm * N * sizeof(double));
        memset(res->dD, 0, Dm * sizeof(double));
        memset(res->dbias, 0, Dm * sizeof(double));
        double *g = tb_malloc(N * sizeof(double));
        for (int b = 0; b < B; b++)
            for (int d = 0; d < Dm; d++) {
                for (int n = 0; n < N; n++) g[n] = 0;  // holds a_{t+1} g_{t+1}
                for (int t = L - 1; t >= 0; t--) {
                    size_t row = IDX(P, b, t);
                    double zz = P->z[row * P->stride + d], s = sig(zz);
                    double dout = P->R[row * Dm + d];
                    double dy = dout * zz * s;
                    res->dz[row * Dm + d] = dout * y[row * Dm + d] * s * (1 + zz * (1 - s));
                    double u = P->u[row * P->stride + d], dt = delta[row * Dm + d];
                    double ddelta = 0, du = P->D[d] * dy;
                    res->dD[d] += dy * u;
                    for (int n = 0; n < N; n++) {
                        double A = -exp(P->A_log[d * N + n]);
                        double a = exp(dt * A);
                        double hp = t ? hs[((row - 1) * Dm + d) * N + n] : 0;
                        double h = hs[(row * Dm + d) * N + n];
                        double Bn = P->Bm[row * P->bc_stride + n], Cn = P->Cm[row * P->bc_stride + n];
                        double gt = Cn * dy + g[n];
                        res->dC[row * N + n] += h * dy;
                        res->dB[row * N + n] += gt * dt * u;
                        ddelta += gt * (hp * a * A + Bn * u);
                        du += gt * dt * Bn;
                        res->dA_log[d * N + n] += gt * hp * a * dt * A;
                        g[n] = a * gt;
                    }
                    double dpre = ddelta * sig(P->dr[row * P->stride + d] + P->bias[d]);
                    res->ddr[row * Dm + d] = dpre;
                    res->dbias[d] += dpre;
                    res->du[row * Dm + d] = du;
                }
            }
        free(g);
    }
    free(hs), free(delta), free(y);
    return loss;
}

static NaiveResult naive_alloc(const Problem *P) {
    size_t rows = (size_t)P->B * P->L;
    NaiveResult r;
    r.out = tb_malloc(rows * P->Dm * sizeof(double));
    r.du = tb_malloc(rows * P->Dm * sizeof(double));
    r.ddr = tb_malloc(rows * P->Dm * sizeof(double));
    r.dz = tb_malloc(rows * P->Dm * sizeof(double));
    r.dB = tb_malloc(rows * P->N * sizeof(double));
    r.dC = tb_malloc(rows * P->N * sizeof(double));
    r.dA_log = tb_malloc((size_t)P->Dm * P->N * sizeof(double));
    r.dD = tb_malloc(P->Dm * sizeof(double));
    r.dbias = tb_malloc(P->Dm * sizeof(double));
    return r;
}
static void naive_free(NaiveResult *r) {
    free(r->out), free(r->du), free(r->ddr), free(r->dz), free(r->dB), free(r->dC);
    free(r->dA_log), free(r->dD), free(r->dbias);
}

// Finite differences (central, double) on a few elements of each input
// tensor, against the naive analytic gradient.
static void check_naive_against_fd(void) {
    Problem P = make_problem(2, 9, 5, 4, 1, 11);
    NaiveResult r = naive_alloc(&P);
    naive_scan(&P, &r);
    struct {
        const char *name;
        double *x;
        size_t n, stride, width;  // element i -> x[(i/width)*stride + i%width]
        const double *grad;
    } ins[] = {
        {"u", P.u, (size_t)P.B * P.L * P.Dm, P.stride, P.Dm, r.du},
        {"delta_raw", P.dr, (size_t)P.B * P.L * P.Dm, P.stride, P.Dm, r.ddr},
        {"z", P.z, (size_t)P.B * P.L * P.Dm, P.stride, P.Dm, r.dz},
        {"B", P.Bm, (size_t)P.B * P.L * P.N, P.bc_stride, P.N, r.dB},
        {"C", P.Cm, (size_t)P.B * P.L * P.N, P.bc_stride, P.N, r.dC},
        {"A_log", P.A_log, (size_t)P.Dm * P.N, P.N, P.N, r.dA_log},
        {"D", P.D, P.Dm, P.Dm, P.Dm, r.dD},
        {"delta_bias", P.bias, P.Dm, P.Dm, P.Dm, r.dbias},
    };
    for (size_t k = 0; k < sizeof ins / sizeof ins[0]; k++) {
        double worst = 0;
        for (size_t i = 0; i < ins[k].n; i += 1 + ins[k].n / 23) {
            double *x = ins[k].x + (i / ins[k].width) * ins[k].stride + i % ins[k].width;
            double x0 = *x, h = 1e-6;
            *x = x0 + h;
            double lp = naive_scan(&P, NULL);
            *x = x0 - h;
            double lm = naive_scan(&P, NULL);
            *x = x0;
            double fd = (lp - lm) / (2 * h), an = ins[k].grad[i];
            double err = fabs(fd - an) / (1e-6 + fabs(fd));
            if (err > worst) worst = err;
        }
        CHECK(worst < 1e-5, "naive scan d%s vs finite differences: worst relative error %g",
              ins[k].name, worst);
    }
    naive_free(&r);
    free_problem(&P);
}

// ---------------------------------------------------------------- fused scan
typedef struct {
    float *u, *dr, *z, *Bm, *Cm, *A_log, *D, *bias, *dout;
    float *out, *chunk_states, *final_state, *scratch;
    float *du, *ddr, *dz, *dB, *dC, *dA_log, *dD, *dbias;
    size_t scratch_floats, chunk_state_floats;
} Fused;

static float *to_float(const double *x, size_t n) {
    float *y = tb_malloc(n * sizeof(float) + 4);
    for (size_t i = 0; i < n; i++) y[i] = (float)x[i];
    return y;
}

// Runs the fused forward and backward; gradient buffers are given a stride
// wider than needed, to check the strided writes.
static SelectiveScanParams fused_run(const Problem *P, int chunk, Fused *f) {
    size_t rows = (size_t)P->B * P->L;
    memset(f, 0, sizeof *f);
    f->u = to_float(P->u, rows * P->stride);
    f->dr = to_float(P->dr, rows * P->stride);
    f->z = to_float(P->z, rows * P->stride);
    f->Bm = to_float(P->Bm, rows * P->bc_stride);
    f->Cm = to_float(P->Cm, rows * P->bc_stride);
    f->A_log = to_float(P->A_log, (size_t)P->Dm * P->N);
    f->D = to_float(P->D, P->Dm);
    f->bias = to_float(P->bias, P->Dm);
    f->dout = to_float(P->R, rows * P->Dm);
    SelectiveScanParams p = {0};
    p.batch = P->B, p.seqlen = P->L, p.dim = P->Dm, p.dstate = P->N, p.chunk = chunk;
    p.u = f->u, p.u_stride = P->stride;
    p.delta_raw = f->dr, p.delta_stride = P->stride;
    p.z = f->z, p.z_stride = P->stride;
    p.Bmat = f->Bm, p.B_stride = P->bc_stride;
    p.Cmat = f->Cm, p.C_stride = P->bc_stride;
    p.A_log = f->A_log, p.D = f->D, p.delta_bias = f->bias;
    f->out = tb_calloc(rows * (P->Dm + 3), sizeof(float));
    p.out = f->out, p.out_stride = P->Dm + 3;
    int nchunks = (P->L + chunk - 1) / chunk;
    f->chunk_state_floats = (size_t)P->B * nchunks * P->Dm * P->N;
    f->chunk_states = tb_calloc(f->chunk_state_floats, sizeof(float));
    f->final_state = tb_calloc((size_t)P->B * P->Dm * P->N, sizeof(float));
    p.chunk_states = f->chunk_states, p.final_state = f->final_state;
    p.dout = f->dout, p.dout_stride = P->Dm;
    int gs = 2 * P->Dm + 1;  // du, ddelta, dz rows are strided views of one buffer
    f->du = tb_calloc(rows * gs, sizeof(float));
    f->ddr = tb_calloc(rows * gs, sizeof(float));
    f->dz = tb_calloc(rows * gs, sizeof(float));
    p.du = f->du, p.du_stride = gs, p.ddelta_raw = f->ddr, p.ddelta_stride = gs;
    p.dz = f->dz, p.dz_stride = gs;
    f->dB = tb_calloc(rows * (P->N + 2), sizeof(float));
    f->dC = tb_calloc(rows * (P->N + 2), sizeof(float));
    p.dB = f->dB, p.dB_stride = P->N + 2, p.dC = f->dC, p.dC_stride = P->N + 2;
    f->dA_log = tb_calloc((size_t)P->Dm * P->N, sizeof(float));
    f->dD = tb_calloc(P->Dm, sizeof(float));
    f->dbias = tb_calloc(P->Dm, sizeof(float));
    p.dA_log = f->dA_log, p.dD = f->dD, p.ddelta_bias = f->dbias;
    f->scratch_floats = selective_scan_scratch_floats_cpu(&p);
    f->scratch = tb_calloc(f->scratch_floats, sizeof(float));
    p.scratch = f->scratch;
    selective_scan_forward_cpu(&p);
    selective_scan_backward_cpu(&p);
    return p;
}

static void fused_free(Fused *f) {
    float *all[] = {f->u, f->dr, f->z, f->Bm, f->Cm, f->A_log, f->D, f->bias, f->dout,
                    f->out, f->chunk_states, f->final_state, f->scratch, f->du, f->ddr,
                    f->dz, f->dB, f->dC, f->dA_log, f->dD, f->dbias};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
}

// Gathers a strided (rows, width) float view into a contiguous float array.
static float *gather(const float *x, size_t rows, int width, int stride) {
    float *y = tb_malloc(rows * width * sizeof(float) + 4);
    for (size_t r = 0; r < rows; r++) memcpy(y + r * width, x + r * stride, width * sizeof(float));
    return y;
}

static void check_view(const char *what, const float *x, size_t rows, int width, int stride,
                       const double *ref, float atol, float rtol) {
    float *got = gather(x, rows, width, stride);
    float *want = to_float(ref, rows * width);
    check_close(what, got, want, rows * width, atol, rtol);
    free(got), free(want);
}

static void check_fused_against_naive(int B, int L, int Dm, int N, int pad, int chunk) {
    Problem P = make_problem(B, L, Dm, N, pad, 1000 + chunk * 7 + Dm);
    NaiveResult r = naive_alloc(&P);
    naive_scan(&P, &r);
    Fused f;
    SelectiveScanParams p = fused_run(&P, chunk, &f);
    size_t rows = (size_t)B * L;
    char what[128];
#define VIEW(name, x, w, s, ref, atol, rtol)                                                  \
    snprintf(what, sizeof what, "scan %s (B%d L%d dim%d N%d chunk %d)", name, B, L, Dm, N, \
             chunk);                                                                       \
    check_view(what, x, rows, w, s, ref, atol, rtol)
    VIEW("out", f.out, Dm, p.out_stride, r.out, 1e-6f, 1e-5f);
    VIEW("du", f.du, Dm, p.du_stride, r.du, 1e-6f, 1e-5f);
    VIEW("ddelta_raw", f.ddr, Dm, p.ddelta_stride, r.ddr, 1e-6f, 1e-5f);
    VIEW("dz", f.dz, Dm, p.dz_stride, r.dz, 1e-6f, 1e-5f);
    VIEW("dB", f.dB, N, p.dB_stride, r.dB, 1e-5f, 1e-5f);
    VIEW("dC", f.dC, N, p.dC_stride, r.dC, 1e-5f, 1e-5f);
#undef VIEW
    float *ref;
    snprintf(what, sizeof what, "scan dA_log (dim%d chunk %d)", Dm, chunk);
    check_close(what, f.dA_log, ref = to_float(r.dA_log, (size_t)Dm * N), (size_t)Dm * N, 1e-5f, 1e-5f), free(ref);
    snprintf(what, sizeof what, "scan dD (dim%d chunk %d)", Dm, chunk);
    check_close(what, f.dD, ref = to_float(r.dD, Dm), Dm, 1e-5f, 1e-5f), free(ref);
    snprintf(what, sizeof what, "scan ddelta_bias (dim%d chunk %d)", Dm, chunk);
    check_close(what, f.dbias, ref = to_float(r.dbias, Dm), Dm, 1e-5f, 1e-5f), free(ref);
    fused_free(&f);
    naive_free(&r);
    free_problem(&P);
}

// Every output of two runs, compared bit for bit.
static int fused_same_bits(const Fused *a, const Fused *b, const Problem *P) {
    size_t rows = (size_t)P->B * P->L, gs = 2 * P->Dm + 1;
    struct { const float *x, *y; size_t n; } pairs[] = {
        {a->out, b->out, rows * (P->Dm + 3)}, {a->du, b->du, rows * gs},
        {a->ddr, b->ddr, rows * gs},          {a->dz, b->dz, rows * gs},
        {a->dB, b->dB, rows * (P->N + 2)},    {a->dC, b->dC, rows * (P->N + 2)},
        {a->dA_log, b->dA_log, (size_t)P->Dm * P->N}, {a->dD, b->dD, P->Dm},
        {a->dbias, b->dbias, P->Dm},
        {a->final_state, b->final_state, (size_t)P->B * P->Dm * P->N},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        if (memcmp(pairs[i].x, pairs[i].y, pairs[i].n * sizeof(float))) return 0;
    return 1;
}

// The chunk size only decides what is saved: every output is bit-identical
// for chunks that divide L and chunks that do not. The thread count does not
// change a bit either.
static void check_chunk_and_thread_invariance(void) {
    Problem P = make_problem(3, 50, 40, 16, 2, 77);
    Fused base;
    fused_run(&P, 50, &base);  // one chunk: the unchunked scan
    int chunks[] = {1, 5, 7, 10, 16, 64};
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        Fused f;
        fused_run(&P, chunks[i], &f);
        CHECK(fused_same_bits(&base, &f, &P), "chunk %d differs from the unchunked scan",
              chunks[i]);
        fused_free(&f);
    }
    int saved = omp_get_max_threads();
    for (int threads = 1; threads <= 3; threads++) {
        omp_set_num_threads(threads);
        Fused f;
        fused_run(&P, 7, &f);
        CHECK(fused_same_bits(&base, &f, &P), "scan with %d threads differs", threads);
        fused_free(&f);
    }
    omp_set_num_threads(saved);
    fused_free(&base);
    free_problem(&P);
}

// L decode steps reproduce the forward's outputs and its final state: dim and
// dstate pick the step's paths (dstate 16: whole vectors, else per channel;
// a dim that 16 does not divide: the tail block; dim * dstate >= 8192: the
// channel blocks over threads).
static void check_step_matches_forward(int L, int dim, int dstate) {
    Problem P = make_problem(1, L, dim, dstate, 0, 5);
    Fused f;
    SelectiveScanParams p = fused_run(&P, 8, &f);
    size_t rows = P.L;
    float *state = tb_calloc((size_t)P.Dm * P.N, sizeof(float));
    float *out = tb_malloc(rows * P.Dm * sizeof(float));
    for (int t = 0; t < P.L; t++)
        selective_scan_step_cpu(out + (size_t)t * P.Dm, state, f.u + (size_t)t * P.stride,
                            f.dr + (size_t)t * P.stride, f.z + (size_t)t * P.stride,
                            f.Bm + (size_t)t * P.bc_stride, f.Cm + (size_t)t * P.bc_stride,
                            f.A_log, f.D, f.bias, P.Dm, P.N);
    float *fwd = gather(f.out, rows, P.Dm, p.out_stride);
    char what[96];
    snprintf(what, sizeof what, "scan step vs forward, every position (dim %d, N %d)", dim, dstate);
    check_close(what, out, fwd, rows * P.Dm, 1e-6f, 1e-5f);
    snprintf(what, sizeof what, "scan step state vs forward final_state (dim %d, N %d)", dim, dstate);
    check_close(what, state, f.final_state,
                (size_t)P.Dm * P.N, 1e-6f, 1e-5f);
    free(fwd), free(state), free(out);
    fused_free(&f);
    free_problem(&P);
}

// Activation memory per token that the scan keeps for its backward, at the
// mamba-6m shape (dim 512, N 16, L 256, batch 8).
static void report_memory(void) {
    int B = 8, L = 256, Dm = 512, N = 16, chunk = 64;
    SelectiveScanParams p = {0};
    p.batch = B, p.seqlen = L, p.dim = Dm, p.dstate = N, p.chunk = chunk;
    double tokens = (double)B * L;
    double naive = (double)B * L * Dm * N * 4 / tokens;  // every state, fp32
    double chunked = (double)B * ((L + chunk - 1) / chunk) * Dm * N * 4 / tokens;
    double scratch = selective_scan_scratch_floats_cpu(&p) * 4.0 / tokens;
    printf("scan memory per token per layer (dim %d, N %d, L %d, chunk %d): naive states %.0f B, "
           "chunked states %.0f B (%.0fx less), plus backward scratch %.0f B shared by all layers\n",
           Dm, N, L, chunk, naive, chunked, naive / chunked, scratch);
    CHECK(chunked * 32 <= naive, "chunk states should be 1/chunk of the naive states");
}

// ---------------------------------------------------------------- conv1d, rmsnorm, silu
static double conv_loss(const float *x, int xs, const float *w, const float *bias, const float *R,
                        int B, int L, int Dm, int K, float *out) {
    conv1d_forward_cpu(out, x, xs, NULL, w, bias, B, L, Dm, K);
    double s = 0;
    for (size_t i = 0; i < (size_t)B * L * Dm; i++) s += (double)out[i] * R[i];
    return s;
}

static void check_conv1d(void) {
    int B = 2, L = 9, Dm = 70, K = 4, xs = 2 * Dm;
    Rng r;
    rng_seed(&r, 3);
    size_t rows = (size_t)B * L;
    float *x = tb_malloc(rows * xs * sizeof(float)), *R = tb_malloc(rows * Dm * sizeof(float));
    float *w = tb_malloc((size_t)Dm * K * sizeof(float)), *bias = tb_malloc(Dm * sizeof(float));
    for (size_t i = 0; i < rows * xs; i++) x[i] = rng_uniform(&r) * 2 - 1;
    for (size_t i = 0; i < rows * Dm; i++) R[i] = rng_uniform(&r) * 2 - 1;
    for (int i = 0; i < Dm * K; i++) w[i] = rng_uniform(&r) - 0.5f;
    for (int i = 0; i < Dm; i++) bias[i] = rng_uniform(&r) - 0.5f;
    float *out = tb_malloc(rows * Dm * sizeof(float)), *ref = tb_malloc(rows * Dm * sizeof(float));
    conv_loss(x, xs, w, bias, R, B, L, Dm, K, out);
    for (int b = 0; b < B; b++)  // the definition, directly
        for (int t = 0; t < L; t++)
            for (int d = 0; d < Dm; d++) {
                double s = bias[d];
                for (int k = 0; k < K; k++) {
                    int src = t - K + 1 + k;
                    if (src >= 0) s += (double)w[d * K + k] * x[((size_t)b * L + src) * xs + d];
                }
                ref[((size_t)b * L + t) * Dm + d] = (float)s;
            }
    check_close("conv1d forward", out, ref, rows * Dm, 1e-6f, 1e-5f);
    // Backward vs finite differences on every element (float, loose).
    float *dx = tb_calloc(rows * xs, sizeof(float)), *dw = tb_calloc((size_t)Dm * K, sizeof(float));
    float *db = tb_calloc(Dm, sizeof(float));
    conv1d_backward_cpu(dx, xs, dw, db, R, x, xs, w, B, L, Dm, K);
    struct { const char *name; float *p; size_t n, stride, width; float *g; } ins[] = {
        {"conv1d dx", x, rows * Dm, xs, Dm, dx},
        {"conv1d dweight", w, (size_t)Dm * K, K, K, dw},
        {"conv1d dbias", bias, Dm, Dm, Dm, db},
    };
    for (int k = 0; k < 3; k++) {
        float *fd = tb_malloc(ins[k].n * sizeof(float)), *an = tb_malloc(ins[k].n * sizeof(float));
        for (size_t i = 0; i < ins[k].n; i++) {
            float *p = ins[k].p + (i / ins[k].width) * ins[k].stride + i % ins[k].width;
            float p0 = *p, h = 1e-2f;
            *p = p0 + h;
            double lp = conv_loss(x, xs, w, bias, R, B, L, Dm, K, out);
            *p = p0 - h;
            double lm = conv_loss(x, xs, w, bias, R, B, L, Dm, K, out);
            *p = p0;
            fd[i] = (float)((lp - lm) / (2 * h));
            an[i] = ins[k].g[(i / ins[k].width) * ins[k].stride + i % ins[k].width];
        }
        check_close(ins[k].name, an, fd, ins[k].n, 2e-3f, 2e-3f);
        free(fd), free(an);
    }
    // Decode: state from a prefix, then steps, equal the full forward.
    int P0 = 2;  // shorter than K: the state is zero-padded
    float *state = tb_calloc((size_t)Dm * K, sizeof(float)), *o = tb_malloc(Dm * sizeof(float));
    conv1d_state_from_sequence_cpu(state, x, xs, 1, P0, Dm, K);
    conv1d_forward_cpu(out, x, xs, NULL, w, bias, B, L, Dm, K);
    float worst = 0;
    for (int t = P0; t < L; t++) {
        conv1d_silu_step_cpu(o, state, x + (size_t)t * xs, w, bias, Dm, K);
        for (int d = 0; d < Dm; d++) {
            float c = out[(size_t)t * Dm + d], want = (float)(c / (1.0 + exp(-(double)c)));
            float e = fabsf(o[d] - want);
            if (e > worst) worst = e;
        }
    }
    CHECK(worst < 1e-5f, "conv1d_silu_step after conv1d_state_from_sequence: worst error %g", worst);
    // A sequence continued in two batched parts: the conv over the second
    // part from the first part's state equals the full conv's rows, and the
    // state, advanced past a part shorter than K, equals the one step by step.
    {
        int P1 = 3, P2 = 2;  // P2 < K: the advance keeps part of the old state
        float *st = tb_calloc((size_t)Dm * K, sizeof(float));
        float *part = tb_malloc((size_t)P2 * Dm * sizeof(float));
        conv1d_state_from_sequence_cpu(st, x, xs, 1, P1, Dm, K);
        conv1d_forward_cpu(part, x + (size_t)P1 * xs, xs, st, w, bias, 1, P2, Dm, K);
        float worst2 = 0;
        for (size_t i = 0; i < (size_t)P2 * Dm; i++) {
            float e = fabsf(part[i] - out[(size_t)P1 * Dm + i]);
            if (e > worst2) worst2 = e;
        }
        CHECK(worst2 < 1e-5f, "conv1d_forward from a state: worst error %g", worst2);
        conv1d_state_from_sequence_cpu(st, x + (size_t)P1 * xs, xs, 1, P2, Dm, K);
        float *want = tb_calloc((size_t)Dm * K, sizeof(float));
        conv1d_state_from_sequence_cpu(want, x, xs, 1, P1 + P2, Dm, K);
        CHECK(memcmp(st, want, (size_t)Dm * K * sizeof(float)) == 0,
              "conv1d_state_from_sequence advanced in two parts differs from one");
        free(st), free(part), free(want);
    }
    free(state), free(o), free(dx), free(dw), free(db);
    free(x), free(R), free(w), free(bias), free(out), free(ref);
}

static double rms_loss(const float *x, const float *w, const float *R, int N, int C, float *out,
                       float *rstd) {
    rmsnorm_forward_cpu(out, rstd, x, w, N, C, 1e-5f);
    double s = 0;
    for (size_t i = 0; i < (size_t)N * C; i++) s += (double)out[i] * R[i];
    return s;
}

static void check_rmsnorm_silu(void) {
    int N = 5, C = 70;
    Rng r;
    rng_seed(&r, 9);
    float *x = tb_malloc(N * C * sizeof(float)), *w = tb_malloc(C * sizeof(float));
    float *R = tb_malloc(N * C * sizeof(float)), *out = tb_malloc(N * C * sizeof(float));
    float *rstd = tb_malloc(N * sizeof(float));
    for (int i = 0; i < N * C; i++) x[i] = rng_normal(&r), R[i] = rng_normal(&r);
    for (int i = 0; i < C; i++) w[i] = 1 + 0.3f * rng_normal(&r);
    rms_loss(x, w, R, N, C, out, rstd);
    float worst = 0;
    for (int i = 0; i < N; i++) {
        double ss = 0;
        for (int c = 0; c < C; c++) ss += (double)x[i * C + c] * x[i * C + c];
        double rs = 1 / sqrt(ss / C + 1e-5);
        for (int c = 0; c < C; c++) {
            float e = fabsf(out[i * C + c] - (float)(x[i * C + c] * rs * w[c]));
            if (e > worst) worst = e;
        }
    }
    CHECK(worst < 1e-5f, "rmsnorm forward: worst error %g", worst);
    float *dx = tb_malloc(N * C * sizeof(float)), *dw = tb_calloc(C, sizeof(float));
    for (int i = 0; i < N * C; i++) dx[i] = 0.25f;  // dinp accumulates onto this
    rmsnorm_backward_cpu(dx, dw, R, x, w, rstd, N, C);
    float *fdx = tb_malloc(N * C * sizeof(float)), *fdw = tb_malloc(C * sizeof(float));
    for (int i = 0; i < N * C + C; i++) {
        float *p = i < N * C ? &x[i] : &w[i - N * C], p0 = *p, h = 1e-2f;
        *p = p0 + h;
        double lp = rms_loss(x, w, R, N, C, out, rstd);
        *p = p0 - h;
        double lm = rms_loss(x, w, R, N, C, out, rstd);
        *p = p0;
        float g = (float)((lp - lm) / (2 * h));
        if (i < N * C) fdx[i] = g + 0.25f; else fdw[i - N * C] = g;
    }
    check_close("rmsnorm dinp (accumulated)", dx, fdx, N * C, 2e-3f, 2e-3f);
    check_close("rmsnorm dweight", dw, fdw, C, 2e-3f, 2e-3f);
    // SiLU on strided rows, forward against the definition and backward against FD.
    float *s = tb_malloc(N * C * sizeof(float)), *ds = tb_malloc(N * 2 * C * sizeof(float));
    silu_forward_cpu(s, C, x, C, N, C);
    worst = 0;
    for (int i = 0; i < N * C; i++) {
        float e = fabsf(s[i] - (float)(x[i] / (1 + exp(-(double)x[i]))));
        if (e > worst) worst = e;
    }
    CHECK(worst < 1e-6f, "silu forward: worst error %g", worst);
    silu_backward_cpu(ds, 2 * C, x, C, R, N, C);
    for (int i = 0; i < N * C; i++) {
        double xp = x[i] + 1e-3, xm = x[i] - 1e-3;
        fdx[i] = (float)(R[i] * (xp / (1 + exp(-xp)) - xm / (1 + exp(-xm))) / 2e-3);
        dx[i] = ds[(i / C) * 2 * C + i % C];
    }
    check_close("silu backward (strided)", dx, fdx, N * C, 1e-5f, 1e-5f);
    free(x), free(w), free(R), free(out), free(rstd), free(dx), free(dw), free(fdx), free(fdw);
    free(s), free(ds);
}

int main(void) {
    check_naive_against_fd();
    // chunk sizes that divide L (4, 32) and do not (5, 13, 100 > L); odd dims.
    check_fused_against_naive(2, 32, 16, 16, 0, 32);
    check_fused_against_naive(2, 32, 40, 16, 3, 4);
    check_fused_against_naive(2, 32, 40, 16, 3, 5);
    check_fused_against_naive(1, 29, 37, 5, 1, 13);
    check_fused_against_naive(3, 17, 70, 16, 0, 100);
    check_chunk_and_thread_invariance();
    check_step_matches_forward(23, 37, 16);
    check_step_matches_forward(23, 37, 4);
    check_step_matches_forward(9, 530, 16);
    check_conv1d();
    check_rmsnorm_silu();
    report_memory();
    return test_summary("test_scan");
}
