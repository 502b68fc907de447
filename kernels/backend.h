// backend.h: the ops every model is built from, implemented once per backend.
//
// A model never touches activation or parameter memory directly: it allocates
// through the backend and calls these ops. kernels/cpu/ implements them with
// plain C, OpenMP and OpenBLAS; kernels/cuda/ with CUDA kernels and cuBLAS. So
// the same model code runs on either, and the CPU ops are the reference that
// every CUDA kernel is tested against.
//
// Conventions, stated once:
// - All tensors are fp32, row-major, contiguous unless a stride is given.
//   In bf16 (set_precision) the linear layers round their operands to bf16
//   on the way into the GEMM; what they read and write stays fp32.
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
    // A backend's forward may save more states after these, in a layout of
    // its own: the buffer holds selective_scan_saved_floats() floats.
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

// One decode step of the middle of a Mamba mixer, for `batch` sequences of
// one token each (mamba_simple.Mamba.step from in_proj's output to the gated
// y that out_proj reads), in one op because a decode step is launch-bound:
//   conv_state <- shifted, x appended;  u = silu(conv_b + sum_k conv_w[:,k] conv_state[:,k])
//   x_dbl      = u @ x_proj^T                        [dt_r | B | C], (R + 2S)
//   delta_raw  = dt_r @ dt_w^T;  delta = softplus(delta_raw + delta_bias)
//   h          = exp(delta A) h + delta B u,  A = -exp(A_log)     (dim, S) per sequence
//   out        = (C . h + D u) silu(z)
// The same values as conv1d_silu_step, linear_forward (x_proj, then dt_proj)
// and selective_scan_step one after the other; u, x_dbl and delta_raw are
// written as those ops leave them.
typedef struct {
    int batch, dim, dstate, dt_rank, d_conv;  // B, D (d_inner), S, R, K
    const float *x;          int x_stride;    // (B, D) the conv's input (in_proj's x half)
    const float *z;          int z_stride;    // (B, D) the gate (in_proj's z half)
    const float *conv_w, *conv_b;             // (D, K), (D)
    const float *x_proj;                      // (R + 2S, D)
    const float *dt_w;                        // (D, R)
    const float *delta_bias;                  // (D)
    const float *A_log;                       // (D, S)
    const float *D;                           // (D)
    float *conv_state;                        // (B, D, K) in place, oldest input first
    float *ssm_state;                         // (B, D, S) in place
    float *u;                                 // (B, D) out
    float *x_dbl;                             // (B, R + 2S) out
    float *delta_raw;                         // (B, D) out
    float *out;              int out_stride;  // (B, D) out
} MambaMixerStepParams;

// The largest shapes a model will pass to the ops, so that a backend whose
// ops need workspace of their own (reduction partials, permuted attention
// operands) sizes it once, when the model allocates its buffers.
typedef struct {
    size_t rows;       // the most rows (B*T) of any op
    size_t widest;     // the widest row of any op (4C, 2 d_inner, the vocabulary...)
    int conv_kernel;   // the causal conv's kernel width, 0 if none
    size_t attention;  // B*T*C of the attention, 0 if none
    // The largest weight a linear layer multiplies, in floats (0 if none):
    // with rows x widest it bounds a bf16 GEMM's operands (set_precision).
    size_t largest_weight;
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

// ops.def's return tokens as types.
#define BACKEND_RET_void void
#define BACKEND_RET_int int
#define BACKEND_RET_double double
#define BACKEND_RET_size_t size_t
#define BACKEND_RET_ptr void *

// The linear layers' arithmetic, from kernels/precisions.def: PRECISION_FP32
// (the reference and the default), PRECISION_TF32, PRECISION_BF16.
typedef enum {
#define PRECISION(id, name, meaning) PRECISION_##id,
#include "precisions.def"
#undef PRECISION
    PRECISION_COUNT
} Precision;
extern const char *const precision_names[PRECISION_COUNT];     // "fp32", "tf32", "bf16"
extern const char *const precision_meanings[PRECISION_COUNT];
// "fp32|tf32|bf16", for the config key's choices and usage lines.
extern const char *const precision_choices;
// The precision named, or -1 with an error listing them.
int precision_by_name(const char *name);
#define PRECISION_DEFAULT_NAME "fp32"

// What a backend says of itself, for records, logs and benchmarks.
typedef struct {
    char device[256];   // what the ops run on: the host CPU, or the GPU by name
    int threads;        // host threads (OpenMP) the backend's own code uses
    char precision[8];  // the linear layers' arithmetic: a precision_names entry
} BackendInfo;

typedef struct Backend {
    const char *name;  // what --backend takes (backend_by_name)
    // 1 when the ops run on the host's cores, in host memory: a long run
    // takes hours, and the host's memory bandwidth bounds it.
    int on_host;
    // The largest d_state that selective_scan_* accept, and the largest
    // kernel that conv1d_* accept: a model checks its shapes against them
    // when it is made, not in the middle of a run.
    int selective_scan_max_dstate;
    int conv1d_max_kernel;
    void (*describe)(BackendInfo *info);
    // Sets the host threads the backend's code uses; threads <= 0 keeps them.
    void (*set_threads)(int threads);
    // Sets the linear layers' precision for every later op. 0, or -1 with an
    // error saying why and what to use instead where this backend (or this
    // machine) cannot compute in it; the precision then stays as it was.
    // A change makes the captured graphs stale (graph_launch refuses them).
    int (*set_precision)(Precision precision);

    // The functions, one field each, from kernels/ops.def (where each one's
    // contract is written).
#define OP(kind, ret, name, params, args) BACKEND_RET_##ret(*name) params;
#include "ops.def"
#undef OP
} Backend;

// The functions' field names, in ops.def's order ("alloc", ...,
// "lstm_scratch_floats"), and where each sits in a Backend.
enum {
#define OP(kind, ret, name, params, args) BACKEND_OP_##name,
#include "ops.def"
#undef OP
    BACKEND_OP_COUNT
};
extern const char *const backend_op_names[BACKEND_OP_COUNT];
extern const size_t backend_op_offsets[BACKEND_OP_COUNT];
// Each one's kind in ops.def, and the index of a name (-1 if none).
enum { BACKEND_KIND_MEMORY, BACKEND_KIND_GRAPH, BACKEND_KIND_COMPUTE, BACKEND_KIND_QUERY };
extern const unsigned char backend_op_kinds[BACKEND_OP_COUNT];
int backend_op_index(const char *name);

// The CPU backend (always present).
const Backend *backend_cpu(void);
// The CUDA backend, or NULL with tb_error() set when this build has no CUDA
// or no GPU is present.
const Backend *backend_cuda(void);
// The backend that --backend NAME names; NULL with an error listing them.
const Backend *backend_by_name(const char *name);
// What --backend is when no one says.
#define BACKEND_DEFAULT_NAME "cpu"

// What a backend name means without building the backend (a build may not
// have it): whether it runs on a device (a GPU, which a scheduler must
// request) and the binary that has it. NULL with an error for an unknown name.
typedef struct {
    const char *name;
    int on_device;
    const char *binary;  // under build/: "tunebench" or "tunebench-cuda"
} BackendKind;
const BackendKind *backend_kind(const char *name);

#endif
