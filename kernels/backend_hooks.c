// backend_hooks.c: a Backend that forwards every op to another one and calls
// a hook before each, with the op's name. The call-count test counts ops with
// it, and the profilers time them; the models cannot tell it from the real
// backend. Every op of kernels/backend.h must have its trampoline here (the
// assertion below fails to compile when one is added without it).
#include "backend_hooks.h"

#include <stddef.h>

static const Backend *inner;
static BackendHook hook;
static void *hook_ctx;
static Backend hooked;

#define HOOK(op) hook(op, hook_ctx)

static void *h_alloc(size_t bytes) {
    HOOK("alloc");
    return inner->alloc(bytes);
}
static void h_free(void *p) {
    HOOK("free");
    inner->free(p);
}
static void h_zero(void *p, size_t bytes) {
    HOOK("zero");
    inner->zero(p, bytes);
}
static void h_to_device(void *dst, const void *host_src, size_t bytes) {
    HOOK("to_device");
    inner->to_device(dst, host_src, bytes);
}
static void h_to_host(void *host_dst, const void *src, size_t bytes) {
    HOOK("to_host");
    inner->to_host(host_dst, src, bytes);
}
static void h_copy(void *dst, const void *src, size_t bytes) {
    HOOK("copy");
    inner->copy(dst, src, bytes);
}
static void h_copy_2d(void *dst, size_t dst_pitch, const void *src, size_t src_pitch, size_t width,
                      size_t rows) {
    HOOK("copy_2d");
    inner->copy_2d(dst, dst_pitch, src, src_pitch, width, rows);
}
static void h_synchronize(void) {
    HOOK("synchronize");
    inner->synchronize();
}
static void h_reserve_workspace(const WorkspaceShapes *shapes) {
    HOOK("reserve_workspace");
    inner->reserve_workspace(shapes);
}
static void h_graph_capture_begin(void) {
    HOOK("graph_capture_begin");
    inner->graph_capture_begin();
}
static void *h_graph_capture_end(void) {
    HOOK("graph_capture_end");
    return inner->graph_capture_end();
}
static void h_graph_launch(void *graph) {
    HOOK("graph_launch");
    inner->graph_launch(graph);
}
static void h_graph_destroy(void *graph) {
    HOOK("graph_destroy");
    inner->graph_destroy(graph);
}
static void h_linear_forward(float *out, int ld_out, const float *inp, int ld_inp,
                             const float *weight, const float *bias, int N, int C, int OC,
                             int w_in_out) {
    HOOK("linear_forward");
    inner->linear_forward(out, ld_out, inp, ld_inp, weight, bias, N, C, OC, w_in_out);
}
static void h_linear_backward(float *dinp, int ld_dinp, float *dweight, float *dbias,
                              const float *dout, int ld_dout, const float *inp, int ld_inp,
                              const float *weight, int N, int C, int OC, int w_in_out) {
    HOOK("linear_backward");
    inner->linear_backward(dinp, ld_dinp, dweight, dbias, dout, ld_dout, inp, ld_inp, weight, N, C,
                           OC, w_in_out);
}
static void h_embedding_forward(float *out, const int32_t *tokens, const float *wte,
                                const float *wpe, int B, int T, int C) {
    HOOK("embedding_forward");
    inner->embedding_forward(out, tokens, wte, wpe, B, T, C);
}
static void h_embedding_backward(float *dwte, float *dwpe, const float *dout, const int32_t *tokens,
                                 int B, int T, int C) {
    HOOK("embedding_backward");
    inner->embedding_backward(dwte, dwpe, dout, tokens, B, T, C);
}
static void h_layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                                const float *weight, const float *bias, int N, int C, float eps) {
    HOOK("layernorm_forward");
    inner->layernorm_forward(out, mean, rstd, inp, weight, bias, N, C, eps);
}
static void h_layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                                 const float *inp, const float *weight, const float *mean,
                                 const float *rstd, int N, int C) {
    HOOK("layernorm_backward");
    inner->layernorm_backward(dinp, dweight, dbias, dout, inp, weight, mean, rstd, N, C);
}
static void h_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *weight, int N,
                              int C, float eps) {
    HOOK("rmsnorm_forward");
    inner->rmsnorm_forward(out, rstd, inp, weight, N, C, eps);
}
static void h_add_rmsnorm_forward(float *sum, float *out, float *rstd, const float *a,
                                  const float *b, const float *weight, int N, int C, float eps) {
    HOOK("add_rmsnorm_forward");
    inner->add_rmsnorm_forward(sum, out, rstd, a, b, weight, N, C, eps);
}
static void h_rmsnorm_backward(float *dinp, float *dweight, const float *dout, const float *inp,
                               const float *weight, const float *rstd, int N, int C) {
    HOOK("rmsnorm_backward");
    inner->rmsnorm_backward(dinp, dweight, dout, inp, weight, rstd, N, C);
}
static void h_gelu_forward(float *out, const float *inp, size_t n) {
    HOOK("gelu_forward");
    inner->gelu_forward(out, inp, n);
}
static void h_gelu_backward(float *dinp, const float *inp, const float *dout, size_t n) {
    HOOK("gelu_backward");
    inner->gelu_backward(dinp, inp, dout, n);
}
static void h_silu_forward(float *out, int out_stride, const float *inp, int inp_stride, int n_rows,
                           int cols) {
    HOOK("silu_forward");
    inner->silu_forward(out, out_stride, inp, inp_stride, n_rows, cols);
}
static void h_silu_backward(float *dinp, int dinp_stride, const float *inp, int inp_stride,
                            const float *dout, int n_rows, int cols) {
    HOOK("silu_backward");
    inner->silu_backward(dinp, dinp_stride, inp, inp_stride, dout, n_rows, cols);
}
static void h_add(float *out, const float *a, const float *b, size_t n) {
    HOOK("add");
    inner->add(out, a, b, n);
}
static void h_accumulate(float *dst, const float *src, size_t n) {
    HOOK("accumulate");
    inner->accumulate(dst, src, n);
}
static void h_scale(float *x, float s, size_t n) {
    HOOK("scale");
    inner->scale(x, s, n);
}
static void h_attention_forward(float *out, float *att, const float *qkv, int B, int T, int C,
                                int NH) {
    HOOK("attention_forward");
    inner->attention_forward(out, att, qkv, B, T, C, NH);
}
static void h_attention_backward(float *dqkv, float *scratch, const float *dout, const float *qkv,
                                 const float *att, int B, int T, int C, int NH) {
    HOOK("attention_backward");
    inner->attention_backward(dqkv, scratch, dout, qkv, att, B, T, C, NH);
}
static void h_attention_decode(float *out, float *k_cache, float *v_cache, const float *qkv,
                               const int32_t *pos, int n, int max_T, int C, int NH) {
    HOOK("attention_decode");
    inner->attention_decode(out, k_cache, v_cache, qkv, pos, n, max_T, C, NH);
}
static void h_crossentropy_forward_backward(float *losses, float *dlogits, const float *logits,
                                            const int32_t *targets, int N, int V, float dloss) {
    HOOK("crossentropy_forward_backward");
    inner->crossentropy_forward_backward(losses, dlogits, logits, targets, N, V, dloss);
}
static double h_sum_squares(const float *g, size_t n) {
    HOOK("sum_squares");
    return inner->sum_squares(g, n);
}
static void h_adamw_update(float *param, const float *grad, float *m, float *v, size_t n, float lr,
                           float beta1, float beta2, float eps, float weight_decay,
                           float grad_scale, int t) {
    HOOK("adamw_update");
    inner->adamw_update(param, grad, m, v, n, lr, beta1, beta2, eps, weight_decay, grad_scale, t);
}
static void h_conv1d_forward(float *out, const float *x, int x_stride, const float *x_prev,
                             const float *weight, const float *bias, int B, int L, int D, int K) {
    HOOK("conv1d_forward");
    inner->conv1d_forward(out, x, x_stride, x_prev, weight, bias, B, L, D, K);
}
static void h_conv1d_backward(float *dx, int dx_stride, float *dweight, float *dbias,
                              const float *dout, const float *x, int x_stride, const float *weight,
                              int B, int L, int D, int K) {
    HOOK("conv1d_backward");
    inner->conv1d_backward(dx, dx_stride, dweight, dbias, dout, x, x_stride, weight, B, L, D, K);
}
static void h_conv1d_silu_step(float *out, float *conv_state, const float *x, const float *weight,
                               const float *bias, int D, int K) {
    HOOK("conv1d_silu_step");
    inner->conv1d_silu_step(out, conv_state, x, weight, bias, D, K);
}
static void h_conv1d_state_from_sequence(float *conv_state, const float *x, int x_stride, int B,
                                         int L, int D, int K) {
    HOOK("conv1d_state_from_sequence");
    inner->conv1d_state_from_sequence(conv_state, x, x_stride, B, L, D, K);
}
static void h_selective_scan_forward(const SelectiveScanParams *p) {
    HOOK("selective_scan_forward");
    inner->selective_scan_forward(p);
}
static void h_selective_scan_backward(const SelectiveScanParams *p) {
    HOOK("selective_scan_backward");
    inner->selective_scan_backward(p);
}
static size_t h_selective_scan_scratch_floats(const SelectiveScanParams *p) {
    HOOK("selective_scan_scratch_floats");
    return inner->selective_scan_scratch_floats(p);
}
static void h_selective_scan_step(float *out, float *ssm_state, const float *u,
                                  const float *delta_raw, const float *z, const float *Bt,
                                  const float *Ct, const float *A_log, const float *D,
                                  const float *delta_bias, int dim, int dstate) {
    HOOK("selective_scan_step");
    inner->selective_scan_step(out, ssm_state, u, delta_raw, z, Bt, Ct, A_log, D, delta_bias, dim,
                               dstate);
}

static void h_lstm_forward(const LstmParams *p) {
    HOOK("lstm_forward");
    inner->lstm_forward(p);
}
static void h_lstm_backward(const LstmParams *p) {
    HOOK("lstm_backward");
    inner->lstm_backward(p);
}
static size_t h_lstm_scratch_floats(const LstmParams *p) {
    HOOK("lstm_scratch_floats");
    return inner->lstm_scratch_floats(p);
}

_Static_assert(
    sizeof(Backend) == offsetof(Backend, lstm_scratch_floats) + sizeof(void (*)(void)),
    "a Backend op was added after lstm_scratch_floats: give it a trampoline in backend_hooks.c");

const Backend *backend_with_hooks(const Backend *real, BackendHook before, void *ctx) {
    inner = real, hook = before, hook_ctx = ctx;
    hooked = *real;
    hooked.alloc = h_alloc;
    hooked.free = h_free;
    hooked.zero = h_zero;
    hooked.to_device = h_to_device;
    hooked.to_host = h_to_host;
    hooked.copy = h_copy;
    hooked.copy_2d = h_copy_2d;
    hooked.synchronize = h_synchronize;
    hooked.reserve_workspace = h_reserve_workspace;
    hooked.graph_capture_begin = real->graph_capture_begin ? h_graph_capture_begin : NULL;
    hooked.graph_capture_end = real->graph_capture_end ? h_graph_capture_end : NULL;
    hooked.graph_launch = real->graph_launch ? h_graph_launch : NULL;
    hooked.graph_destroy = real->graph_destroy ? h_graph_destroy : NULL;
    hooked.linear_forward = h_linear_forward;
    hooked.linear_backward = h_linear_backward;
    hooked.embedding_forward = h_embedding_forward;
    hooked.embedding_backward = h_embedding_backward;
    hooked.layernorm_forward = h_layernorm_forward;
    hooked.layernorm_backward = h_layernorm_backward;
    hooked.rmsnorm_forward = h_rmsnorm_forward;
    hooked.add_rmsnorm_forward = h_add_rmsnorm_forward;
    hooked.rmsnorm_backward = h_rmsnorm_backward;
    hooked.gelu_forward = h_gelu_forward;
    hooked.gelu_backward = h_gelu_backward;
    hooked.silu_forward = h_silu_forward;
    hooked.silu_backward = h_silu_backward;
    hooked.add = h_add;
    hooked.accumulate = h_accumulate;
    hooked.scale = h_scale;
    hooked.attention_forward = h_attention_forward;
    hooked.attention_backward = h_attention_backward;
    hooked.attention_decode = h_attention_decode;
    hooked.crossentropy_forward_backward = h_crossentropy_forward_backward;
    hooked.sum_squares = h_sum_squares;
    hooked.adamw_update = h_adamw_update;
    hooked.conv1d_forward = h_conv1d_forward;
    hooked.conv1d_backward = h_conv1d_backward;
    hooked.conv1d_silu_step = h_conv1d_silu_step;
    hooked.conv1d_state_from_sequence = h_conv1d_state_from_sequence;
    hooked.selective_scan_forward = h_selective_scan_forward;
    hooked.selective_scan_backward = h_selective_scan_backward;
    hooked.selective_scan_scratch_floats = h_selective_scan_scratch_floats;
    hooked.selective_scan_step = h_selective_scan_step;
    hooked.lstm_forward = h_lstm_forward;
    hooked.lstm_backward = h_lstm_backward;
    hooked.lstm_scratch_floats = h_lstm_scratch_floats;
    return &hooked;
}
