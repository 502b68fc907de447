// test_cuda_lstm.c: the CUDA LSTM recurrence (kernels/cuda/lstm.cu) against
// the CPU op (kernels/cpu/lstm.c, itself tested against torch.nn.LSTM by
// test_lstm.c), on the same random inputs, in both scheduling orders of the
// emulation (or natively under `make test-gpu`): every output of the forward
// and the backward, with and without an initial state, plus bitwise
// determinism. Shapes are ragged: B*H not a multiple of the block size, H
// not a multiple of the CPU's vector width.
#include "test.h"

#include "cuda_test_util.h"

static const Backend *cpu;
static Rng rng;

static Twin twin(size_t n, float lo, float hi) { return twin_random(&rng, n, lo, hi); }

#define TOL_CELL 1e-5f, 1e-4f  // libm's expf/tanhf against vec_math.h's, through T steps
#define TOL_GRAD 2e-5f, 1e-3f  // sums over B*T rows and back through T steps

static void test_lstm_op(int order, int with_state) {
    enum { B = 3, T = 9, H = 37, G = 4 * H };
    const size_t NH = (size_t)B * T * H, NG = (size_t)B * T * G;
    Twin gates = twin(NG, -1, 1), w_hh = twin((size_t)G * H, -0.3f, 0.3f), b_hh = twin(G, -0.5f, 0.5f);
    Twin h0 = twin((size_t)B * H, -0.9f, 0.9f), c0 = twin((size_t)B * H, -2, 2);
    Twin h = twin(NH, 0, 0), h_prev = twin(NH, 0, 0), c = twin(NH, 0, 0);
    Twin hT = twin((size_t)B * H, 0, 0), cT = twin((size_t)B * H, 0, 0);
    Twin dh = twin(NH, -1, 1), dgates = twin(NG, 0, 0);
    Twin dw = twin((size_t)G * H, -1, 1), db = twin(G, -1, 1);  // accumulate onto these
    LstmParams pc = {0}, pg;
    pc.batch = B, pc.seqlen = T, pc.hidden = H;
    pg = pc;
    LstmParams *ps[2] = {&pc, &pg};
    for (int k = 0; k < 2; k++) {
        LstmParams *p = ps[k];
        const Backend *be = k ? gpu : cpu;
#define PICK(t) (k ? (t).g : (t).c)
        p->gates = PICK(gates), p->w_hh = PICK(w_hh), p->b_hh = PICK(b_hh);
        p->h0 = with_state ? PICK(h0) : NULL, p->c0 = with_state ? PICK(c0) : NULL;
        p->h = PICK(h), p->h_prev = PICK(h_prev), p->c = PICK(c);
        p->hT = PICK(hT), p->cT = PICK(cT);
        p->dh = PICK(dh), p->dgates = PICK(dgates), p->dw_hh = PICK(dw), p->db_hh = PICK(db);
#undef PICK
        p->scratch = be->alloc(sizeof(float) * be->lstm_scratch_floats(p));
        be->lstm_forward(p);
        be->lstm_backward(p);
    }
    char op[64];
    snprintf(op, sizeof op, "lstm (%s)", with_state ? "from h0, c0" : "zero state");
    check_dev(op, "activated gates", order, gates.g, gates.c, NG, TOL_CELL);
    check_dev(op, "h", order, h.g, h.c, NH, TOL_CELL);
    check_dev(op, "h_prev", order, h_prev.g, h_prev.c, NH, TOL_CELL);
    check_dev(op, "c", order, c.g, c.c, NH, TOL_CELL);
    check_dev(op, "hT", order, hT.g, hT.c, (size_t)B * H, TOL_CELL);
    check_dev(op, "cT", order, cT.g, cT.c, (size_t)B * H, TOL_CELL);
    check_dev(op, "dgates", order, dgates.g, dgates.c, NG, TOL_GRAD);
    check_dev(op, "dW_hh", order, dw.g, dw.c, (size_t)G * H, TOL_GRAD);
    check_dev(op, "db_hh", order, db.g, db.c, G, TOL_GRAD);
    // The CPU's h_prev starts with h0 (or zeros) and then repeats h shifted.
    int shifted = 1;
    for (int b = 0; b < B; b++)
        for (int j = 0; j < H; j++) {
            float want0 = with_state ? h0.c[b * H + j] : 0.0f;
            shifted &= h_prev.c[(size_t)b * T * H + j] == want0;
            for (int t = 1; t < T; t++)
                shifted &= h_prev.c[((size_t)b * T + t) * H + j] == h.c[((size_t)b * T + t - 1) * H + j];
            shifted &= hT.c[b * H + j] == h.c[((size_t)b * T + T - 1) * H + j];
        }
    CHECK(shifted, "%s: h_prev is not (h0, h_0 .. h_{T-2}) or hT is not h_{T-1}", op);

    // Determinism: the same backward again gives the same bits.
    float *dg1 = dev_download(dgates.g, NG);
    gpu->lstm_backward(&pg);
    float *dg2 = dev_download(dgates.g, NG);
    CHECK(memcmp(dg1, dg2, NG * sizeof(float)) == 0, "%s: dgates differ between two runs (%s order)",
          op, order_name(order));
    free(dg1), free(dg2);
    cpu->free(pc.scratch), gpu->free(pg.scratch);
    Twin *all[] = {&gates, &w_hh, &b_hh, &h0, &c0, &h, &h_prev, &c, &hT, &cT, &dh, &dgates, &dw, &db};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) twin_free(all[i]);
}

// Decode-shaped calls (B = 1, T = 1) with the final state written over the
// initial one in place, as models/lstm.c does.
static void test_lstm_step_in_place(int order) {
    enum { H = 21, G = 4 * H, STEPS = 5 };
    Twin w_hh = twin((size_t)G * H, -0.3f, 0.3f), b_hh = twin(G, -0.5f, 0.5f);
    Twin hs = twin(H, 0, 0), cs = twin(H, 0, 0), h = twin(H, 0, 0), hp = twin(H, 0, 0), c = twin(H, 0, 0);
    for (int s = 0; s < STEPS; s++) {
        Twin gates = twin(G, -1, 1);
        for (int k = 0; k < 2; k++) {
            LstmParams p = {0};
            p.batch = 1, p.seqlen = 1, p.hidden = H;
#define PICK(t) (k ? (t).g : (t).c)
            p.gates = PICK(gates), p.w_hh = PICK(w_hh), p.b_hh = PICK(b_hh);
            p.h0 = p.hT = PICK(hs), p.c0 = p.cT = PICK(cs);
            p.h = PICK(h), p.h_prev = PICK(hp), p.c = PICK(c);
#undef PICK
            (k ? gpu : cpu)->lstm_forward(&p);
        }
        twin_free(&gates);
    }
    check_dev("lstm step in place", "h state after 5 steps", order, hs.g, hs.c, H, TOL_CELL);
    check_dev("lstm step in place", "c state after 5 steps", order, cs.g, cs.c, H, TOL_CELL);
    float *hh = dev_download(hs.g, H);
    float mx = 0;
    for (int j = 0; j < H; j++) mx = fmaxf(mx, fabsf(hh[j]));
    CHECK(mx > 0.05f, "the state did not move (max |h| %g)", mx);
    free(hh);
    Twin *all[] = {&w_hh, &b_hh, &hs, &cs, &h, &hp, &c};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) twin_free(all[i]);
}

int main(void) {
    if (!open_gpu()) return test_summary("test_cuda_lstm") | 1;
    cpu = backend_cpu();
    rng_seed(&rng, 77);
    for (int order = 0; order < num_orders(); order++) {
        use_order(order);
        test_lstm_op(order, 0);
        test_lstm_op(order, 1);
        test_lstm_step_in_place(order);
    }
    return test_summary("test_cuda_lstm");
}
