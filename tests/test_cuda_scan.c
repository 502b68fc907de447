// test_cuda_scan.c: the selective scan kernels (forward, backward, decode
// step) against a sequential double-precision reference and against the CPU
// backend's ops, in both scheduling orders of the emulation.
//
// The shapes cover every thread layout of the kernels (d_state 3, 4, 8, 16,
// 20, 32, 64: 1, 2, 4, 8 and 16 lanes per channel, with inert states when
// d_state is not a multiple of 4 lanes), dims that are not a multiple of the
// block's channel tile, batch > 1, sequences shorter than, equal to, and not
// a multiple of the chunk, chunks that are not a multiple of the 16-step tile
// (and shorter than one), and chunks of many tiles. The tensors are laid out
// as the Mamba block passes them: z and dz inside the (rows, 2 dim) xz
// buffers, B/C and dB/dC inside the x_dbl rows after dt_rank columns, u,
// delta_raw, out, du, ddelta_raw with a row stride wider than dim. Outputs
// start as NaN, so an element a kernel forgets to write fails, and the
// columns around the strided views must come back untouched. Each case also
// continues a sequence from initial_state (aliasing final_state, as prefill
// does) and replays it with the decode step.
#include "test.h"

#include "cuda_ref_scan.h"
#include "cuda_test_util.h"

static Rng rng;
static const Backend *cpu;

// Per-tensor tolerances |got - ref| <= atol + rtol |ref| (see the README).
#define TOL_SCAN_FWD 2e-5f, 1e-4f
#define TOL_SCAN_BWD 1e-4f, 1e-3f

typedef struct {
    int batch, seqlen, dim, N, chunk;
} ScanCase;

enum { DT_RANK = 3 };  // columns of x_dbl before B
enum { TILE_STEPS = 16 };  // the kernels' time tile (SCAN_TT, kernels/cuda/selective_scan.cuh)

// Host copies of one problem, laid out as in models/mamba.c.
typedef struct {
    ScanCase c;
    int us, xs;                  // row stride of u/delta/out/du/ddelta, and of x_dbl
    float *u, *dr, *xz, *xdbl;   // xz rows: [x (dim) | z (dim)]; x_dbl rows: [dt_r | B | C | pad]
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
    p->xs = DT_RANK + 2 * c.N + 1;
    int rows = c.batch * c.seqlen;
    p->u = host_random(&rng, (size_t)rows * p->us, -1, 1);
    p->dr = host_random(&rng, (size_t)rows * p->us, -3, 0.5f);
    if (rows > 1) p->dr[p->us + c.dim - 1] = 25.0f;  // one step past softplus's threshold
    // A step whose decays exp(delta A) fall below 2^-126 for A near -5 (the
    // kernels flush them to zero, the reference keeps the denormals; the
    // 25 above does the same for A near -4).
    if (rows > 2) p->dr[2 * p->us] = 18.0f;
    p->xz = host_random(&rng, (size_t)rows * 2 * c.dim, -2, 2);
    p->xdbl = host_random(&rng, (size_t)rows * p->xs, -1, 1);
    p->dout = host_random(&rng, (size_t)rows * c.dim, -1, 1);
    p->A_log = tb_malloc(sizeof(float) * c.dim * c.N);
    for (int d = 0; d < c.dim; d++)
        for (int n = 0; n < c.N; n++)  // S4D-real, A = -(n + 1), jittered
            p->A_log[d * c.N + n] = logf((float)(n + 1)) + 0.2f * (rng_uniform(&rng) - 0.5f);
    p->D = host_random(&rng, c.dim, 0.5f, 1.5f);
    p->dt_bias = host_random(&rng, c.dim, -1, 0);
    p->ud = to_double_rows(p->u, rows, c.dim, p->us, 0);
    p->drd = to_double_rows(p->dr, rows, c.dim, p->us, 0);
    p->zd = to_double_rows(p->xz, rows, c.dim, 2 * c.dim, c.dim);
    p->Bd = to_double_rows(p->xdbl, rows, c.N, p->xs, DT_RANK);
    p->Cd = to_double_rows(p->xdbl, rows, c.N, p->xs, DT_RANK + c.N);
    p->A_logd = to_double_rows(p->A_log, 1, c.dim * c.N, 0, 0);
    p->Dd = to_double_rows(p->D, 1, c.dim, 0, 0);
    p->biasd = to_double_rows(p->dt_bias, 1, c.dim, 0, 0);
    p->doutd = to_double_rows(p->dout, rows, c.dim, c.dim, 0);
}

static void problem_free(ScanProblem *p) {
    void *all[] = {p->u, p->dr, p->xz, p->xdbl, p->A_log, p->D, p->dt_bias, p->dout, p->ud,
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

// A filled host array (NaN for outputs, a sentinel for guard columns).
static float *host_fill(size_t n, float value) {
    float *x = tb_malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) x[i] = value;
    return x;
}
static const float SENTINEL = 12345.0f;

// One problem on one backend: params pointing at that backend's copies.
typedef struct {
    const Backend *be;
    SelectiveScanParams sp;
    float *xz, *dxz, *xdbl, *dxdbl;  // the wide buffers the views live in
    float *bufs[24];
    int nbufs;
} DevScan;

static float *dev_keep(DevScan *ds, float *p) { return ds->bufs[ds->nbufs++] = p; }
static float *be_upload(const Backend *be, const float *host, size_t n) {
    float *d = be->alloc(n * sizeof(float));
    be->to_device(d, host, n * sizeof(float));
    return d;
}
static float *be_fill(const Backend *be, size_t n, float value) {
    float *h = host_fill(n, value), *d = be_upload(be, h, n);
    free(h);
    return d;
}

static void dev_make(DevScan *ds, const Backend *be, const ScanProblem *p, const float *dA_log0,
                     const float *dD0, const float *dbias0) {
    const ScanCase *c = &p->c;
    size_t rows = (size_t)c->batch * c->seqlen;
    memset(ds, 0, sizeof *ds);
    ds->be = be;
    SelectiveScanParams *s = &ds->sp;
    s->batch = c->batch, s->seqlen = c->seqlen, s->dim = c->dim, s->dstate = c->N, s->chunk = c->chunk;
    ds->xz = dev_keep(ds, be_upload(be, p->xz, rows * 2 * c->dim));
    ds->xdbl = dev_keep(ds, be_upload(be, p->xdbl, rows * p->xs));
    s->u = dev_keep(ds, be_upload(be, p->u, rows * p->us)), s->u_stride = p->us;
    s->delta_raw = dev_keep(ds, be_upload(be, p->dr, rows * p->us)), s->delta_stride = p->us;
    s->z = ds->xz + c->dim, s->z_stride = 2 * c->dim;
    s->Bmat = ds->xdbl + DT_RANK, s->B_stride = p->xs;
    s->Cmat = ds->xdbl + DT_RANK + c->N, s->C_stride = p->xs;
    s->A_log = dev_keep(ds, be_upload(be, p->A_log, c->dim * c->N));
    s->D = dev_keep(ds, be_upload(be, p->D, c->dim));
    s->delta_bias = dev_keep(ds, be_upload(be, p->dt_bias, c->dim));
    s->out = dev_keep(ds, be_fill(be, rows * p->us, NAN)), s->out_stride = p->us;
    s->chunk_states = dev_keep(ds, be_fill(be, be->selective_scan_saved_floats(s), NAN));
    s->final_state = dev_keep(ds, be_fill(be, (size_t)c->batch * c->dim * c->N, NAN));
    s->dout = dev_keep(ds, be_upload(be, p->dout, rows * c->dim)), s->dout_stride = c->dim;
    s->du = dev_keep(ds, be_fill(be, rows * p->us, NAN)), s->du_stride = p->us;
    s->ddelta_raw = dev_keep(ds, be_fill(be, rows * p->us, NAN)), s->ddelta_stride = p->us;
    // dz and dB/dC write into the second half of dxz and the middle of
    // dx_dbl; the rest holds a sentinel that must survive.
    float *dxz_host = host_fill(rows * 2 * c->dim, SENTINEL), *dxdbl_host = host_fill(rows * p->xs, SENTINEL);
    for (size_t r = 0; r < rows; r++) {
        for (int d = 0; d < c->dim; d++) dxz_host[r * 2 * c->dim + c->dim + d] = NAN;
        for (int n = 0; n < 2 * c->N; n++) dxdbl_host[r * p->xs + DT_RANK + n] = NAN;
    }
    ds->dxz = dev_keep(ds, be_upload(be, dxz_host, rows * 2 * c->dim));
    ds->dxdbl = dev_keep(ds, be_upload(be, dxdbl_host, rows * p->xs));
    free(dxz_host), free(dxdbl_host);
    s->dz = ds->dxz + c->dim, s->dz_stride = 2 * c->dim;
    s->dB = ds->dxdbl + DT_RANK, s->dB_stride = p->xs;
    s->dC = ds->dxdbl + DT_RANK + c->N, s->dC_stride = p->xs;
    s->dA_log = dev_keep(ds, be_upload(be, dA_log0, c->dim * c->N));
    s->dD = dev_keep(ds, be_upload(be, dD0, c->dim));
    s->ddelta_bias = dev_keep(ds, be_upload(be, dbias0, c->dim));
    s->scratch = dev_keep(ds, be->alloc(sizeof(float) * be->selective_scan_scratch_floats(s)));
}

static void dev_free(DevScan *ds) {
    for (int i = 0; i < ds->nbufs; i++) ds->be->free(ds->bufs[i]);
}

// Gathers a strided backend tensor (rows, cols) into a contiguous host array.
static float *gather(const Backend *be, const float *dev, int rows, int cols, int stride) {
    size_t n = (size_t)(rows - 1) * stride + cols;
    float *all = tb_malloc(sizeof(float) * n);
    be->to_host(all, dev, sizeof(float) * n);
    float *out = tb_malloc(sizeof(float) * rows * cols);
    for (int r = 0; r < rows; r++) memcpy(out + (size_t)r * cols, all + (size_t)r * stride, sizeof(float) * cols);
    free(all);
    return out;
}

// Every output of one backend, gathered contiguous (host).
enum { OUT_Y, OUT_STATES, OUT_FINAL, OUT_DU, OUT_DDELTA, OUT_DZ, OUT_DB, OUT_DC, OUT_DALOG,
       OUT_DD, OUT_DBIAS, OUT_COUNT };
static const char *const out_names[OUT_COUNT] = {"out", "chunk_states", "final_state", "du",
                                                 "ddelta_raw", "dz", "dB", "dC", "dA_log",
                                                 "dD", "ddelta_bias"};
typedef struct {
    float *t[OUT_COUNT];
    size_t n[OUT_COUNT];
} ScanOutputs;

static void outputs_get(ScanOutputs *o, const DevScan *ds, const ScanProblem *p) {
    const ScanCase *c = &p->c;
    const SelectiveScanParams *s = &ds->sp;
    const Backend *be = ds->be;
    int R = c->batch * c->seqlen, nchunks = (c->seqlen + c->chunk - 1) / c->chunk;
    struct { const float *ptr; int rows, cols, stride; } v[OUT_COUNT] = {
        {s->out, R, c->dim, s->out_stride},
        {s->chunk_states, 1, c->batch * nchunks * c->dim * c->N, 0},
        {s->final_state, 1, c->batch * c->dim * c->N, 0},
        {s->du, R, c->dim, s->du_stride},
        {s->ddelta_raw, R, c->dim, s->ddelta_stride},
        {s->dz, R, c->dim, s->dz_stride},
        {s->dB, R, c->N, s->dB_stride},
        {s->dC, R, c->N, s->dC_stride},
        {s->dA_log, 1, c->dim * c->N, 0},
        {s->dD, 1, c->dim, 0},
        {s->ddelta_bias, 1, c->dim, 0}};
    for (int i = 0; i < OUT_COUNT; i++) {
        o->t[i] = gather(be, v[i].ptr, v[i].rows, v[i].cols, v[i].stride);
        o->n[i] = (size_t)v[i].rows * v[i].cols;
    }
}
static void outputs_free(ScanOutputs *o) {
    for (int i = 0; i < OUT_COUNT; i++) free(o->t[i]);
}

// Every output against a reference: the forward's at the forward's tolerance,
// the gradients at the backward's. against names the reference ("" for the
// double one).
static void outputs_check(const char *name, const char *against, const ScanOutputs *got,
                          const ScanOutputs *want) {
    char what[224];
    for (int i = 0; i < OUT_COUNT; i++) {
        snprintf(what, sizeof what, "%s: %s%s", name, out_names[i], against);
        if (i < OUT_DU) check_close(what, got->t[i], want->t[i], got->n[i], TOL_SCAN_FWD);
        else check_close(what, got->t[i], want->t[i], got->n[i], TOL_SCAN_BWD);
    }
}

// The columns of dxz and dx_dbl outside the views still hold the sentinel.
static int guards_intact(const DevScan *ds, const ScanProblem *p) {
    const ScanCase *c = &p->c;
    size_t rows = (size_t)c->batch * c->seqlen;
    float *dxz = tb_malloc(sizeof(float) * rows * 2 * c->dim), *dxdbl = tb_malloc(sizeof(float) * rows * p->xs);
    ds->be->to_host(dxz, ds->dxz, sizeof(float) * rows * 2 * c->dim);
    ds->be->to_host(dxdbl, ds->dxdbl, sizeof(float) * rows * p->xs);
    int bad = 0;
    for (size_t r = 0; r < rows; r++) {
        for (int d = 0; d < c->dim; d++) bad += dxz[r * 2 * c->dim + d] != SENTINEL;
        for (int i = 0; i < p->xs; i++)
            if (i < DT_RANK || i >= DT_RANK + 2 * c->N) bad += dxdbl[r * p->xs + i] != SENTINEL;
    }
    free(dxz), free(dxdbl);
    return bad == 0;
}

// Steps [t_begin, t_end) of every batch row of p, as a problem of its own
// (same strides, same parameters).
static void problem_slice(ScanProblem *s, const ScanProblem *p, int t_begin, int t_end) {
    const ScanCase *c = &p->c;
    *s = *p;
    s->c.seqlen = t_end - t_begin;
    int rows = c->batch * s->c.seqlen;
    struct { float **dst; const float *src; int width; } t[] = {
        {&s->u, p->u, p->us}, {&s->dr, p->dr, p->us}, {&s->xz, p->xz, 2 * c->dim},
        {&s->xdbl, p->xdbl, p->xs}, {&s->dout, p->dout, c->dim}};
    for (size_t k = 0; k < sizeof t / sizeof *t; k++) {
        *t[k].dst = tb_malloc(sizeof(float) * rows * t[k].width);
        for (int b = 0; b < c->batch; b++)
            memcpy(*t[k].dst + (size_t)b * s->c.seqlen * t[k].width,
                   t[k].src + ((size_t)b * c->seqlen + t_begin) * t[k].width,
                   sizeof(float) * s->c.seqlen * t[k].width);
    }
    s->A_log = host_copy(p->A_log, (size_t)c->dim * c->N);
    s->D = host_copy(p->D, c->dim);
    s->dt_bias = host_copy(p->dt_bias, c->dim);
    s->ud = to_double_rows(s->u, rows, c->dim, s->us, 0);
    s->drd = to_double_rows(s->dr, rows, c->dim, s->us, 0);
    s->zd = to_double_rows(s->xz, rows, c->dim, 2 * c->dim, c->dim);
    s->Bd = to_double_rows(s->xdbl, rows, c->N, s->xs, DT_RANK);
    s->Cd = to_double_rows(s->xdbl, rows, c->N, s->xs, DT_RANK + c->N);
    s->A_logd = to_double_rows(s->A_log, 1, c->dim * c->N, 0, 0);
    s->Dd = to_double_rows(s->D, 1, c->dim, 0, 0);
    s->biasd = to_double_rows(s->dt_bias, 1, c->dim, 0, 0);
    s->doutd = to_double_rows(s->dout, rows, c->dim, c->dim, 0);
}

// A sequence continued: the forward over steps [0, split) keeps its final
// state, and the forward over [split, T) starts from it, with initial_state
// and final_state the same buffer, as a prefill that continues does. Its
// outputs are the reference's rows [split, T) and its final state the
// reference's.
static void test_continuation(const ScanProblem *p, const double *out, const double *final_state,
                              const char *name) {
    const ScanCase *c = &p->c;
    int split = c->seqlen / 3;
    if (split < 1) return;
    ScanProblem first, second;
    problem_slice(&first, p, 0, split);
    problem_slice(&second, p, split, c->seqlen);
    float *zeros = calloc((size_t)c->dim * c->N, sizeof(float));
    DevScan d1, d2;
    dev_make(&d1, gpu, &first, zeros, zeros, zeros);
    dev_make(&d2, gpu, &second, zeros, zeros, zeros);
    gpu->selective_scan_forward(&d1.sp);
    d2.sp.initial_state = d1.sp.final_state;
    d2.sp.final_state = d1.sp.final_state;
    gpu->selective_scan_forward(&d2.sp);
    int L2 = second.c.seqlen;
    float *got = gather(gpu, d2.sp.out, c->batch * L2, c->dim, d2.sp.out_stride);
    float *want = tb_malloc(sizeof(float) * c->batch * L2 * c->dim);
    for (int b = 0; b < c->batch; b++)
        for (int t = 0; t < L2; t++)
            for (int d = 0; d < c->dim; d++)
                want[((size_t)b * L2 + t) * c->dim + d] =
                    (float)out[((size_t)b * c->seqlen + split + t) * c->dim + d];
    char what[192];
    snprintf(what, sizeof what, "%s: out continued from initial_state at step %d", name, split);
    check_close(what, got, want, (size_t)c->batch * L2 * c->dim, TOL_SCAN_FWD);
    free(got), free(want);
    size_t ns = (size_t)c->batch * c->dim * c->N;
    got = dev_download(d1.sp.final_state, ns);
    want = to_float(final_state, ns);
    snprintf(what, sizeof what, "%s: final_state continued in place", name);
    check_close(what, got, want, ns, TOL_SCAN_FWD);
    free(got), free(want), free(zeros);
    dev_free(&d1), dev_free(&d2);
    problem_free(&first), problem_free(&second);
}

// The backward restarts every tile but a chunk's first from the state the
// forward saved after the chunk states: with those zeroed, ddelta_raw (which
// depends on h) changes, and equals `ddr` again once the forward has
// rewritten them. A case of one tile per chunk saves nothing more than the
// CPU does.
static void test_saved_tile_states(DevScan *ds, const ScanProblem *p, const float *ddr, const char *name) {
    const ScanCase *c = &p->c;
    const SelectiveScanParams *s = &ds->sp;
    size_t nchunks = (size_t)(c->seqlen + c->chunk - 1) / c->chunk;
    size_t chunk_floats = (size_t)c->batch * nchunks * c->dim * c->N;
    size_t saved = gpu->selective_scan_saved_floats(s);
    int span = c->chunk < c->seqlen ? c->chunk : c->seqlen;
    int tiles_per_chunk = (span + TILE_STEPS - 1) / TILE_STEPS;
    CHECK(cpu->selective_scan_saved_floats(s) == chunk_floats,
          "%s: the CPU saves %zu floats, not its %zu chunk-state floats", name,
          cpu->selective_scan_saved_floats(s), chunk_floats);
    if (tiles_per_chunk == 1) {
        CHECK(saved == chunk_floats, "%s: one tile per chunk, yet %zu saved floats for %zu chunk-state floats",
              name, saved, chunk_floats);
        return;
    }
    CHECK(saved > chunk_floats, "%s: %d tiles per chunk, yet no tile states saved", name, tiles_per_chunk);
    gpu->zero(ds->sp.chunk_states + chunk_floats, (saved - chunk_floats) * sizeof(float));
    gpu->selective_scan_backward(&ds->sp);
    float *got = gather(gpu, s->ddelta_raw, c->batch * c->seqlen, c->dim, s->ddelta_stride);
    size_t n = (size_t)c->batch * c->seqlen * c->dim;
    CHECK(memcmp(got, ddr, sizeof(float) * n) != 0,
          "%s: ddelta_raw did not change with the saved tile states zeroed (are they read?)", name);
    free(got);
    gpu->selective_scan_forward(&ds->sp);
    gpu->selective_scan_backward(&ds->sp);
    got = gather(gpu, s->ddelta_raw, c->batch * c->seqlen, c->dim, s->ddelta_stride);
    CHECK(memcmp(got, ddr, sizeof(float) * n) == 0, "%s: ddelta_raw after the forward saved its states again",
          name);
    free(got);
}

static void case_name(char *buf, size_t size, const ScanCase *c, int order) {
    snprintf(buf, size, "scan b%d L%d D%d N%d chunk%d (%s order)", c->batch, c->seqlen, c->dim,
             c->N, c->chunk, order_name(order));
}

static void test_case(ScanCase c, int order) {
    char name[128], what[192];
    case_name(name, sizeof name, &c, order);
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
    const double *ref[OUT_COUNT] = {out, states, final_state, du, ddr, dz, dB, dC, dA, dD, dbias};

    // The CUDA kernels against the double reference.
    DevScan ds;
    dev_make(&ds, gpu, &p, dA0, dD0, dbias0);
    gpu->selective_scan_forward(&ds.sp);
    gpu->selective_scan_backward(&ds.sp);
    ScanOutputs got, want_ref;
    outputs_get(&got, &ds, &p);
    for (int i = 0; i < OUT_COUNT; i++) want_ref.t[i] = to_float(ref[i], got.n[i]), want_ref.n[i] = got.n[i];
    outputs_check(name, "", &got, &want_ref);
    outputs_free(&want_ref);
    CHECK(guards_intact(&ds, &p), "%s: columns of dxz or dx_dbl outside the views were written", name);

    // The CPU backend's ops, on the same views, agree with the kernels.
    DevScan dc;
    dev_make(&dc, cpu, &p, dA0, dD0, dbias0);
    cpu->selective_scan_forward(&dc.sp);
    cpu->selective_scan_backward(&dc.sp);
    ScanOutputs want_cpu;
    outputs_get(&want_cpu, &dc, &p);
    outputs_check(name, " against the CPU backend", &got, &want_cpu);
    outputs_free(&want_cpu);
    dev_free(&dc);

    // Determinism: forward and backward again, the parameter gradients
    // restarted from the same values, give the same bits everywhere.
    gpu->to_device(ds.sp.dA_log, dA0, sizeof(float) * c.dim * c.N);
    gpu->to_device(ds.sp.dD, dD0, sizeof(float) * c.dim);
    gpu->to_device(ds.sp.ddelta_bias, dbias0, sizeof(float) * c.dim);
    gpu->selective_scan_forward(&ds.sp);
    gpu->selective_scan_backward(&ds.sp);
    ScanOutputs again;
    outputs_get(&again, &ds, &p);
    int same = 1;
    for (int i = 0; i < OUT_COUNT; i++) same &= !memcmp(got.t[i], again.t[i], sizeof(float) * got.n[i]);
    CHECK(same, "%s: a second forward + backward is not bit-for-bit the first", name);
    outputs_free(&again);
    test_saved_tile_states(&ds, &p, got.t[OUT_DDELTA], name);
    outputs_free(&got);

    test_continuation(&p, out, final_state, name);

    // Decode: the recurrent step over batch 0 reproduces the scan.
    float *d_state = gpu->alloc(sizeof(float) * c.dim * c.N), *d_y = gpu->alloc(sizeof(float) * c.dim);
    float *d_Bt = gpu->alloc(sizeof(float) * c.N), *d_Ct = gpu->alloc(sizeof(float) * c.N);
    float *step_out = tb_malloc(sizeof(float) * c.seqlen * c.dim);
    for (int t = 0; t < c.seqlen; t++) {
        gpu->to_device(d_Bt, p.xdbl + (size_t)t * p.xs + DT_RANK, sizeof(float) * c.N);
        gpu->to_device(d_Ct, p.xdbl + (size_t)t * p.xs + DT_RANK + c.N, sizeof(float) * c.N);
        gpu->selective_scan_step(d_y, d_state, ds.sp.u + (size_t)t * p.us, ds.sp.delta_raw + (size_t)t * p.us,
                                 ds.sp.z + (size_t)t * 2 * c.dim, d_Bt, d_Ct, ds.sp.A_log, ds.sp.D,
                                 ds.sp.delta_bias, c.dim, c.N);
        gpu->to_host(step_out + (size_t)t * c.dim, d_y, sizeof(float) * c.dim);
    }
    float *want = to_float(out, (size_t)c.seqlen * c.dim);
    snprintf(what, sizeof what, "%s: selective_scan_step out", name);
    check_close(what, step_out, want, (size_t)c.seqlen * c.dim, TOL_SCAN_FWD);
    free(want);
    float *step_state = dev_download(d_state, (size_t)c.dim * c.N);
    want = to_float(final_state, (size_t)c.dim * c.N);
    snprintf(what, sizeof what, "%s: selective_scan_step state", name);
    check_close(what, step_state, want, (size_t)c.dim * c.N, TOL_SCAN_FWD);
    free(want), free(step_out), free(step_state);
    gpu->free(d_state), gpu->free(d_y), gpu->free(d_Bt), gpu->free(d_Ct);

    dev_free(&ds);
    void *all[] = {out, h_all, final_state, states, du, ddr, dz, dB, dC, dA, dD, dbias, dA0, dD0, dbias0};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) free(all[i]);
    problem_free(&p);
}

// The reference backward against central differences of the reference
// forward, loss = sum(out * dout), on a tiny problem (in double).
static void test_reference_gradients(void) {
    ScanCase c = {2, 7, 2, 3, 4};
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
    cpu = backend_cpu();
    rng_seed(&rng, 99);
    test_reference_gradients();
    CHECK(gpu->selective_scan_max_dstate == 64, "the CUDA scan's d_state limit is %d, not 64",
          gpu->selective_scan_max_dstate);
    const ScanCase cases[] = {
        // batch, seqlen, dim, N, chunk
        {2, 40, 37, 16, 64},   // one chunk shorter than the chunk; 2 channel tiles, the second ragged
        {1, 64, 32, 16, 64},   // one chunk exactly, 4 whole tiles
        {2, 150, 5, 16, 64},   // three chunks, the last ragged; tile checkpoints within chunks
        {1, 1, 5, 16, 64},     // a single step
        {2, 100, 9, 3, 100},   // d_state 3: 1 lane per channel, one inert state; chunk = T
        {1, 77, 40, 4, 200},   // d_state 4, chunk > T (5 tiles, the last ragged); 2 channel tiles
        {2, 77, 20, 8, 32},    // d_state 8: 2 lanes per channel
        {1, 50, 19, 20, 17},   // d_state 20: 8 lanes, 12 inert states; chunks of a tile + 1 step
        {1, 33, 3, 32, 7},     // d_state 32; chunks shorter than a tile
        {2, 45, 11, 64, 20},   // d_state 64: 16 lanes, 8 channels per block, 2 tiles
        {1, 300, 4, 16, 200},  // a chunk of 13 tiles, then a ragged one
        {3, 70, 33, 16, 24},   // batch 3; chunks of 1.5 tiles, the last chunk 22 steps; 2 channel tiles
    };
    for (int order = 0; order < num_orders(); order++) {
        use_order(order);
        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) test_case(cases[i], order);
    }
    return test_summary("test_cuda_scan");
}
