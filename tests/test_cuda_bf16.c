// test_cuda_bf16.c: the CUDA backend's bf16 linear layers (round_to_bf16_kernel
// and cublasGemmEx with CUDA_R_16BF operands, fp32 sums), under the SIMT
// emulation in both scheduling orders or natively (`make test-gpu`):
//   - every tensor against the product of the bf16-rounded operands (exact
//     rounding to nearest even, fp32 sums) and against fp32 within the stated
//     bf16 tolerance (tests/bf16_checks.h);
//   - against the CPU backend's bf16, where the processor has AVX512-BF16:
//     the same rounded products, so only the order of the fp32 sums differs;
//   - the device's rounding against kernels/bf16.h, bit for bit;
//   - what a bf16 layer issues (two conversions and one GEMM);
//   - a captured graph is refused after a precision change and a new capture
//     replays bf16 bit for bit;
//   - the backend describes its precision, and TF32 and fp32 come back.
#include "test.h"

#include "bf16_checks.h"
#include "cuda_test_util.h"

static Rng rng;
static int cpu_bf16;  // the CPU backend computes bf16 here

static float *randn(size_t n, float sd) {
    float *x = (float *)tb_malloc(n * sizeof(float) + 1);
    for (size_t i = 0; i < n; i++) x[i] = sd * rng_normal(&rng);
    return x;
}

// The CPU backend's bf16 result of the same call, against the GPU's: the
// rounded products are the same, the fp32 sums run in another order, so each
// element is within twice the fp32 bound of the exact sum of the products.
static void check_against_cpu(const char *what, const float *gpu_out, const float *cpu_out, int ld, int rows,
                              int cols, const Refs *r, int K) {
    size_t bad = 0;
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) {
            size_t e = (size_t)i * cols + j;
            double diff = fabs((double)gpu_out[(size_t)i * ld + j] - cpu_out[(size_t)i * ld + j]);
            if (!(diff <= 2 * (K + 2) * ldexp(r->abs[e], -24) + 1e-30)) bad++;
        }
    CHECK(bad == 0, "%s: %zu of %d elements differ from the CPU backend's bf16 by more than fp32 sums can", what,
          bad, rows * cols);
}

static void test_linear(int order, int N, int C, int OC, int w_in_out, int with_bias, int pad) {
    char what[200];
    const Backend *cpu = backend_cpu();
    int ld_in = C + pad, ld_out = OC + pad;
    size_t n_in = (size_t)N * ld_in, n_out = (size_t)N * ld_out, n_w = (size_t)C * OC;
    float *inp = randn(n_in, 1.0f), *w = randn(n_w, 0.5f), *bias = randn(OC, 1.0f);
    float *dout = randn(n_out, 1.0f), *dw0 = randn(n_w, 1.0f), *db0 = randn(OC, 1.0f);
    float *d_inp = dev_upload(inp, n_in), *d_w = dev_upload(w, n_w), *d_b = dev_upload(bias, OC);
    float *d_dout = dev_upload(dout, n_out), *d_dw = dev_upload(dw0, n_w), *d_db = dev_upload(db0, OC);
    float *d_out = (float *)gpu->alloc(n_out * sizeof(float)), *d_dinp = (float *)gpu->alloc(n_in * sizeof(float));
    gpu->linear_forward(d_out, ld_out, d_inp, ld_in, d_w, with_bias ? d_b : NULL, N, C, OC, w_in_out);
    gpu->linear_backward(d_dinp, ld_in, d_dw, with_bias ? d_db : NULL, d_dout, ld_out, d_inp, ld_in, d_w, N, C, OC,
                         w_in_out);
    float *out = dev_download(d_out, n_out), *dinp = dev_download(d_dinp, n_in);
    float *dw = dev_download(d_dw, n_w), *db = dev_download(d_db, OC);

    Refs r = linear_forward_refs(inp, ld_in, w, with_bias ? bias : NULL, N, C, OC, w_in_out), rd, rw;
    double *rdb;
    linear_backward_refs(&rd, &rw, &rdb, dout, ld_out, inp, ld_in, w, dw0, db0, N, C, OC, w_in_out);
    snprintf(what, sizeof what, "N%d C%d OC%d layout%d bias%d pad%d (%s order)", N, C, OC, w_in_out, with_bias, pad,
             order_name(order));
    char name[320];
    snprintf(name, sizeof name, "bf16 linear_forward %s", what);
    check_gemm(name, out, ld_out, N, OC, &r, C + 1, 1.0, 0.5);
    snprintf(name, sizeof name, "bf16 linear_backward dinp %s", what);
    check_gemm(name, dinp, ld_in, N, C, &rd, OC, 1.0, 0.5);
    snprintf(name, sizeof name, "bf16 linear_backward dweight %s", what);
    int w_rows = w_in_out ? C : OC, w_cols = w_in_out ? OC : C;
    check_gemm(name, dw, w_cols, w_rows, w_cols, &rw, N + 1, 1.0, 1.0);
    if (with_bias) {
        float *rdbf = (float *)tb_malloc(OC * sizeof(float));
        for (int o = 0; o < OC; o++) rdbf[o] = (float)rdb[o];
        snprintf(name, sizeof name, "bf16 linear_backward dbias (an fp32 sum) %s", what);
        check_close(name, db, rdbf, OC, 1e-5f * sqrtf((float)N), 1e-5f);
        free(rdbf);
    }

    if (cpu_bf16) {
        float *c_out = randn(n_out, 1.0f), *c_dinp = randn(n_in, 1.0f), *c_dw = host_copy(dw0, n_w);
        cpu->linear_forward(c_out, ld_out, inp, ld_in, w, with_bias ? bias : NULL, N, C, OC, w_in_out);
        cpu->linear_backward(c_dinp, ld_in, c_dw, NULL, dout, ld_out, inp, ld_in, w, N, C, OC, w_in_out);
        snprintf(name, sizeof name, "bf16 linear_forward %s, CUDA against CPU", what);
        check_against_cpu(name, out, c_out, ld_out, N, OC, &r, C + 1);
        snprintf(name, sizeof name, "bf16 linear_backward dinp %s, CUDA against CPU", what);
        check_against_cpu(name, dinp, c_dinp, ld_in, N, C, &rd, OC);
        snprintf(name, sizeof name, "bf16 linear_backward dweight %s, CUDA against CPU", what);
        check_against_cpu(name, dw, c_dw, w_cols, w_rows, w_cols, &rw, N + 1);
        free(c_out), free(c_dinp), free(c_dw);
    }
    refs_free(&r), refs_free(&rd), refs_free(&rw), free(rdb);
    void *frees[] = {inp, w, bias, dout, dw0, db0, out, dinp, dw, db};
    for (size_t i = 0; i < sizeof frees / sizeof *frees; i++) free(frees[i]);
    float *dfrees[] = {d_inp, d_w, d_b, d_dout, d_dw, d_db, d_out, d_dinp};
    for (size_t i = 0; i < sizeof dfrees / sizeof *dfrees; i++) gpu->free(dfrees[i]);
}

// The device's rounding (the emulation's __float2bfloat16, or a GPU's cvt)
// against kernels/bf16.h, bit for bit: a layer of width 1 with weight 1
// returns each input rounded. Normal values (a GPU's tensor cores may flush
// subnormals), ties to even among them.
static void test_rounding(void) {
    enum { N = 4096 };
    float *x = (float *)tb_malloc(N * sizeof(float)), one = 1.0f;
    static const uint32_t edges[] = {0x3f808000u, 0x3f818000u, 0x3f808001u, 0x3f807fffu, 0xbf818000u,
                                     0x00808000u, 0x00818000u, 0x7f7f7fffu, 0x7f7f8000u, 0x7f7fffffu};
    for (int i = 0; i < N; i++) {
        uint32_t u = i < (int)(sizeof edges / sizeof *edges) ? edges[i] : (uint32_t)rng_u64(&rng);
        if (i >= (int)(sizeof edges / sizeof *edges)) {
            if (i % 2) u = (u & 0x80000000u) | 0x3f800000u | (u & 0x007f8000u) | (i % 4 == 1 ? 0x8000u : (u & 0xffffu));
            else if ((u & 0x7f800000u) == 0 || (u & 0x7f800000u) >= 0x7f000000u) u = (u & 0x807fffffu) | 0x40000000u;
        }
        memcpy(&x[i], &u, sizeof u);
    }
    float *d_x = dev_upload(x, N), *d_w = dev_upload(&one, 1), *d_y = (float *)gpu->alloc(N * sizeof(float));
    gpu->linear_forward(d_y, 1, d_x, 1, d_w, NULL, N, 1, 1, 0);
    float *y = dev_download(d_y, N);
    int bad = 0, first = -1;
    for (int i = 0; i < N; i++) {
        float want = bf16_to_float(bf16_from_float(x[i]));
        if (memcmp(&y[i], &want, sizeof want) != 0 && bad++ == 0) first = i;
    }
    CHECK(bad == 0, "the device rounds %d of %d inputs otherwise than kernels/bf16.h (first: %.9g -> %.9g, want %.9g)",
          bad, N, first >= 0 ? x[first] : 0.0, first >= 0 ? y[first] : 0.0,
          first >= 0 ? bf16_to_float(bf16_from_float(x[first])) : 0.0);
    free(x), free(y);
    gpu->free(d_x), gpu->free(d_w), gpu->free(d_y);
}

// A bf16 layer issues a conversion per operand and one GEMM (plus the bias);
// fp32 issues the GEMM alone.
static void test_calls(void) {
    enum { N = 16, C = 24, OC = 40 };
    float *inp = randn(N * C, 1.0f), *w = randn(C * OC, 0.5f);
    float *d_inp = dev_upload(inp, N * C), *d_w = dev_upload(w, C * OC);
    float *d_out = (float *)gpu->alloc(N * OC * sizeof(float));
    CudaCounters c[2];
    for (int bf16 = 0; bf16 < 2; bf16++) {
        gpu->set_precision(bf16 ? PRECISION_BF16 : PRECISION_FP32);
        backend_cuda_counters_reset();
        gpu->linear_forward(d_out, OC, d_inp, C, d_w, NULL, N, C, OC, 0);
        backend_cuda_counters(&c[bf16]);
    }
    CHECK(c[0].gemm_calls == 1 && c[0].kernel_launches == 0 && c[1].gemm_calls == 1 && c[1].kernel_launches == 2,
          "a linear layer without bias issued %lld GEMMs and %lld launches in fp32, %lld and %lld in bf16 (want 1, 0; "
          "1, 2)", c[0].gemm_calls, c[0].kernel_launches, c[1].gemm_calls, c[1].kernel_launches);
    free(inp), free(w);
    gpu->free(d_inp), gpu->free(d_w), gpu->free(d_out);
}

// A graph captured in fp32 is refused once the precision is bf16; captured
// again, it replays the bf16 layer bit for bit.
static void test_graph(void) {
    enum { N = 5, C = 33, OC = 20 };
    float *inp = randn(N * C, 1.0f), *w = randn(C * OC, 0.5f);
    float *d_inp = dev_upload(inp, N * C), *d_w = dev_upload(w, C * OC);
    float *d_direct = (float *)gpu->alloc(N * OC * sizeof(float)), *d_graph = (float *)gpu->alloc(N * OC * sizeof(float));
    gpu->set_precision(PRECISION_FP32);
    CHECK(gpu->graph_capture_begin() == 0, "a capture did not start");
    gpu->linear_forward(d_graph, OC, d_inp, C, d_w, NULL, N, C, OC, 1);
    void *g32 = gpu->graph_capture_end();
    CHECK(g32 != NULL, "the fp32 capture failed");
    gpu->set_precision(PRECISION_BF16);
    CHECK(g32 && gpu->graph_launch(g32) == -1, "a graph captured in fp32 was replayed after the switch to bf16");
    if (g32) gpu->graph_destroy(g32);
    gpu->linear_forward(d_direct, OC, d_inp, C, d_w, NULL, N, C, OC, 1);
    CHECK(gpu->graph_capture_begin() == 0, "a bf16 capture did not start");
    gpu->linear_forward(d_graph, OC, d_inp, C, d_w, NULL, N, C, OC, 1);
    void *g16 = gpu->graph_capture_end();
    gpu->zero(d_graph, N * OC * sizeof(float));
    CHECK(g16 && gpu->graph_launch(g16) == 0, "the bf16 graph did not replay");
    CHECK(dev_bits_equal(d_graph, d_direct, N * OC), "the bf16 graph's replay differs from the direct call");
    if (g16) gpu->graph_destroy(g16);
    free(inp), free(w);
    gpu->free(d_inp), gpu->free(d_w), gpu->free(d_direct), gpu->free(d_graph);
}

static void test_describe(void) {
    BackendInfo info;
    static const Precision order[] = {PRECISION_BF16, PRECISION_TF32, PRECISION_FP32};
    for (int i = 0; i < 3; i++) {
        CHECK(gpu->set_precision(order[i]) == 0, "set_precision(%s): %s", precision_names[order[i]], tb_last_error());
        gpu->describe(&info);
        CHECK(tb_streq(info.precision, precision_names[order[i]]) &&
                  backend_cuda_tf32() == (order[i] == PRECISION_TF32),
              "after set_precision(%s) the backend says '%s' (tf32 %d)", precision_names[order[i]], info.precision,
              backend_cuda_tf32());
    }
}

int main(void) {
    if (!open_gpu()) return test_summary("test_cuda_bf16") | 1;
    rng_seed(&rng, 99);
    // Operands of up to 300 x 300: weights included.
    WorkspaceShapes shapes = {512, 512, 16, 1 << 20, 300 * 300};
    gpu->reserve_workspace(&shapes);
    backend_cpu()->reserve_workspace(&shapes);
    cpu_bf16 = backend_cpu()->set_precision(PRECISION_BF16) == 0;
    if (!cpu_bf16) SKIP("the CUDA bf16 layers against the CPU's: %s", tb_last_error());
    CHECK(gpu->set_precision(PRECISION_BF16) == 0, "the CUDA backend refused bf16: %s", tb_last_error());
    for (int order = 0; order < num_orders(); order++) {
        use_order(order);
        for (int layout = 0; layout < 2; layout++)
            for (int bias = 0; bias < 2; bias++) test_linear(order, 37, 67, 45, layout, bias, 0);
        test_linear(order, 29, 40, 51, 0, 1, 3);   // strided views
        test_linear(order, 1, 64, 96, 1, 1, 0);    // a decode step (N = 1)
        test_linear(order, 300, 96, 200, 0, 1, 0); // larger than a conversion block
    }
    test_rounding();
    test_calls();
    test_graph();
    test_describe();
    backend_cpu()->set_precision(PRECISION_FP32);
    gpu->set_precision(PRECISION_FP32);
    return test_summary("test_cuda_bf16");
}
