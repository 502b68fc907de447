// backend.h: the ops both models are built from, implemented once per backend.
//
// A model never touches activation or parameter memory directly: it allocates
// through the backend and calls these ops. kernels/cpu/ implements them with
// plain C, OpenMP and OpenBLAS; kernels/cuda/ with CUDA kernels and cuBLAS. So
// the same model code runs on either, and the CPU ops are the reference that
// every CUDA kernel is tested against.
//
// Conventions, stated once:
// - All tensors are fp32, row-major, contiguous unless a stride is given.
//   Shapes are in the comments: (N, C) means N rows of C floats.
// - Pointers are backend memory (host memory on the CPU, device memory on CUDA).
// - Gradients: a PARAMETER gradient accumulates (+=). An ACTIVATION gradient is
//   written (=), except where the comment says "accumulates", which is the case
//   for ops whose input is the residual stream (the norms).
// - Reductions are deterministic: a fixed order, no float atomics whose order
//   could change the result. Run twice, get the same bits.
// - No op allocates. Scratch space, where needed, is passed in.
#ifndef TB_BACKEND_H
#define TB_BACKEND_H

#include <stddef.h>
#include <stdint.h>

// Parameters of the Mamba-1 selective scan, as in mamba_ssm's selective_scan_fn
// with delta_softplus=True, D and z given:
//   delta_t = softplus(delta_raw_t + delta_bias)          (batch, seqlen, dim)
//   A       = -exp(A_log)                                  (dim, dstate)
//   h_t     = exp(delta_t * A) * h_{t-1} + delta_t * B_t * u_t   h: (dim, dstate)
//   y_t     = C_t . h_t + D * u_t
//   out_t   = y_t * silu(z_t)
// B_t and C_t are (dstate) vectors shared by all channels of a time step.
// Rows of u, delta_raw, z, out and of B, C may be strided views into larger
// buffers (e.g. B and C live inside the x_proj output), so each has a stride.
typedef struct {
    int batch, seqlen, dim, dstate;
    int chunk;  // time steps between saved states (the backward recomputes within a chunk)
    const float *u;          int u_stride;      // (batch, seqlen, dim)
    const float *delta_raw;  int delta_stride;  // (batch, seqlen, dim), before bias + softplus
    const float *z;          int z_stride;      // (batch, seqlen, dim)
    const float *Bmat;       int B_stride;      // (batch, seqlen, dstate)
    const float *Cmat;       int C_stride;      // (batch, seqlen, dstate)
    const float *A_log;                         // (dim, dstate)
    const float *D;                             // (dim)
    const float *delta_bias;                    // (dim)
    float *out;              int out_stride;    // (batch, seqlen, dim)
    // (batch, nchunks, dim, dstate): the state h entering each chunk, written
    // by the forward, read by the backward. nchunks = ceil(seqlen / chunk).
    float *chunk_states;
    // (batch, dim, dstate) or NULL: the state after the last step (for prefill).
    float *final_state;
    // (batch, dim, dstate) or NULL (zeros): the state before the first step,
    // to continue a sequence (forward only; no gradient flows to it). May be
    // the same buffer as final_state.
    const float *initial_state;
    // Backward only. Activation gradients are written; dA_log, dD and
    // ddelta_bias are parameter gradients and accumulate.
    const float *dout;       int dout_stride;
    float *du;               int du_stride;
    float *ddelta_raw;       int ddelta_stride;
    float *dz;               int dz_stride;
    float *dB;               int dB_stride;
    float *dC;               int dC_stride;
    float *dA_log, *dD, *ddelta_bias;
    // Scratch for the deterministic reduction of dA_log, dD, ddelta_bias and
    // dB/dC over channels; at least selective_scan_scratch_floats() floats.
    float *scratch;
} SelectiveScanParams;

// The largest shapes a model will pass to the ops, so that a backend whose
// ops need workspace of their own (reduction partials, permuted attention
// operands) sizes it once, when the model allocates its buffers.
typedef struct {
    size_t rows;       // the most rows (B*T) of any op
    size_t widest;     // the widest row of any op (4C, 2 d_inner, the vocabulary...)
    int conv_kernel;   // the causal conv's kernel width, 0 if none
    size_t attention;  // B*T*C of the attention, 0 if none
} WorkspaceShapes;

// One nn.LSTM layer's recurrence over a whole sequence, gate order (i, f, g, o)
// as in torch.nn.LSTM. The input-to-gate product x_t W_ih^T + b_ih of every
// time step is one GEMM done by the caller (linear_forward) into `gates`;
// the op adds the recurrent part and steps through time:
//   a_t = gates_t + h_{t-1} W_hh^T + b_hh          (4H): [a_i | a_f | a_g | a_o]
//   i = sigmoid(a_i), f = sigmoid(a_f), g = tanh(a_g), o = sigmoid(a_o)
//   c_t = f * c_{t-1} + i * g,   h_t = o * tanh(c_t)
// All sequences are (B, T, .) row-major. The backward is BPTT over the T
// steps (truncated there: nothing flows into h0 or c0).
typedef struct {
    int batch, seqlen, hidden;  // B, T, H
    // (B, T, 4H). In: x_t W_ih^T + b_ih. Out: the activated gates [i | f | g | o],
    // which the backward reads.
    float *gates;
    const float *w_hh;          // (4H, H)
    const float *b_hh;          // (4H)
    const float *h0, *c0;       // (B, H) the state before step 0, or NULL for zeros
    float *h;                   // (B, T, H) out: h_t, the layer's output
    float *h_prev;              // (B, T, H) out: h_{t-1} (h0 at t = 0), kept for dW_hh
    float *c;                   // (B, T, H) out: c_t
    float *hT, *cT;             // (B, H) the state after the last step, or NULL; may alias h0, c0
    float *scratch;             // forward and backward: at least lstm_scratch_floats() floats
    // Backward only. dgates is written; dw_hh and db_hh accumulate.
    const float *dh;            // (B, T, H) dL/dh_t from above (not through the recurrence)
    float *dgates;              // (B, T, 4H) out: dL/da_t, which is also dL/d(x_t W_ih^T + b_ih)
    float *dw_hh, *db_hh;       // (4H, H), (4H)
} LstmParams;

typedef struct Backend {
    const char *name;  // "cpu" or "cuda"
    // The largest d_state that selective_scan_* accept, and the largest
    // kernel that conv1d_* accept: a model checks its shapes against them
    // when it is made, not in the middle of a run.
    int selective_scan_max_dstate;
    int conv1d_max_kernel;

    // ------------------------------------------------------------ memory
    void *(*alloc)(size_t bytes);  // zero-filled; dies on failure
    void (*free)(void *p);
    void (*zero)(void *p, size_t bytes);
    void (*to_device)(void *dst, const void *host_src, size_t bytes);
    void (*to_host)(void *host_dst, const void *src, size_t bytes);
    void (*copy)(void *dst, const void *src, size_t bytes);  // within the backend
    // rows rows of width bytes, from rows src_pitch bytes apart to rows
    // dst_pitch bytes apart (a strided view into a dense block or back).
    void (*copy_2d)(void *dst, size_t dst_pitch, const void *src, size_t src_pitch,
                    size_t width, size_t rows);
    void (*synchronize)(void);
    // Grows the backend's own workspace to cover these shapes (never
    // shrinks). An op never allocates: one that needs more workspace than was
    // reserved stops with an error naming it.
    void (*reserve_workspace)(const WorkspaceShapes *shapes);

    // ------------------------------------------------------------ graphs
    // Optional (NULL where a backend has none, as on the CPU). Between
    // graph_capture_begin and graph_capture_end, ops are recorded instead of
    // run; graph_launch replays them in order with the arguments they had at
    // capture, so a graph serves buffers that stay put, and values that change
    // (a token, a position) must be read from backend memory. graph_capture_end
    // returns NULL when the capture failed: the caller then runs the ops
    // directly.
    void (*graph_capture_begin)(void);
    void *(*graph_capture_end)(void);
    void (*graph_launch)(void *graph);
    void (*graph_destroy)(void *graph);

    // ------------------------------------------------------------ linear layers
    // out (N, OC) = inp (N, C) @ W + bias. W is (C, OC) when w_in_out (GPT-2's
    // Conv1D layout) and (OC, C) otherwise (nn.Linear). bias (OC) or NULL.
    // Rows may be strided views into wider buffers: ld_* is a matrix's row
    // stride in floats (ld_inp >= C, ld_out >= OC), as CBLAS's lda; pass the
    // row length for contiguous data.
    void (*linear_forward)(float *out, int ld_out, const float *inp, int ld_inp,
                           const float *weight, const float *bias, int N, int C, int OC,
                           int w_in_out);
    // dinp (N, C; ld_dinp) written (skipped if NULL); dweight, dbias accumulate
    // (dbias skipped if NULL). dout (N, OC; ld_dout), inp (N, C; ld_inp).
    void (*linear_backward)(float *dinp, int ld_dinp, float *dweight, float *dbias,
                            const float *dout, int ld_dout, const float *inp, int ld_inp,
                            const float *weight, int N, int C, int OC, int w_in_out);

    // ------------------------------------------------------------ embedding
    // out (B*T, C) = wte[tokens] (+ wpe[t] if wpe != NULL). tokens (B*T) int32.
    void (*embedding_forward)(float *out, const int32_t *tokens, const float *wte,
                              const float *wpe, int B, int T, int C);
    // dwte (V, C) and dwpe (T, C) (if not NULL) accumulate.
    void (*embedding_backward)(float *dwte, float *dwpe, const float *dout,
                               const int32_t *tokens, int B, int T, int C);

    // ------------------------------------------------------------ norms
    // out (N, C) = (inp - mean) * rstd * weight + bias; mean, rstd (N) saved.
    void (*layernorm_forward)(float *out, float *mean, float *rstd, const float *inp,
                              const float *weight, const float *bias, int N, int C, float eps);
    // dinp accumulates (the residual stream); dweight, dbias accumulate.
    void (*layernorm_backward)(float *dinp, float *dweight, float *dbias, const float *dout,
                               const float *inp, const float *weight, const float *mean,
                               const float *rstd, int N, int C);
    // out (N, C) = inp * rstd * weight, rstd = 1/sqrt(mean(inp^2) + eps), saved (N).
    void (*rmsnorm_forward)(float *out, float *rstd, const float *inp, const float *weight,
                            int N, int C, float eps);
    // The residual add and the next norm in one pass (decode): sum = a + b
    // (sum may alias a), then out = rmsnorm(sum) * weight with rstd saved.
    // All (N, C). Gives the bits of add then rmsnorm_forward.
    void (*add_rmsnorm_forward)(float *sum, float *out, float *rstd, const float *a,
                                const float *b, const float *weight, int N, int C, float eps);
    // dinp accumulates; dweight accumulates.
    void (*rmsnorm_backward)(float *dinp, float *dweight, const float *dout, const float *inp,
                             const float *weight, const float *rstd, int N, int C);

    // ------------------------------------------------------------ elementwise
    // GELU with the tanh approximation (HF "gelu_new").
    void (*gelu_forward)(float *out, const float *inp, size_t n);
    void (*gelu_backward)(float *dinp, const float *inp, const float *dout, size_t n);
    // SiLU(x) = x * sigmoid(x). Rows may be strided views: n_rows x cols,
    // with the given row strides (pass stride == cols for contiguous data).
    void (*silu_forward)(float *out, int out_stride, const float *inp, int inp_stride,
                         int n_rows, int cols);
    void (*silu_backward)(float *dinp, int dinp_stride, const float *inp, int inp_stride,
                          const float *dout, int n_rows, int cols);
    // out = a + b (n). out may alias a or b.
    void (*add)(float *out, const float *a, const float *b, size_t n);
    // dst += src (n).
    void (*accumulate)(float *dst, const float *src, size_t n);
    // x *= s (n).
    void (*scale)(float *x, float s, size_t n);

    // ------------------------------------------------------------ attention
    // Causal multi-head self-attention over a fused qkv (B, T, 3C) laid out as
    // [q | k | v], heads contiguous within each. out (B, T, C). att (B, NH, T, T)
    // holds the softmax probabilities for the backward (zero above the diagonal).
    void (*attention_forward)(float *out, float *att, const float *qkv, int B, int T, int C,
                              int NH);
    // dqkv (B, T, 3C) written. scratch: at least B*NH*T*T floats.
    void (*attention_backward)(float *dqkv, float *scratch, const float *dout, const float *qkv,
                               const float *att, int B, int T, int C, int NH);
    // Batch-1 attention over a KV cache, for n new tokens at positions
    // *pos .. *pos + n - 1 (a decode step is n = 1; a prefill is n tokens).
    // *pos is an int in backend memory, so that a replayed CUDA graph reads
    // the position of the moment. qkv (n, 3C) are the new tokens'
    // projections; their k and v parts are written into the caches
    // (max_T, C) at rows *pos.., laid out as in qkv (heads side by side),
    // then row i of out (n, C) attends over positions 0 .. *pos + i.
    void (*attention_decode)(float *out, float *k_cache, float *v_cache, const float *qkv,
                             const int32_t *pos, int n, int max_T, int C, int NH);

    // ------------------------------------------------------------ loss
    // Softmax cross-entropy per row: losses (N) = -log softmax(logits)[target].
    // If dlogits != NULL it receives dloss * (softmax - onehot); it may alias
    // logits. Rows whose target is negative are ignored (loss 0, gradient 0).
    void (*crossentropy_forward_backward)(float *losses, float *dlogits, const float *logits,
                                          const int32_t *targets, int N, int V, float dloss);

    // ------------------------------------------------------------ optimizer
    // Returns sum(g^2) over n floats, in a fixed order (deterministic).
    double (*sum_squares)(const float *g, size_t n);
    // PyTorch AdamW (decoupled weight decay) for one tensor at step t >= 1.
    // The gradient is multiplied by grad_scale first (global-norm clipping).
    void (*adamw_update)(float *param, const float *grad, float *m, float *v, size_t n,
                         float lr, float beta1, float beta2, float eps, float weight_decay,
                         float grad_scale, int t);

    // ------------------------------------------------------------ Mamba
    // Causal depthwise conv1d over time. x (B, L, D) with row stride x_stride,
    // weight (D, K) (mamba_ssm's (D, 1, K) squeezed), bias (D):
    //   out[b,t,d] = bias[d] + sum_k weight[d,k] * x[b, t-K+1+k, d]
    // Before t = 0, x is 0, or, with x_prev (B, D, K) (a decode conv state:
    // the K inputs before the sequence, oldest first), x[b, s, d] =
    // x_prev[b, d, K + s] for s < 0. out (B, L, D) contiguous.
    void (*conv1d_forward)(float *out, const float *x, int x_stride, const float *x_prev,
                           const float *weight, const float *bias, int B, int L, int D, int K);
    // dx written (row stride dx_stride); dweight, dbias accumulate.
    void (*conv1d_backward)(float *dx, int dx_stride, float *dweight, float *dbias,
                            const float *dout, const float *x, int x_stride,
                            const float *weight, int B, int L, int D, int K);
    // Decode: conv_state (D, K) holds the last K inputs (oldest first). Shifts
    // in x (D) and writes out (D) = silu(bias + sum_k weight[d,k] * state[d,k]):
    // the conv and the SiLU after it in one pass (a decode step is launch-bound).
    void (*conv1d_silu_step)(float *out, float *conv_state, const float *x,
                             const float *weight, const float *bias, int D, int K);
    // Advances conv_state (B, D, K), the last K inputs oldest first, past the
    // L rows of x (B, L, D): it becomes x's last K rows, and where L < K it
    // keeps its own newest K - L entries first. The state after a prefill.
    void (*conv1d_state_from_sequence)(float *conv_state, const float *x, int x_stride, int B,
                                       int L, int D, int K);

    void (*selective_scan_forward)(const SelectiveScanParams *p);
    void (*selective_scan_backward)(const SelectiveScanParams *p);
    size_t (*selective_scan_scratch_floats)(const SelectiveScanParams *p);
    // Decode: one step of the recurrence for batch 1. ssm_state (dim, dstate)
    // updated in place; out (dim) gated as in the forward. u, delta_raw, z (dim),
    // Bt, Ct (dstate).
    void (*selective_scan_step)(float *out, float *ssm_state, const float *u,
                                const float *delta_raw, const float *z, const float *Bt,
                                const float *Ct, const float *A_log, const float *D,
                                const float *delta_bias, int dim, int dstate);

    // ------------------------------------------------------------ LSTM
    // The T steps of one layer (see LstmParams): per step one hidden-to-gate
    // GEMM over the batch and one fused pointwise cell update, inside the op.
    void (*lstm_forward)(const LstmParams *p);
    // Per step (backwards in time) one fused cell backward and one GEMM for
    // dh_{t-1}; then dW_hh and db_hh over all steps at once.
    void (*lstm_backward)(const LstmParams *p);
    size_t (*lstm_scratch_floats)(const LstmParams *p);
} Backend;

// The CPU backend (always present).
const Backend *backend_cpu(void);
// The CUDA backend, or NULL with tb_error() set when this build has no CUDA
// or no GPU is present.
const Backend *backend_cuda(void);
// "cpu" or "cuda"; NULL with the error set otherwise.
const Backend *backend_by_name(const char *name);

#endif
