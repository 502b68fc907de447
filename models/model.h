// model.h: the one small interface that every architecture implements.
//
// The runner, the evaluator and the sampler hold a Model* and never ask which
// architecture it is. An architecture provides a ModelVtbl (what a model
// does) and a ModelArch (what the code around it may ask: configs, config.json,
// FLOPs, how to describe it), both at the end of its own file, and is listed
// once in models/architectures.def. Everything that is the same for all of
// them (the parameter table, AdamW, clipping, checkpoints) lives in
// models/model.c and models/checkpoint.c and works from the tensor table.
//
// A Model is four parts, as llama2.c keeps Config, TransformerWeights and
// RunState apart:
//   spec        the shapes (ModelSpec);
//   params      the parameters with their gradients and AdamW moments
//               (ModelParams): all that the optimizer, clipping, checkpoints
//               and data-parallel reduction touch, and nothing else;
//   acts        the activations of one batch shape (ModelActivations): what a
//               forward writes and its backward reads; another set of another
//               shape may take its place over the same params;
//   decoder     the batch-1 decode state (DecodeState, models/decode.c).
// Each architecture keeps the same split: its named views into params
// (m->param_views: the weights and, in the same layout, their gradients) are
// made once by create; its named views into an activation arena
// (ModelActivations.views) with each set of activations.
//
// Memory: all parameters live in one contiguous buffer (params.values), in
// the order of the tensor table, and the gradients and AdamW moments have the
// same layout. So zeroing, clipping, AdamW and saving are loops over one array.
#ifndef TB_MODEL_H
#define TB_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "../kernels/backend.h"

typedef struct cJSON cJSON;

// Shapes of a model. Fields an architecture does not use are 0.
typedef struct {
    char name[32];     // "gpt2-6m", "mamba-60m", "tiny-gpt2", ...
    char arch[16];     // the ModelArch's name: "gpt2", "mamba", "lstm"
    int vocab_size;    // the tokenizer's vocabulary (the embedding has this many rows)
    int max_seq_len;   // the longest context the model is built for
    int d_model;       // n_embd for GPT-2
    int n_layer;
    // GPT-2
    int n_head;
    // Mamba
    int d_state;       // N, 16
    int d_conv;        // 4
    int expand;        // 2
    int dt_rank;       // ceil(d_model / 16)
    char a_init[16];   // "s4d_real" (default) or "constant"
    int scan_chunk;    // time steps between the scan's saved states
} ModelSpec;
// A new architecture's hyperparameters are new fields here, and a line each
// in models/spec.c's field table (for records, descriptions and shape checks).

// One named parameter tensor, named and shaped as in the ecosystem's
// checkpoints (Hugging Face GPT2LMHeadModel, mamba_ssm MambaLMHeadModel).
typedef struct {
    char name[96];
    int ndim;
    int64_t shape[4];
    size_t offset;     // in floats, into ModelParams' values, grads, adam_m and adam_v
    size_t numel;
    int weight_decay;  // 1 if AdamW applies weight decay to it
} ParamTensor;

typedef struct Model Model;
typedef struct ModelArch ModelArch;
typedef struct ModelActivations ModelActivations;
typedef struct DecodeState DecodeState;

typedef struct {
    // Builds the tensor table, allocates parameters on the backend and sets
    // m->param_views; no activations yet.
    int (*create)(Model *m);
    // Draws the architecture's own initialisation from the seed.
    void (*init_weights)(Model *m, uint64_t seed);
    // Gives the model activations for batches up to (B, T), T <= max_seq_len,
    // in place of those it had: model_alloc_activations (models/model.c, the
    // same for every architecture), which asks activations_alloc below.
    int (*alloc_activations)(Model *m, int B, int T);
    // Lays out a set of activations for batches up to (a->B, a->T): allocates
    // a->arena on the backend and a->views (one host allocation, which
    // free() releases), points a->logits into the arena, sets a->arena_bytes
    // and reserves the backend's workspace for those shapes. Reads no
    // parameter and writes nothing outside a.
    int (*activations_alloc)(Model *m, ModelActivations *a);
    // inputs, targets: (B, T) host int32, within m->acts' (B, T). targets may
    // be NULL (logits only). Leaves logits (B, T, V) in m->acts->logits
    // (backend memory) and, with targets, the per-position losses in
    // m->acts->losses_host and the mean in m->acts->loss.
    void (*forward)(Model *m, const int32_t *inputs, const int32_t *targets, int B, int T);
    // After a forward with targets on m->acts: accumulates d(mean
    // loss)/d(params) into m->params.grads.
    void (*backward)(Model *m);
    // The batch-1 decoder: the batched one below on m->decoder, a
    // DecodeState of one sequence (models/decode.c; the same functions for
    // every architecture, see MODEL_VTBL).
    int (*alloc_decode)(Model *m);
    void (*decode_reset)(Model *m);
    // Consumes n prompt tokens at the next positions as one batched forward
    // (from a reset decoder, or continuing a sequence) and writes the logits
    // (V) after the last one to host memory. Leaves the decoder as n
    // decode_steps would.
    void (*prefill)(Model *m, const int32_t *tokens, int n, float *logits_host);
    // Consumes one token at the next position; writes logits (V) to host memory.
    void (*decode_step)(Model *m, int32_t token, float *logits_host);
    // The batched decoder that models/decode.c drives (see DecodeState).
    // decode_alloc lays out ds->arena for ds->capacity sequences of up to
    // ds->chunk tokens a call: it allocates the arena and ds->impl, points
    // ds->logits and ds->state into the arena, and reserves the backend's
    // workspace for those shapes.
    int (*decode_alloc)(Model *m, DecodeState *ds);
    // Copies a call's inputs to the backend: tokens (B, n) host, and the
    // positions that the ops read (from ds->pos, each sequence's first).
    void (*decode_load)(Model *m, DecodeState *ds, const int32_t *tokens, int B, int n);
    // The call's ops: sequences 0..B-1 each consume the n tokens that
    // decode_load placed, continuing from their states, and the logits after
    // each one's last token go to ds->logits (B, V). Ops on fixed buffers
    // only, reading nothing from the host, so that a step can be replayed as
    // a graph.
    void (*decode_ops)(Model *m, DecodeState *ds, int B, int n);
    // config.json in the ecosystem's format (GPT2Config / MambaConfig fields).
    cJSON *(*config_json)(const Model *m);
    // Bytes of m->acts' arena, for the run record: model_activation_bytes.
    size_t (*activation_bytes)(const Model *m);
    // Frees m->param_views (model_destroy frees everything else).
    void (*destroy)(Model *m);
} ModelVtbl;

// The vtable of an architecture whose functions are named PREFIX_create,
// PREFIX_init_weights, ... PREFIX_destroy, in ModelVtbl's order. Allocating
// activations is models/model.c's and the batch-1 decoder models/decode.c's,
// on top of the architecture's own layouts.
#define MODEL_VTBL(PREFIX)                                                         \
    {                                                                              \
        .create = PREFIX##_create, .init_weights = PREFIX##_init_weights,          \
        .alloc_activations = model_alloc_activations,                              \
        .activations_alloc = PREFIX##_activations_alloc, .forward = PREFIX##_forward, \
        .backward = PREFIX##_backward, .alloc_decode = model_alloc_decode,         \
        .decode_reset = model_decode_reset, .prefill = model_prefill,              \
        .decode_step = model_decode_step, .decode_alloc = PREFIX##_decode_alloc,   \
        .decode_load = PREFIX##_decode_load, .decode_ops = PREFIX##_decode_ops,    \
        .config_json = PREFIX##_config_json,                                       \
        .activation_bytes = model_activation_bytes, .destroy = PREFIX##_destroy,   \
    }

// The parameters and all that has their layout: what the optimizer,
// clipping, checkpoints and data-parallel reduction touch.
typedef struct {
    ParamTensor *tensors;    // the table, in buffer order
    int num_tensors;
    int tensors_cap;         // allocated entries of tensors (grows by doubling)
    int *tensor_slots;       // name hash table: tensor index + 1, 0 = empty
    int num_slots;           // a power of two, at least twice num_tensors
    size_t num_params;       // floats in each buffer below
    float *values;           // (num_params) backend: the weights
    float *grads;            // (num_params) backend: accumulated by backward
    float *adam_m, *adam_v;  // (num_params) backend: allocated by the first optimizer step
    // Backend memory, built by the first optimizer step: the parts of values
    // that AdamW decays, as spans [decay_spans[2k], decay_spans[2k + 1]).
    size_t *decay_spans;
    int num_decay_spans;
} ModelParams;

// One set of activations: everything a forward writes for batches up to
// (B, T) and its backward reads, in one backend arena. It holds no
// parameter, so a set can be freed, replaced by one of another shape, or
// swapped with another (model_use_activations) without touching params.
struct ModelActivations {
    int B, T;                // capacity
    float *logits;           // (B, T, V) backend, in arena
    float *losses_host;      // (B, T) host copy of the per-position losses
    float loss;              // mean loss of the last forward with targets
    void *arena;             // backend memory: logits and the architecture's buffers
    size_t arena_bytes;
    void *views;             // the architecture's named views into arena
};

struct Model {
    ModelSpec spec;
    const ModelArch *arch;   // the registry's entry for spec.arch
    const ModelVtbl *vt;     // arch->vtbl
    const Backend *be;

    ModelParams params;
    void *param_views;       // the architecture's named views into params (create)
    ModelActivations *acts;  // what forward and backward use; NULL before alloc_activations

    int decode_pos;          // next position for decode_step
    DecodeState *decoder;    // the batch-1 decoder's state (alloc_decode)

    // Set by data-parallel training (src/runner/dist.c), NULL otherwise:
    // called through model_grads_final while a backward runs.
    void (*grads_final)(Model *m, size_t from);
};

// ---------------------------------------------------------------- architectures
// What the code around the models may ask about an architecture. The runner,
// checkpoints, benchmarks, generation and the paper's tables use these fields
// and never compare an architecture's name.
struct ModelArch {
    const char *name;          // ModelSpec.arch and a record's model.arch: "gpt2"
    const char *title;         // for tables, legends and log lines: "GPT-2"
    const ModelVtbl *vtbl;
    // Its named configs; model_spec_by_name fills in arch and vocab_size.
    // Those named tiny-* exist for the tests only.
    const ModelSpec *configs;
    int num_configs;
    // 1 if there is no position past max_seq_len (learned position
    // embeddings): prefill and generation stop there, and a checkpoint's
    // context is part of its shape. 0 if max_seq_len is only the training
    // length (a recurrence runs on).
    int context_bounded;
    // The embedding tensor that the LM head is tied to.
    const char *embedding_tensor;
    // config.json: whether a file is this architecture's config, what that
    // config is called (for the error that lists them), and reading its
    // ecosystem fields into spec (arch, name and the "tunebench" object are
    // handled by model_spec_from_config_json).
    int (*claims_config)(const cJSON *config);
    const char *config_kind;
    int (*spec_from_config)(ModelSpec *spec, const cJSON *config, const char *path);
    // Optional: this architecture's fields of config.json's "tunebench"
    // object (what the ecosystem's config cannot express), both ways.
    int (*read_extras)(ModelSpec *spec, const cJSON *config, const cJSON *extras,
                       const char *path);
    void (*write_extras)(const ModelSpec *spec, cJSON *extras);
    // Model FLOPs per trained token (forward and backward) at context T, and
    // the formula in words for the benchmark JSON.
    double (*flops_per_token)(const ModelSpec *spec, size_t num_params, int T, char *formula,
                              size_t cap);
    // What sets its shape apart, for a table cell or a log line ("8 heads",
    // "d_state 16").
    void (*describe)(const ModelSpec *spec, char *out, size_t cap);
    // Optional: facts for a benchmark's memory section (GPT-2: the attention
    // probabilities it keeps for the backward at batch B, length T).
    void (*memory_facts)(const ModelSpec *spec, int B, int T, cJSON *memory);
    // Optional, for an architecture built on the selective scan: one layer's
    // scan at batch B x T (shape's batch, seqlen, dim, dstate and chunk; no
    // pointers), and how many layers run it. `tunebench bench` times the
    // scan alone at that shape.
    int (*scan_shape)(const ModelSpec *spec, int B, int T, SelectiveScanParams *shape);
    // Optional: another ecosystem's layout of a checkpoint, which loading also
    // accepts and `tunebench export --format <other_format>` writes: its
    // config.json, and its names for the tensors it names differently, as
    // pairs {name here, name there}, NULL-terminated.
    const char *other_format;
    cJSON *(*other_config_json)(const ModelSpec *spec);
    const char *const *other_names;
};

// A tensor's name in the architecture's other format (other_names), or name
// itself when that format names it the same.
const char *model_arch_other_name(const ModelArch *arch, const char *name);

// The registry (models/registry.c, from models/architectures.def), in a
// fixed order: the order of tables, plots and `exp-all`.
int model_arch_count(void);
const ModelArch *model_arch_at(int i);
// The entry named name; NULL with an error naming the known ones.
const ModelArch *model_arch_find(const char *name);
// The entry's position in the registry, -1 if unknown.
int model_arch_index(const char *name);
// The study's named configs of every architecture, in registry order,
// comma-separated ("gpt2-6m,gpt2-60m,mamba-6m,..."): every config but the
// tests' tiny-* ones.
void model_study_configs(char *out, size_t cap);

// ---------------------------------------------------------------- configs
// Fills spec for a named config (every architecture's configs: gpt2-6m,
// mamba-60m, lstm-6m, tiny-gpt2, ...). vocab_size is taken from the argument.
int model_spec_by_name(ModelSpec *spec, const char *name, int vocab_size);
// Reads an ecosystem config.json (GPT2Config, MambaConfig, ...) into spec.
int model_spec_from_config_json(ModelSpec *spec, const cJSON *config, const char *path);
// For an architecture's config reader: an integer field of obj; a missing
// field is an error unless has_default (then *out = dflt).
int model_config_int(const cJSON *obj, const char *key, int *out, int has_default, int dflt,
                     const char *path);

// ---------------------------------------------------------------- specs (models/spec.c)
// The shape fields as a JSON object (the run record's model.spec): every
// field the architecture uses, by name.
cJSON *model_spec_json(const ModelSpec *spec);
// 0 if every shape field is within what tunebench builds (0 for a field the
// architecture does not use, else 1 to a bound per field: n_layer 1024,
// d_model 65536, vocab_size 2^20, ...); -1 naming origin and the field.
int model_spec_check(const ModelSpec *spec, const char *origin);
// The inverse, from a record's "model" object ({"name", "arch", "spec"}).
int model_spec_from_record(ModelSpec *spec, const cJSON *model);
// "gpt2 'gpt2-6m' (vocab_size 1024, d_model 256, ...)": every field, for errors.
void model_spec_describe(const ModelSpec *spec, char *out, size_t cap);
// The architecture's short description ("8 heads"); "" if the arch is unknown.
void model_spec_summary(const ModelSpec *spec, char *out, size_t cap);
// 1 if a checkpoint of a fits a model of b: same architecture and every shape
// field equal (the context only where the architecture is context_bounded).
int model_spec_same_shapes(const ModelSpec *a, const ModelSpec *b);

// ---------------------------------------------------------------- lifetime
// Creates the model on a backend with zeroed parameters (call init_weights or
// load a checkpoint next). NULL with the error set on failure.
Model *model_create(const ModelSpec *spec, const Backend *be);
void model_destroy(Model *m);

// Registers a tensor in the table while an architecture's create() runs.
void model_add_tensor(Model *m, const char *name, int ndim, const int64_t *shape,
                      int weight_decay);
// Allocates params and grads for the registered tensors; refuses a model of
// more than MODEL_MAX_PARAMS parameters.
#define MODEL_MAX_PARAMS ((size_t)1 << 34)
int model_alloc_params(Model *m);
const ParamTensor *model_find_tensor(const Model *m, const char *name);
float *model_param(Model *m, const char *name);  // backend pointer into params.values
float *model_grad(Model *m, const char *name);   // backend pointer into params.grads

// ---------------------------------------------------------------- activations
// ModelVtbl's alloc_activations: frees m->acts, then gives the model a set
// for batches up to (B, T). -1 with the error set, the set in place kept, if
// (B, T) is not a batch for this model.
int model_alloc_activations(Model *m, int B, int T);
// A set of activations for (B, T) over m's parameters, apart from m->acts
// (an evaluator at another batch shape); NULL with the error set.
ModelActivations *model_activations_create(Model *m, int B, int T);
void model_activations_destroy(Model *m, ModelActivations *a);
// Makes a the set that forward and backward use and returns the one it
// replaces. The set in use is the model's (alloc_activations and
// model_destroy free it); one out of use is its caller's to put back or to
// destroy. Each set keeps its own last forward: a backward runs on the set
// in use.
ModelActivations *model_use_activations(Model *m, ModelActivations *a);
// ModelVtbl's activation_bytes: m->acts' arena, 0 without activations.
size_t model_activation_bytes(const Model *m);

// ---------------------------------------------------------------- training
// The optimizer's defaults, held once: optim_config_default() and the
// experiment config's defaults (src/runner/config.c) both take them from here.
#define OPTIM_DEFAULT_LR 1e-3
#define OPTIM_DEFAULT_MIN_LR_RATIO 0.1  // the cosine's floor as a fraction of lr
#define OPTIM_DEFAULT_WARMUP_STEPS 1000
#define OPTIM_DEFAULT_TOTAL_STEPS 100000  // the protocol's run length (PROTOCOL_STEPS)
#define OPTIM_DEFAULT_BETA1 0.9
#define OPTIM_DEFAULT_BETA2 0.95
#define OPTIM_DEFAULT_EPS 1e-8
#define OPTIM_DEFAULT_WEIGHT_DECAY 0.1
#define OPTIM_DEFAULT_GRAD_CLIP 1.0

typedef struct {
    float lr;            // peak learning rate
    float min_lr;        // floor of the cosine decay
    int warmup_steps;
    int total_steps;     // schedule length
    float beta1, beta2, eps;
    float weight_decay;
    float grad_clip;     // max global norm; <= 0 disables clipping
} OptimConfig;

// The OPTIM_DEFAULT_* values, min_lr = lr * min_lr_ratio rounded as a run does.
void optim_config_default(OptimConfig *oc);
// Linear warmup, then cosine decay from lr to min_lr at total_steps.
float optim_lr_at(const OptimConfig *oc, int step);

void model_zero_grad(Model *m);
// A backward's promise, made after each layer: no later op of this backward
// writes a gradient at or after tensor first_tensor of the table (whose
// offsets grow in table order). Every architecture lays its tensors out as
// embedding, layer 0 .. layer L-1, final norm, and its backward runs from
// the head down to layer 0, then into the (tied) embedding; so after layer l
// everything from layer l's first tensor to the end is final. Data-parallel
// training reduces that part while the backward goes on
// (src/runner/dist_buckets.h); tests/test_dist_buckets.c holds every
// architecture to the promise.
void model_grads_final(Model *m, int first_tensor);
// Global L2 norm of the gradients (deterministic).
float model_grad_norm(Model *m);
// Clips by global norm and applies AdamW to every tensor (decay where
// weight_decay is set). step counts from 1. Returns the pre-clip grad norm.
float model_adamw_step(Model *m, const OptimConfig *oc, int step, float lr);
// The same with the gradients' norm already taken (model_grad_norm of these
// gradients), as the training loop does to check it first: one reduction
// and one read back to the host a step instead of two.
float model_adamw_step_norm(Model *m, const OptimConfig *oc, int step, float lr, float norm);

// ---------------------------------------------------------------- for architectures
// What every architecture's forward needs the same way.

// Carves 64-byte aligned float buffers out of one backend allocation. A first
// pass with base NULL only counts (used); the second assigns pointers.
typedef struct {
    char *base;
    size_t used;
} Arena;
float *arena_take(Arena *a, size_t floats);

// Returns the error if (B, T) cannot be a batch for this model.
int model_check_batch_shape(const Model *m, int B, int T);
// For a forward on (B, T): m->acts' views. Dies if the model has no
// activations or smaller ones than alloc_activations made room for.
void *model_require_activations(const Model *m, int B, int T);
// For a backward: m->acts' views, NULL without activations.
void *model_activation_views(const Model *m);
// Dies if a token is outside the vocabulary (negative targets mean "ignore").
void model_check_tokens(const Model *m, const int32_t *tokens, size_t n, int allow_negative,
                        const char *what);
// The loss of m->acts->logits (N, V) against host targets (N): per-position
// losses in m->acts->losses_host, their mean over the non-negative targets in
// m->acts->loss (summed in position order, in double: the same bits every
// run), and dlogits = d(mean)/d(logits). targets_dev (N ints) and losses_dev
// (N) are backend scratch.
void model_cross_entropy(Model *m, const int32_t *targets, int32_t *targets_dev,
                         float *losses_dev, float *dlogits, int N);
int tb_ends_with(const char *s, const char *suffix);

// Sizes the backend's workspace for this model's largest shapes.
void model_reserve_workspace(Model *m, size_t rows, size_t widest, int conv_kernel,
                             size_t attention);

// ---------------------------------------------------------------- decoding (models/decode.c)
// A one-token decode call replayed as one backend graph. The first call for
// a key (the number of sequences it advances) runs the architecture's ops
// directly, the second captures them, later ones replay the capture; a new
// key, or a change of the backend's settings (precision), starts that over.
// Where the backend has no graphs, where a capture failed, or with
// TUNEBENCH_DECODE_GRAPHS=0, the ops run directly.
typedef struct {
    void *graph;
    int key;   // the sequences of the captured call
    int warm;  // a call with this key has run under the current settings
    int disabled;
    int checked_env;
} DecodeGraph;

// Inference state for up to `capacity` sequences, kept apart from the
// weights (which it only reads) and from the training activations. Each
// sequence has its own position and its own state: the KV cache (GPT-2), the
// conv and SSM states (Mamba), h and c (LSTM). One call advances sequences
// 0..B-1 by n tokens each as one forward of B x n rows (GEMMs of B x n rows,
// one op per layer whatever B is); a finished sequence is dropped by moving
// the last one into its place (decode_state_move), so the sequences fed are
// always the first B.
#define DECODE_MAX_STATES 4
#define DECODE_MAX_CAPACITY 4096
typedef struct {
    float *base;          // (layers, capacity, per_seq) floats
    size_t per_seq;
    int layers;
    // > 0 for a cache by position (per_seq = max_seq_len * per_position):
    // rows past a sequence's position are never read, so a reset leaves
    // them and a move copies only the rows in use.
    size_t per_position;
} DecodeStateTensor;

struct DecodeState {
    int capacity;          // sequences
    int chunk;             // tokens per sequence in one forward; longer calls are split
    int *pos;              // (capacity) host: each sequence's next position
    float *logits;         // (capacity, V) backend: each sequence's logits after its last token
    DecodeStateTensor state[DECODE_MAX_STATES];  // what reset zeroes and move copies
    int num_state;
    void *arena;           // backend memory: the states and the buffers of one call
    void *impl;            // the architecture's views into arena (a flat host struct)
    int32_t *host_tokens;  // (capacity * chunk) a chunk's tokens, gathered
    DecodeGraph graph;     // one-token calls, replayed
    float *zeros;          // backend: zeros, the largest state tensor's (layers, per_seq), or NULL
};

// A state for up to capacity sequences (1..DECODE_MAX_CAPACITY), all at
// position 0. Its buffers hold one forward of capacity x chunk rows, chunk =
// max(1, max_seq_len / capacity), so its activations take about what the
// batch-1 decoder's do; the caches grow with capacity. NULL with the error set.
DecodeState *decode_state_create(Model *m, int capacity);
void decode_state_destroy(Model *m, DecodeState *ds);
// Every sequence back to position 0 with a zero state.
void decode_state_reset(Model *m, DecodeState *ds);
// Sequences 0..B-1 (B <= capacity) each consume n tokens, tokens (B, n)
// host, at their next positions: one batched forward per chunk of tokens.
// Writes the logits after each sequence's last token to logits_host (B, V).
// Dies on a token outside the vocabulary, or past the context of a model
// whose context bounds it (ModelArch.context_bounded).
void decode_state_run(Model *m, DecodeState *ds, const int32_t *tokens, int B, int n,
                      float *logits_host);
// Sequence src's state and position become sequence dst's (dst's own are
// dropped); src is left as it was.
void decode_state_move(Model *m, DecodeState *ds, int dst, int src);
// Sequence seq back to position 0 with a zero state, the others left as they
// are (a new sequence takes a finished one's place): one strided copy per
// state tensor from ds->zeros.
void decode_state_reset_sequence(Model *m, DecodeState *ds, int seq);

// The batch-1 decoder (ModelVtbl's alloc_decode, decode_reset, prefill and
// decode_step): m->decoder, a state of capacity 1, with m->decode_pos its
// position.
int model_alloc_decode(Model *m);
void model_decode_reset(Model *m);
void model_prefill(Model *m, const int32_t *tokens, int n, float *logits_host);
void model_decode_step(Model *m, int32_t token, float *logits_host);

// Runs run_ops(m, ctx) through dg (see DecodeGraph) for a call of this key.
void model_decode_graph_run(Model *m, DecodeGraph *dg, int key,
                            void (*run_ops)(Model *m, void *ctx), void *ctx);
void model_decode_graph_release(Model *m, DecodeGraph *dg);

#endif
