// checkpoint.h: save and load a model (and its training state) as a directory
// in the ecosystem's format:
//
//   <dir>/model.safetensors  every tensor of the model's table under its
//                            ecosystem name (transformers' GPT2LMHeadModel and
//                            MambaForCausalLM), plus lm_head.weight,
//                            a copy of the tied embedding, so that strict
//                            loaders find it; the checksum of its tensor data
//                            in __metadata__ (safetensors.h)
//   <dir>/config.json        transformers' GPT2Config / MambaConfig fields, plus tunebench's
//                            own in a "tunebench" object (config name, context
//                            length, Mamba's A init and scan chunk, and the
//                            weights' checksum)
//   <dir>/vocab.tok          when the saver gives a tokenizer file: its exact
//                            bytes (config.json's tunebench.tokenizer records
//                            the file name, its size and its FNV-1a hash;
//                            "bytes" for the byte-level tokenizer, which has
//                            no file; null when none was given)
//   <dir>/train_state.bin    only when a TrainState is given: what an exact
//                            resume needs, with the run id, the step and the
//                            weights' checksum (see checkpoint.c for the layout)
//   <dir>/run_config.json    only when the TrainState carries one: the
//                            training run's resolved config, which a resume
//                            compares with its record's
//
// A save builds the whole directory under a temporary name and then renames
// it into place, so a killed save leaves the previous checkpoint intact and
// never a half-written one. Loading validates everything and every error names
// the file (and the tensor): a missing or misshapen tensor, truncated data, a
// bad header, tensor data that fails its checksum, a non-finite weight, a
// corrupt train state, a train state saved with other weights, or a
// checkpoint of another model.
//
// Loading also accepts an architecture's other format (ModelArch.other_format:
// mamba_ssm's config.json and tensor names, which older tunebench Mamba
// checkpoints used), for eval, generate and resume alike.
//
// Checkpoints without checksums (the ecosystem's own files, and tunebench's
// from before checksums) still load for eval, score and generate: their
// weights are checked for non-finite values only. A train_state.bin of the
// old version 1 (no run id, no weights checksum) is refused: resuming from it
// could not be checked against the run.
#ifndef TB_CHECKPOINT_H
#define TB_CHECKPOINT_H

#include <stdint.h>

#include "lib/common.h"
#include "model.h"

#define CHECKPOINT_RUN_ID_BYTES 96

typedef struct {
    char run_id[CHECKPOINT_RUN_ID_BYTES];  // the run it belongs to ("" when saved outside a run)
    uint64_t weights_checksum;  // on load: the checksum of the parameters it was saved with
    int64_t step;            // optimizer steps taken; training resumes at step + 1
    Rng rng;                 // the run's random generator, mid-stream
    uint64_t data_state[4];  // the data loader's position (opaque here)
    OptimConfig optim;       // the optimizer settings in use
    const char *run_config;  // saving: JSON text written as run_config.json (the
                             // run's resolved config), NULL for none; not loaded
} TrainState;

// Writes dir (created if needed, replaced if it exists). ts may be NULL for a
// weights-only checkpoint. With ts, the model must have AdamW moments (at
// least one optimizer step taken) unless ts->step is 0. The weights' checksum
// is computed here (ts->weights_checksum is ignored). tokenizer is the path of
// the tokenizer the model was trained with, copied byte for byte (it is opaque
// here), or CHECKPOINT_TOKENIZER_BYTES, or NULL for none.
int checkpoint_save(const char *dir, const Model *m, const TrainState *ts, const char *tokenizer);

#define CHECKPOINT_TOKENIZER_FILE "vocab.tok"
#define CHECKPOINT_TOKENIZER_BYTES "bytes"

typedef enum {
    CHECKPOINT_TOKENIZER_NONE,        // saved without one (or before checkpoints carried one)
    CHECKPOINT_TOKENIZER_BYTE_LEVEL,  // the byte-level tokenizer, which has no file
    CHECKPOINT_TOKENIZER_IN_FILE,     // path, verified against the recorded hash
} CheckpointTokenizerKind;

typedef struct {
    CheckpointTokenizerKind kind;
    char path[4096 + 32];  // IN_FILE: <dir>/vocab.tok
    char fnv1a64[17];      // IN_FILE: the hash of its bytes that config.json records
} CheckpointTokenizer;

// The tokenizer that dir carries. An IN_FILE tokenizer's file is checked
// against config.json's hash (missing or changed is an error).
int checkpoint_tokenizer(const char *dir, CheckpointTokenizer *out);

// Writes m to dir in its architecture's other format (ModelArch.other_format,
// e.g. "mamba_ssm"): model.safetensors under that format's tensor names and
// that format's config.json, nothing of tunebench's. Loading reads it back.
int checkpoint_export(const char *dir, const Model *m, const char *format);

// Creates a model from dir's config.json on the backend and loads its weights.
// With ts non-NULL, also loads train_state.bin (an error if absent) into ts and
// the model's AdamW moments. NULL with the error set on failure.
Model *checkpoint_load(const char *dir, const Backend *be, TrainState *ts);

// Loads dir into an existing model, which must be the same architecture and
// shapes (the error says which model the checkpoint holds otherwise).
int checkpoint_load_into(Model *m, const char *dir, TrainState *ts);

// The step of dir's train_state.bin (its header only: magic, version and
// step are checked, not the rest). 0, or -1 with the error set.
int checkpoint_read_step(const char *dir, int64_t *step);

// The run_config.json that a save with ts->run_config wrote into dir, as
// malloc'ed text; NULL (no error) when dir has none.
char *checkpoint_read_run_config(const char *dir);

// The tensor that the LM head is tied to, for the model's architecture.
const char *checkpoint_tied_embedding_name(const Model *m);

#endif
