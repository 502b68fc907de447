// test_cuda_scan.c: the selective scan kernels (forward, backward, decode
// step) against a sequential double-precision reference, in both scheduling
// orders of the emulation. Sequence lengths below, equal to, a multiple of,
// and not a multiple of the chunk, with several chunks; tiles of 32x2, 32x4,
// 32x8 and 64x16; several channels per backward block; inputs as strided views
// (B and C inside one x_proj-like buffer), as the Mamba block passes them.
#include "test.h"

#include "cuda_ref_scan.h"
#include "cuda_test_util.h"

static Rng rng;

// Per-tensor tolerances |got - ref| <= atol + rtol |ref| (see the README).
#define TOL_SCAN_FWD 2e-5f, 1e-4f
#define TOL_SCAN_BWD 1e-4f, 1e-3f

typedef struct {
    int batch, seqlen, dim, N, chunk, backward_blocks;
} ScanCase;

// Host copies of one problem, with row strides wider than the data.
typedef struct {
    ScanCase c;
    int us, xs;                // row stride of u/delta/z/out and of the x_proj buffer
    float *u, *dr, *z, *xproj; // xproj rows: [B (N) | C (N) | pad]
    float *A_log, *D, *dt_bias, *dout;
    double *ud, *drd, *zd, *Bd, *Cd, *A_logd, *Dd, *biasd, *doutd;  // contiguous, double
} ScanProblem;

static double *to_double_rows(const float *src, int rows, int cols, int stride, int offset) {
    double *d = tb_malloc(sizeof(double) * rows * cols);
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) d[(size_t)r * cols + c] = src[(size_t)r * stride + offset + c];
    return d;
}

static void problem_make(ScanProblem *p, ScanCase c) {
    p->c = c;
    p->us = c.dim + 3;
    p->xs = 2 * c.N + 5;
    int rows = c.batch * c.seqlen;
    p->u = host_random(&rng, (size_t)rows * p->us, -1, 1);
    p->dr = host_random(&rng, (size_t)rows * p->us, -3, 0.5f);
    p->dr[p->us + 1] = 25.0f;  // one step past softplus's threshold
    p->z = host_random(&rng, (size_t)rows * p->us, -2, 2);
    p->xproj = host_random(&rng, (size_t)rows * p->xs, -1, 1);
    p->dout = host_random(&rng, (size_t)rows * c.dim, -1, 1);
    p->A_log = tb_malloc(sizeof(float) * c.dim * c.N);
    for (int d = 0; d < c.dim; d++)
        for (int n = 0; n < c.N; n++)  // S4D-real, A = -(n + 1), jittered
            p->A_log[d * c.N + n] = logf((float)(n + 1)) + 0.2f * (rng_uniform(&rng) - 0.5f);
    p->D = host_random(&rng, c.dim, 0.5f, 1.5f);
    p->dt_bias = host_random(&rng, c.dim, -1, 0);
    p->ud = to_double_rows(p->u, rows, c.dim, p->us, 0);
    p->drd = to_double_rows(p->dr, rows, c.dim, p->us, 0);
    p->zd = to_double_rows(p->z, rows, c.dim, p->us, 0);
    p->Bd = to_double_rows(p->xproj, rows, c.N, p->xs, 0);
    p->Cd = to_double_rows(p->xproj, rows, c.N, p->xs, c.N);
    p->A_logd = to_double_rows(p->A_log, 1, c.dim * c.N, 0, 0);
    p->Dd = to_double_rows(p->D, 1, c.dim, 0, 0);
    p->biasd = to_double_rows(p->dt_bias, 1, c.dim, 0, 0);
    p->doutd = to_double_rows(p->dout, rows, c.dim, c.dim, 0);
}

static void problem_free(ScanProblem *p) {
    void *all[] = {p->u, p->dr, p->z, p->xproj, p->A_log, p->D, p->dt_bias, p->dout, p->ud,
                   p->drd, p->zd, p->Bd, p->Cd, p->A_logd, p->Dd, p->biasd, p->doutd};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) free(all[i]);
}

static RefScan problem_ref(const ScanProblem *p) {
    RefScan r = {p->c.batch, p->c.seqlen, p->c.dim, p->c.N, p->ud, p->drd, p->zd,
                 p->Bd, p->Cd, p->A_logd, p->Dd, p->biasd};
    return r;
}

static float *to_float(const double *x, size_t n) {
    float *f = tb_malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) f[i] = (float)x[i];
    return f;
}

// Device problem: params pointing at device copies.
typedef struct {
    SelectiveScanParams sp;
    float *bufs[24];
    int nbufs;
} DevScan;

static float *dev_keep(DevScan *ds, float *p) { return ds->bufs[ds->nbufs++] = p; }

static void dev_make(DevScan *ds, const ScanProblem *p, const float *dA_log0, const float *dD0,
                     const float *dbias0) {
    const ScanCase *c = &p->c;
    size_t rows = (size_t)c->batch * c->seqlen;
    int nchunks = (c->seqlen + c->chunk - 1) / c->chunk;
    memset(ds, 0, sizeof *ds);
    SelectiveScanParams *s = &ds->sp;
    s->batch = c->batch, s->seqlen = c->seqlen, s->dim = c->dim, s->dstate = c->N, s->chunk = c->chunk;
    float *xproj = dev_keep(ds, dev_upload(p->xproj, rows * p->xs));
    s->u = dev_keep(ds, dev_upload(p->u, rows * p->us)), s->u_stride = p->us;
    s->delta_raw = dev_keep(ds, dev_upload(p->dr, rows * p->us)), s->delta_stride = p->us;
    s->z = dev_keep(ds, dev_upload(p->z, rows * p->us)), s->z_stride = p->us;
    s->Bmat = xproj, s->B_stride = p->xs;
    s->Cmat = xproj + c->N, s->C_stride = p->xs;
    s->A_log = dev_keep(ds, dev_upload(p->A_log, c->dim * c->N));
    s->D = dev_keep(ds, dev_upload(p->D, c->dim));
    s->delta_bias = dev_keep(ds, dev_upload(p->dt_bias, c->dim));
    s->out = dev_keep(ds, gpu->alloc(sizeof(float) * rows * p->us)), s->out_stride = p->us;
    s->chunk_states = dev_keep(ds, gpu->alloc(sizeof(float) * c->batch * nchunks * c->dim * c->N));
    s->final_state = dev_keep(ds, gpu->alloc(sizeof(float) * c->batch * c->dim * c->N));
    s->dout = dev_keep(ds, dev_upload(p->dout, rows * c->dim)), s->dout_stride = c->dim;
    s->du = dev_keep(ds, gpu->alloc(sizeof(float) * rows * p->us)), s->du_stride = p->us;
    s->ddelta_raw = dev_keep(ds, gpu->alloc(sizeof(float) * rows * p->us)), s->ddelta_stride = p->us;
    s->dz = dev_keep(ds, gpu->alloc(sizeof(float) * rows * p->us)), s->dz_stride = p->us;
    float *dxproj = dev_keep(ds, gpu->alloc(sizeof(float) * rows * p->xs));
    s->dB = dxproj, s->dB_stride = p->xs;
    s->dC = dxproj + c->N, s->dC_stride = p->xs;
    s->dA_log = dev_keep(ds, dev_upload(dA_log0, c->dim * c->N));
    s->dD = dev_keep(ds, dev_upload(dD0, c->dim));
    s->ddelta_bias = dev_keep(ds, dev_upload(dbias0, c->dim));
    backend_cuda_set_scan_backward_blocks(c->backward_blocks);
    s->scratch = dev_keep(ds, gpu->alloc(sizeof(float) * gpu->selective_scan_scratch_floats(s)));
}

static void dev_free(DevScan *ds) {
    for (int i = 0; i < ds->nbufs; i++) gpu->free(ds->bufs[i]);
}

// Gathers a strided device tensor (rows, cols) at column offset into a
// contiguous host array.
static float *gather(const float *dev, int rows, int cols, int stride) {
    float *all = dev_download(dev, (size_t)(rows - 1) * stride + cols);
    float *out = tb_malloc(sizeof(float) * rows * cols);
    for (int r = 0; r < rows; r++) memcpy(out + (size_t)r * cols, all + (size_t)r * stride, sizeof(float) * cols);
    free(all);
    return out;
}

static void check_gathered(const char *tensor, const ScanCase *c, int order, const float *dev,
                           int rows, int cols, int stride, const double *ref, float atol, float rtol) {
    float *got = gather(dev, rows, cols, stride), *want = to_float(ref, (size_t)rows * cols);
    char what[160];
    snprintf(what, sizeof what, "scan b%d L%d D%d N%d chunk%d: %s (%s order)", c->batch, c->seqlen,
             c->dim, c->N, c->chunk, tensor, order_name(order));
    check_close(what, got, want, (size_t)rows * cols, atol, rtol);
    free(got);
    free(want);
}

static void test_case(ScanCase c, int order) {
    ScanProblem p;
    problem_make(&p, c);
    RefScan r = problem_ref(&p);
    size_t rows = (size_t)c.batch * c.seqlen;
    int nchunks = (c.seqlen + c.chunk - 1) / c.chunk;
    double *out = calloc(rows * c.dim, sizeof(double)), *h_all = calloc(rows * c.dim * c.N, sizeof(double));
    double *final_state = calloc((size_t)c.batch * c.dim * c.N, sizeof(double));
    ref_scan_forward(&r, out, h_all, NULL, final_state);
    // The state entering chunk k is h at step k*chunk - 1 (zero for k = 0).
    double *states = calloc((size_t)c.batch * nchunks * c.dim * c.N, sizeof(double));
    for (int b = 0; b < c.batch; b++)
        for (int k = 1; k < nchunks; k++)
            for (int d = 0; d < c.dim; d++)
                for (int n = 0; n < c.N; n++)
                    states[(((size_t)b * nchunks + k) * c.dim + d) * c.N + n] =
                        h_all[(((size_t)b * c.seqlen + k * c.chunk - 1) * c.dim + d) * c.N + n];

    double *du = calloc(rows * c.dim, sizeof(double)), *ddr = calloc(rows * c.dim, sizeof(double));
    double *dz = calloc(rows * c.dim, sizeof(double)), *dB = calloc(rows * c.N, sizeof(double));
    double *dC = calloc(rows * c.N, sizeof(double)), *dA = calloc((size_t)c.dim * c.N, sizeof(double));
    double *dD = calloc(c.dim, sizeof(double)), *dbias = calloc(c.dim, sizeof(double));
    ref_scan_backward(&r, p.doutd, du, ddr, dz, dB, dC, dA, dD, dbias);
    // Parameter gradients accumulate onto what is there.
    float *dA0 = host_random(&rng, c.dim * c.N, -1, 1), *dD0 = host_random(&rng, c.dim, -1, 1);
    float *dbias0 = host_random(&rng, c.dim, -1, 1);
    for (int i = 0; i < c.dim * c.N; i++) dA[i] += dA0[i];
    for (int i = 0; i < c.dim; i++) dD[i] += dD0[i], dbias[i] += dbias0[i];

    DevScan ds;
    dev_make(&ds, &p, dA0, dD0, dbias0);
    gpu->selective_scan_forward(&ds.sp);
    gpu->selective_scan_backward(&ds.sp);
    int R = (int)rows;
    check_gathered("out", &c, order, ds.sp.out, R, c.dim, p.us, out, TOL_SCAN_FWD);
    check_gathered("chunk_states", &c, order, ds.sp.chunk_states, c.batch * nchunks, c.dim * c.N,
                   c.dim * c.N, states, TOL_SCAN_FWD);
    check_gathered("final_state", &c, order, ds.sp.final_state, c.batch, c.dim * c.N, c.dim * c.N,
                   final_state, TOL_SCAN_FWD);
    check_gathered("du", &c, order, ds.sp.du, R, c.dim, p.us, du, TOL_SCAN_BWD);
    check_gathered("ddelta_raw", &c, order, ds.sp.ddelta_raw, R, c.dim, p.us, ddr, TOL_SCAN_BWD);
    check_gathered("dz", &c, order, ds.sp.dz, R, c.dim, p.us, dz, TOL_SCAN_BWD);
    check_gathered("dB", &c, order, ds.sp.dB, R, c.N, p.xs, dB, TOL_SCAN_BWD);
    check_gathered("dC", &c, order, ds.sp.dC, R, c.N, p.xs, dC, TOL_SCAN_BWD);
    check_gathered("dA_log", &c, order, ds.sp.dA_log, 1, c.dim * c.N, 0, dA, TOL_SCAN_BWD);
    check_gathered("dD", &c, order, ds.sp.dD, 1, c.dim, 0, dD, TOL_SCAN_BWD);
    check_gathered("ddelta_bias", &c, order, ds.sp.ddelta_bias, 1, c.dim, 0, dbias, TOL_SCAN_BWD);

    // Determinism: a second backward (onto zeroed parameter grads twice)
    // gives bit-identical dB and dA_log.
    float *dB1 = gather(ds.sp.dB, R, c.N, p.xs);
    gpu->zero(ds.sp.dA_log, sizeof(float) * c.dim * c.N);
    gpu->selective_scan_backward(&ds.sp);
    float *dA1 = dev_download(ds.sp.dA_log, c.dim * c.N);
    gpu->zero(ds.sp.dA_log, sizeof(float) * c.dim * c.N);
    gpu->selective_scan_backward(&ds.sp);
    float *dB2 = gather(ds.sp.dB, R, c.N, p.xs), *dA2 = dev_download(ds.sp.dA_log, c.dim * c.N);
    CHECK(!memcmp(dB1, dB2, sizeof(float) * R * c.N) && !memcmp(dA1, dA2, sizeof(float) * c.dim * c.N),
          "scan backward not bit-for-bit reproducible (%s order)", order_name(order));
    free(dB1), free(dB2), free(dA1), free(dA2);

    // Decode: the recurrent step over batch 0 reproduces the scan.
    float *d_state = gpu->alloc(sizeof(float) * c.dim * c.N), *d_y = gpu->alloc(sizeof(float) * c.dim);
    float *d_Bt = gpu->alloc(sizeof(float) * c.N), *d_Ct = gpu->alloc(sizeof(float) * c.N);
    float *step_out = tb_malloc(sizeof(float) * c.seqlen * c.dim);
    for (int t = 0; t < c.seqlen; t++) {
        gpu->to_device(d_Bt, p.xproj + (size_t)t * p.xs, sizeof(float) * c.N);
        gpu->to_device(d_Ct, p.xproj + (size_t)t * p.xs + c.N, sizeof(float) * c.N);
        gpu->selective_scan_step(d_y, d_state, ds.sp.u + (size_t)t * p.us, ds.sp.delta_raw + (size_t)t * p.us,
                                 ds.sp.z + (size_t)t * p.us, d_Bt, d_Ct, ds.sp.A_log, ds.sp.D,
                                 ds.sp.delta_bias, c.dim, c.N);
        gpu->to_host(step_out + (size_t)t * c.dim, d_y, sizeof(float) * c.dim);
    }
    float *want = to_float(out, (size_t)c.seqlen * c.dim);
    char what[96];
    snprintf(what, sizeof what, "selective_scan_step out L%d (%s order)", c.seqlen, order_name(order));
    check_close(what, step_out, want, (size_t)c.seqlen * c.dim, TOL_SCAN_FWD);
    check_gathered("step state", &c, order, d_state, 1, c.dim * c.N, 0, final_state, TOL_SCAN_FWD);
    free(want), free(step_out);
    gpu->free(d_state), gpu->free(d_y), gpu->free(d_Bt), gpu->free(d_Ct);

    dev_free(&ds);
    void *all[] = {out, h_all, final_state, states, du, ddr, dz, dB, dC, dA, dD, dbias, dA0, dD0, dbias0};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) free(all[i]);
    problem_free(&p);
}

// The reference backward against central differences of the reference
// forward, loss = sum(out * dout), on a tiny problem (in double).
static void test_reference_gradients(void) {
    ScanCase c = {2, 7, 2, 3, 4, 1};
    ScanProblem p;
    problem_make(&p, c);
    RefScan r = problem_ref(&p);
    size_t rows = (size_t)c.batch * c.seqlen, n = rows * c.dim;
    double *du = calloc(n, 8), *ddr = calloc(n, 8), *dz = calloc(n, 8), *dB = calloc(rows * c.N, 8);
    double *dC = calloc(rows * c.N, 8), *dA = calloc(c.dim * c.N, 8), *dD = calloc(c.dim, 8);
    double *dbias = calloc(c.dim, 8), *out = calloc(n, 8);
    ref_scan_backward(&r, p.doutd, du, ddr, dz, dB, dC, dA, dD, dbias);
    struct { double *x, *grad; size_t n; const char *name; } t[] = {
        {p.ud, du, n, "u"}, {p.drd, ddr, n, "delta_raw"}, {p.zd, dz, n, "z"},
        {p.Bd, dB, rows * c.N, "B"}, {p.Cd, dC, rows * c.N, "C"}, {p.A_logd, dA, c.dim * c.N, "A_log"},
        {p.Dd, dD, c.dim, "D"}, {p.biasd, dbias, c.dim, "dt_bias"}};
    for (size_t k = 0; k < sizeof t / sizeof *t; k++) {
        double worst = 0.0;
        for (size_t i = 0; i < t[k].n; i++) {
            double keep = t[k].x[i], h = 1e-6, lp = 0.0, lm = 0.0;
            t[k].x[i] = keep + h;
            ref_scan_forward(&r, out, NULL, NULL, NULL);
            for (size_t j = 0; j < n; j++) lp += out[j] * p.doutd[j];
            t[k].x[i] = keep - h;
            ref_scan_forward(&r, out, NULL, NULL, NULL);
            for (size_t j = 0; j < n; j++) lm += out[j] * p.doutd[j];
            t[k].x[i] = keep;
            double fd = (lp - lm) / (2 * h), err = fabs(fd - t[k].grad[i]) / (1e-6 + fabs(fd));
            if (err > worst) worst = err;
        }
        CHECK(worst < 1e-5, "reference scan gradient of %s off finite differences by %g", t[k].name, worst);
    }
    void *all[] = {du, ddr, dz, dB, dC, dA, dD, dbias, out};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) free(all[i]);
    problem_free(&p);
}

int main(void) {
    if (!open_gpu()) return test_summary("test_cuda_scan") | 1;
    rng_seed(&rng, 99);
    test_reference_gradients();
    const ScanCase cases[] = {
        // batch, seqlen, dim, N, chunk, backward blocks
        {2, 40, 3, 16, 64, 1024},   // one chunk, shorter than the chunk (32 x 2 tile)
        {1, 100, 2, 16, 100, 1024}, // one chunk exactly (32 x 4 tile)
        {2, 128, 3, 16, 64, 1024},  // exactly two chunks
        {1, 150, 5, 16, 64, 2},     // three chunks, ragged; 2-3 channels per backward block
        {2, 300, 2, 4, 200, 3},     // 32 x 8 tile, ragged second chunk, N = 4
        {1, 700, 1, 2, 600, 1024},  // 64 x 16 tile (two warps scan), two chunks
    };
    for (int order = 0; order < num_orders(); order++) {
        use_order(order);
        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) test_case(cases[i], order);
    }
    return test_summary("test_cuda_scan");
}
