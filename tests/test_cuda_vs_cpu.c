// test_cuda_vs_cpu.c: every op of the CUDA backend against the same op of
// the CPU backend (kernels/cpu/, itself tested against PyTorch), on the same
// random inputs, in both scheduling orders of the emulation. Each tensor is
// a "twin": one copy in CPU memory, one in CUDA memory, filled alike.
#include "test.h"

#include "cuda_test_util.h"

static const Backend *cpu;
static Rng rng;
static int order;

static Twin twin(size_t n, float lo, float hi) { return twin_random(&rng, n, lo, hi); }
static Twin twin_zero(size_t n) { return twin(n, 0, 0); }
static void twin_check(const char *op, const char *tensor, const Twin *t, float atol, float rtol) {
    check_dev(op, tensor, order, t->g, t->c, t->n, atol, rtol);
}

typedef struct {
    int32_t *c, *g;
} TwinInts;
static TwinInts twin_ints(int n, int below) {
    int32_t *h = tb_malloc(sizeof(int32_t) * n);
    for (int i = 0; i < n; i++) h[i] = (int32_t)rng_below(&rng, below);
    TwinInts t = {cpu->alloc(sizeof(int32_t) * n), dev_upload_ints(h, n)};
    memcpy(t.c, h, sizeof(int32_t) * n);
    free(h);
    return t;
}

// Per-op tolerances |cuda - cpu| <= atol + rtol |cpu|.
#define TOL_EXACTISH 1e-6f, 1e-5f
#define TOL_SUM 1e-5f, 1e-4f
#define TOL_SCAN 1e-4f, 1e-3f

static void test_dense_ops(void) {
    enum { N = 300, C = 40, OC = 24, V = 29, B = 2, T = 11, NH = 4 };
    for (int w_in_out = 0; w_in_out < 2; w_in_out++) {
        Twin inp = twin(N * C, -1, 1), w = twin(C * OC, -1, 1), bias = twin(OC, -1, 1);
        Twin out = twin_zero(N * OC), dout = twin(N * OC, -1, 1), dinp = twin_zero(N * C);
        Twin dw = twin(C * OC, -1, 1), db = twin(OC, -1, 1);
        cpu->linear_forward(out.c, OC, inp.c, C, w.c, bias.c, N, C, OC, w_in_out);
        gpu->linear_forward(out.g, OC, inp.g, C, w.g, bias.g, N, C, OC, w_in_out);
        cpu->linear_backward(dinp.c, C, dw.c, db.c, dout.c, OC, inp.c, C, w.c, N, C, OC, w_in_out);
        gpu->linear_backward(dinp.g, C, dw.g, db.g, dout.g, OC, inp.g, C, w.g, N, C, OC, w_in_out);
        const char *op = w_in_out ? "linear(in,out)" : "linear(out,in)";
        twin_check(op, "out", &out, TOL_SUM);
        twin_check(op, "dinp", &dinp, TOL_SUM);
        twin_check(op, "dweight", &dw, TOL_SUM);
        twin_check(op, "dbias", &db, TOL_SUM);
        Twin *all[] = {&inp, &w, &bias, &out, &dout, &dinp, &dw, &db};
        for (size_t i = 0; i < sizeof all / sizeof *all; i++) twin_free(all[i]);
    }
    {
        TwinInts tok = twin_ints(B * T, 7);  // many repeats
        Twin wte = twin(V * C, -1, 1), wpe = twin(T * C, -1, 1), out = twin_zero(B * T * C);
        Twin dout = twin(B * T * C, -1, 1), dwte = twin(V * C, -1, 1), dwpe = twin(T * C, -1, 1);
        cpu->embedding_forward(out.c, tok.c, wte.c, wpe.c, B, T, C);
        gpu->embedding_forward(out.g, tok.g, wte.g, wpe.g, B, T, C);
        cpu->embedding_backward(dwte.c, dwpe.c, dout.c, tok.c, B, T, C);
        gpu->embedding_backward(dwte.g, dwpe.g, dout.g, tok.g, B, T, C);
        twin_check("embedding", "out", &out, TOL_EXACTISH);
        // Both add each row's positions in order onto the old value: the same bits.
        twin_check("embedding", "dwte", &dwte, 0, 0);
        twin_check("embedding", "dwpe", &dwpe, 0, 0);
        Twin *all[] = {&wte, &wpe, &out, &dout, &dwte, &dwpe};
        for (size_t i = 0; i < sizeof all / sizeof *all; i++) twin_free(all[i]);
        cpu->free(tok.c), gpu->free(tok.g);
    }
    {
        Twin x = twin(N * C, -2, 2), w = twin(C, 0.5f, 1.5f), b = twin(C, -1, 1), out = twin_zero(N * C);
        Twin mean = twin_zero(N), rstd = twin_zero(N), dout = twin(N * C, -1, 1);
        Twin dx = twin(N * C, -1, 1), dw = twin(C, -1, 1), db = twin(C, -1, 1);
        cpu->layernorm_forward(out.c, mean.c, rstd.c, x.c, w.c, b.c, N, C, 1e-5f);
        gpu->layernorm_forward(out.g, mean.g, rstd.g, x.g, w.g, b.g, N, C, 1e-5f);
        cpu->layernorm_backward(dx.c, dw.c, db.c, dout.c, x.c, w.c, mean.c, rstd.c, N, C);
        gpu->layernorm_backward(dx.g, dw.g, db.g, dout.g, x.g, w.g, mean.g, rstd.g, N, C);
        twin_check("layernorm", "out", &out, TOL_SUM);
        twin_check("layernorm", "rstd", &rstd, TOL_SUM);
        twin_check("layernorm", "dinp", &dx, TOL_SUM);
        twin_check("layernorm", "dweight", &dw, TOL_SUM);
        twin_check("layernorm", "dbias", &db, TOL_SUM);
        cpu->rmsnorm_forward(out.c, rstd.c, x.c, w.c, N, C, 1e-5f);
        gpu->rmsnorm_forward(out.g, rstd.g, x.g, w.g, N, C, 1e-5f);
        cpu->rmsnorm_backward(dx.c, dw.c, dout.c, x.c, w.c, rstd.c, N, C);
        gpu->rmsnorm_backward(dx.g, dw.g, dout.g, x.g, w.g, rstd.g, N, C);
        twin_check("rmsnorm", "out", &out, TOL_SUM);
        twin_check("rmsnorm", "rstd", &rstd, TOL_SUM);
        twin_check("rmsnorm", "dinp", &dx, TOL_SUM);
        twin_check("rmsnorm", "dweight", &dw, TOL_SUM);
        // The fused residual add and norm (decode): sum aliases a, as there.
        Twin sum = twin(N * C, -2, 2), b2 = twin(N * C, -2, 2);
        float *expect_sum = tb_malloc(sizeof(float) * N * C), *expect_out = tb_malloc(sizeof(float) * N * C);
        float *expect_rstd = tb_malloc(sizeof(float) * N);
        cpu->add(expect_sum, sum.c, b2.c, (size_t)N * C);
        cpu->rmsnorm_forward(expect_out, expect_rstd, expect_sum, w.c, N, C, 1e-5f);
        cpu->add_rmsnorm_forward(sum.c, out.c, rstd.c, sum.c, b2.c, w.c, N, C, 1e-5f);
        gpu->add_rmsnorm_forward(sum.g, out.g, rstd.g, sum.g, b2.g, w.g, N, C, 1e-5f);
        CHECK(memcmp(sum.c, expect_sum, sizeof(float) * N * C) == 0 &&
                  memcmp(out.c, expect_out, sizeof(float) * N * C) == 0 &&
                  memcmp(rstd.c, expect_rstd, sizeof(float) * N) == 0,
              "add_rmsnorm_forward on the CPU differs from add then rmsnorm_forward");
        twin_check("add_rmsnorm", "sum", &sum, 0, 0);
        twin_check("add_rmsnorm", "out", &out, TOL_SUM);
        twin_check("add_rmsnorm", "rstd", &rstd, TOL_SUM);
        free(expect_sum), free(expect_out), free(expect_rstd);
        twin_free(&sum), twin_free(&b2);
        Twin *all[] = {&x, &w, &b, &out, &mean, &rstd, &dout, &dx, &dw, &db};
        for (size_t i = 0; i < sizeof all / sizeof *all; i++) twin_free(all[i]);
    }
    {
        enum { ROWS = 17, COLS = 30, STRIDE = 41 };
        size_t n = ROWS * STRIDE;
        Twin x = twin(n, -6, 6), y = twin(n, -3, 3), out = twin_zero(n), dout = twin(n, -1, 1), dx = twin_zero(n);
        cpu->gelu_forward(out.c, x.c, n), gpu->gelu_forward(out.g, x.g, n);
        cpu->gelu_backward(dx.c, x.c, dout.c, n), gpu->gelu_backward(dx.g, x.g, dout.g, n);
        // The CPU's GELU uses a vectorised tanh (about 2e-7 absolute error,
        // kernels/cpu/vec_math.h); in the backward that error is multiplied by
        // dout and by terms of order 1, so compare at the summed tolerance.
        twin_check("gelu", "out", &out, TOL_EXACTISH);
        twin_check("gelu", "dinp", &dx, TOL_SUM);
        // silu writes only COLS of each STRIDE-wide row; start both from zero
        // so the untouched padding is not gelu's output.
        cpu->zero(dx.c, dx.n * sizeof(float)), gpu->zero(dx.g, dx.n * sizeof(float));
        cpu->zero(out.c, out.n * sizeof(float)), gpu->zero(out.g, out.n * sizeof(float));
        cpu->silu_forward(out.c, STRIDE, x.c, STRIDE, ROWS, COLS);
        gpu->silu_forward(out.g, STRIDE, x.g, STRIDE, ROWS, COLS);
        cpu->silu_backward(dx.c, STRIDE, x.c, STRIDE, dout.c, ROWS, COLS);
        gpu->silu_backward(dx.g, STRIDE, x.g, STRIDE, dout.g, ROWS, COLS);
        twin_check("silu", "out", &out, TOL_EXACTISH);
        twin_check("silu", "dinp", &dx, TOL_EXACTISH);
        cpu->add(out.c, x.c, y.c, n), gpu->add(out.g, x.g, y.g, n);
        cpu->accumulate(out.c, dout.c, n), gpu->accumulate(out.g, dout.g, n);
        cpu->scale(out.c, -0.3f, n), gpu->scale(out.g, -0.3f, n);
        twin_check("add/accumulate/scale", "out", &out, TOL_EXACTISH);
        double ssc = cpu->sum_squares(x.c, n), ssg = gpu->sum_squares(x.g, n);
        CHECK(fabs(ssc - ssg) <= 1e-6 * ssc, "sum_squares cuda %.10g cpu %.10g", ssg, ssc);
        Twin m = twin(n, -0.1f, 0.1f), v = twin(n, 0, 0.01f);
        // Decay on two spans, one at each end.
        size_t spans[4] = {0, n / 3, n / 2, n}, *spans_c = cpu->alloc(sizeof spans), *spans_g = gpu->alloc(sizeof spans);
        cpu->to_device(spans_c, spans, sizeof spans), gpu->to_device(spans_g, spans, sizeof spans);
        cpu->adamw_update(x.c, y.c, m.c, v.c, n, spans_c, 2, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.7f, 5);
        gpu->adamw_update(x.g, y.g, m.g, v.g, n, spans_g, 2, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.7f, 5);
        cpu->free(spans_c), gpu->free(spans_g);
        twin_check("adamw", "param", &x, TOL_EXACTISH);
        twin_check("adamw", "m", &m, TOL_EXACTISH);
        twin_check("adamw", "v", &v, 1e-9f, 1e-5f);
        Twin *all[] = {&x, &y, &out, &dout, &dx, &m, &v};
        for (size_t i = 0; i < sizeof all / sizeof *all; i++) twin_free(all[i]);
    }
    {
        Twin qkv = twin(B * T * 3 * C, -1.5f, 1.5f), out = twin_zero(B * T * C), att = twin_zero(B * NH * T * T);
        Twin dout = twin(B * T * C, -1, 1), dqkv = twin_zero(B * T * 3 * C), scratch = twin_zero(B * NH * T * T);
        cpu->attention_forward(out.c, att.c, qkv.c, B, T, C, NH);
        gpu->attention_forward(out.g, att.g, qkv.g, B, T, C, NH);
        cpu->attention_backward(dqkv.c, scratch.c, dout.c, qkv.c, att.c, B, T, C, NH);
        gpu->attention_backward(dqkv.g, scratch.g, dout.g, qkv.g, att.g, B, T, C, NH);
        twin_check("attention", "out", &out, TOL_SUM);
        twin_check("attention", "att", &att, TOL_SUM);
        twin_check("attention", "dqkv", &dqkv, TOL_SUM);
        enum { MAX_T = 12 };
        Twin kc = twin_zero(MAX_T * C), vc = twin_zero(MAX_T * C), y = twin_zero(C);
        int32_t *pos_dev = gpu->alloc(sizeof(int32_t));
        for (int t = 0; t < T; t++) {
            int32_t pos = t;
            gpu->to_device(pos_dev, &pos, sizeof pos);
            cpu->attention_decode(y.c, kc.c, vc.c, qkv.c + (size_t)t * 3 * C, &pos, 1, 1, MAX_T, C, NH);
            gpu->attention_decode(y.g, kc.g, vc.g, qkv.g + (size_t)t * 3 * C, pos_dev, 1, 1, MAX_T, C, NH);
        }
        twin_check("attention_decode", "out", &y, TOL_SUM);
        // T tokens in one call (a prefill) on both backends.
        Twin yn = twin_zero(T * C);
        int32_t zero = 0;
        gpu->to_device(pos_dev, &zero, sizeof zero);
        cpu->attention_decode(yn.c, kc.c, vc.c, qkv.c, &zero, 1, T, MAX_T, C, NH);
        gpu->attention_decode(yn.g, kc.g, vc.g, qkv.g, pos_dev, 1, T, MAX_T, C, NH);
        twin_check("attention_decode", "out of a T-token call", &yn, TOL_SUM);
        twin_free(&yn);
        twin_check("attention_decode", "k_cache", &kc, 0, 0);
        twin_check("attention_decode", "v_cache", &vc, 0, 0);
        // B sequences of 2 tokens in one call, each at its own position in its
        // own cache (the sequences of a batched decode step stand apart).
        {
            Twin bk = twin(B * MAX_T * C, -1, 1), bv = twin(B * MAX_T * C, -1, 1), by = twin_zero(B * 2 * C);
            int32_t bpos[B];
            for (int b = 0; b < B; b++) bpos[b] = (3 * b + 1) % (MAX_T - 2);
            int32_t *bpos_dev = gpu->alloc(sizeof bpos);
            gpu->to_device(bpos_dev, bpos, sizeof bpos);
            cpu->attention_decode(by.c, bk.c, bv.c, qkv.c, bpos, B, 2, MAX_T, C, NH);
            gpu->attention_decode(by.g, bk.g, bv.g, qkv.g, bpos_dev, B, 2, MAX_T, C, NH);
            twin_check("attention_decode", "out of B sequences at their own positions", &by, TOL_SUM);
            twin_check("attention_decode", "B sequences' k_cache", &bk, 0, 0);
            twin_check("attention_decode", "B sequences' v_cache", &bv, 0, 0);
            gpu->free(bpos_dev);
            twin_free(&bk), twin_free(&bv), twin_free(&by);
        }
        // A context whose scores pass 48 KB of shared memory (max_T above
        // 12,288): the kernel must opt in to more, or the launch fails.
        enum { LONG_T = 16384 };
        Twin lk = twin_zero((size_t)LONG_T * C), lv = twin_zero((size_t)LONG_T * C), ly = twin_zero(3 * C);
        gpu->to_device(pos_dev, &zero, sizeof zero);
        cpu->attention_decode(ly.c, lk.c, lv.c, qkv.c, &zero, 1, 3, LONG_T, C, NH);
        gpu->attention_decode(ly.g, lk.g, lv.g, qkv.g, pos_dev, 1, 3, LONG_T, C, NH);
        twin_check("attention_decode", "out with a 16,384-token cache", &ly, TOL_SUM);
        twin_free(&lk), twin_free(&lv), twin_free(&ly);
        gpu->free(pos_dev);
        Twin *all[] = {&qkv, &out, &att, &dout, &dqkv, &scratch, &kc, &vc, &y};
        for (size_t i = 0; i < sizeof all / sizeof *all; i++) twin_free(all[i]);
    }
    {
        enum { R = 7, VV = 333 };
        Twin logits = twin(R * VV, -5, 5), losses = twin_zero(R), dlogits = twin_zero(R * VV);
        TwinInts tg = twin_ints(R, VV);
        int32_t ignored = -1;
        cpu->to_device(tg.c + 2, &ignored, sizeof ignored), gpu->to_device(tg.g + 2, &ignored, sizeof ignored);
        cpu->crossentropy_forward_backward(losses.c, dlogits.c, logits.c, tg.c, R, VV, 0.25f);
        gpu->crossentropy_forward_backward(losses.g, dlogits.g, logits.g, tg.g, R, VV, 0.25f);
        twin_check("crossentropy", "losses", &losses, TOL_SUM);
        twin_check("crossentropy", "dlogits", &dlogits, 1e-7f, 1e-4f);
        Twin *all[] = {&logits, &losses, &dlogits};
        for (size_t i = 0; i < sizeof all / sizeof *all; i++) twin_free(all[i]);
        cpu->free(tg.c), gpu->free(tg.g);
    }
}

static void test_mamba_ops(void) {
    enum { B = 2, L = 77, D = 36, K = 4, N = 16, XS = 2 * D + 1, CHUNK = 32, XP = 2 * N + 3 };
    size_t rows = (size_t)B * L;
    Twin x = twin(rows * XS, -1, 1), w = twin(D * K, -1, 1), bias = twin(D, -1, 1);
    Twin out = twin_zero(rows * D), dout = twin(rows * D, -1, 1), dx = twin_zero(rows * XS);
    Twin dw = twin(D * K, -1, 1), db = twin(D, -1, 1), state = twin_zero(B * D * K), y = twin_zero(D);
    cpu->conv1d_forward(out.c, x.c, XS, NULL, w.c, bias.c, B, L, D, K);
    gpu->conv1d_forward(out.g, x.g, XS, NULL, w.g, bias.g, B, L, D, K);
    cpu->conv1d_backward(dx.c, XS, dw.c, db.c, dout.c, x.c, XS, w.c, B, L, D, K);
    gpu->conv1d_backward(dx.g, XS, dw.g, db.g, dout.g, x.g, XS, w.g, B, L, D, K);
    cpu->conv1d_state_from_sequence(state.c, x.c, XS, B, L, D, K);
    gpu->conv1d_state_from_sequence(state.g, x.g, XS, B, L, D, K);
    twin_check("conv1d", "out", &out, TOL_SUM);
    twin_check("conv1d", "dx", &dx, TOL_SUM);
    twin_check("conv1d", "dweight", &dw, TOL_SUM);
    twin_check("conv1d", "dbias", &db, TOL_SUM);
    twin_check("conv1d_state_from_sequence", "state", &state, 0, 0);
    cpu->conv1d_silu_step(y.c, state.c, x.c, w.c, bias.c, D, K);
    gpu->conv1d_silu_step(y.g, state.g, x.g, w.g, bias.g, D, K);
    twin_check("conv1d_silu_step", "out", &y, TOL_SUM);
    twin_check("conv1d_silu_step", "state", &state, 0, 0);

    // The scan, on strided views (u, delta, z share rows of width 3D; B and C
    // live in an x_proj-like buffer).
    int nchunks = (L + CHUNK - 1) / CHUNK;
    Twin udz = twin(rows * 3 * D, -1, 1), xp = twin(rows * XP, -1, 1), Alog = twin(D * N, 0, 2.5f);
    Twin Dp = twin(D, 0.5f, 1.5f), dtb = twin(D, -2, 0), sout = twin_zero(rows * D);
    // The CUDA forward saves more states than the chunk states both backends share.
    SelectiveScanParams shape = {.batch = B, .seqlen = L, .dim = D, .dstate = N, .chunk = CHUNK};
    const size_t nstates = (size_t)B * nchunks * D * N, nsaved = gpu->selective_scan_saved_floats(&shape);
    CHECK(cpu->selective_scan_saved_floats(&shape) == nstates && nsaved >= nstates,
          "selective_scan_saved_floats: cpu %zu, cuda %zu, the chunk states %zu",
          cpu->selective_scan_saved_floats(&shape), nsaved, nstates);
    Twin states = twin_zero(nsaved), fin = twin_zero(B * D * N), sdout = twin(rows * D, -1, 1);
    Twin dudz = twin_zero(rows * 3 * D), dxp = twin_zero(rows * XP), dAlog = twin(D * N, -1, 1);
    Twin dD = twin(D, -1, 1), ddtb = twin(D, -1, 1);
    SelectiveScanParams pc = {0}, pg;
    pc.batch = B, pc.seqlen = L, pc.dim = D, pc.dstate = N, pc.chunk = CHUNK;
    pc.u_stride = pc.delta_stride = pc.z_stride = 3 * D;
    pc.B_stride = pc.C_stride = pc.dB_stride = pc.dC_stride = XP;
    pc.out_stride = pc.dout_stride = D;
    pc.du_stride = pc.ddelta_stride = pc.dz_stride = 3 * D;
    pg = pc;
    SelectiveScanParams *ps[2] = {&pc, &pg};
    for (int k = 0; k < 2; k++) {
        SelectiveScanParams *p = ps[k];
#define PICK(t) (k ? (t).g : (t).c)
        p->u = PICK(udz), p->delta_raw = PICK(udz) + D, p->z = PICK(udz) + 2 * D;
        p->Bmat = PICK(xp), p->Cmat = PICK(xp) + N;
        p->A_log = PICK(Alog), p->D = PICK(Dp), p->delta_bias = PICK(dtb);
        p->out = PICK(sout), p->chunk_states = PICK(states), p->final_state = PICK(fin);
        p->dout = PICK(sdout), p->du = PICK(dudz), p->ddelta_raw = PICK(dudz) + D, p->dz = PICK(dudz) + 2 * D;
        p->dB = PICK(dxp), p->dC = PICK(dxp) + N;
        p->dA_log = PICK(dAlog), p->dD = PICK(dD), p->ddelta_bias = PICK(ddtb);
#undef PICK
        const Backend *be = k ? gpu : cpu;
        p->scratch = be->alloc(sizeof(float) * be->selective_scan_scratch_floats(p));
        be->selective_scan_forward(p);
        be->selective_scan_backward(p);
    }
    twin_check("selective_scan", "out", &sout, TOL_SUM);
    Twin chunk_states = states;
    chunk_states.n = nstates;
    twin_check("selective_scan", "chunk_states", &chunk_states, TOL_SUM);
    twin_check("selective_scan", "final_state", &fin, TOL_SUM);
    twin_check("selective_scan", "du|ddelta|dz", &dudz, TOL_SCAN);
    twin_check("selective_scan", "dB|dC", &dxp, TOL_SCAN);
    twin_check("selective_scan", "dA_log", &dAlog, TOL_SCAN);
    twin_check("selective_scan", "dD", &dD, TOL_SCAN);
    twin_check("selective_scan", "ddelta_bias", &ddtb, TOL_SCAN);
    // One decode step from the final state, with the first row's inputs.
    Twin ys = twin_zero(D);
    cpu->selective_scan_step(ys.c, fin.c, udz.c, udz.c + D, udz.c + 2 * D, xp.c, xp.c + N, Alog.c, Dp.c, dtb.c, D, N);
    gpu->selective_scan_step(ys.g, fin.g, udz.g, udz.g + D, udz.g + 2 * D, xp.g, xp.g + N, Alog.g, Dp.g, dtb.g, D, N);
    twin_check("selective_scan_step", "out", &ys, TOL_SUM);
    twin_check("selective_scan_step", "state", &fin, TOL_SUM);
    cpu->free(pc.scratch), gpu->free(pg.scratch);
    Twin *all[] = {&x, &w, &bias, &out, &dout, &dx, &dw, &db, &state, &y, &udz, &xp, &Alog, &Dp,
                   &dtb, &sout, &states, &fin, &sdout, &dudz, &dxp, &dAlog, &dD, &ddtb, &ys};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) twin_free(all[i]);
}

int main(void) {
    if (!open_gpu()) return test_summary("test_cuda_vs_cpu") | 1;
    cpu = backend_cpu();
    rng_seed(&rng, 2024);
    for (order = 0; order < num_orders(); order++) {
        use_order(order);
        test_dense_ops();
        test_mamba_ops();
    }
    return test_summary("test_cuda_vs_cpu");
}
