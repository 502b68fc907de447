// config.h: one experiment's configuration, read from experiments/<name>.json.
//
// Every key the file may hold is described once, in a table in config.c
// (name, type, range, meaning). The same table reads the JSON file, applies
// the command-line overrides (`--steps 20`, from `make exp-* STEPS=20`) and
// writes the resolved config into the run record, so the three cannot drift
// apart. An unknown key, a wrong type or a value out of range is an error
// that names the key and the file.
#ifndef TB_RUNNER_CONFIG_H
#define TB_RUNNER_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "models/model.h"

typedef struct cJSON cJSON;

// The protocol of the reproduced study: every experiment trains this long,
// and the optimizer's schedule spans it by default.
#define PROTOCOL_STEPS OPTIM_DEFAULT_TOTAL_STEPS

typedef struct {
    char source[512];        // the file the config came from
    char experiment[64];     // "gpt2-6m": names results/<experiment>/
    char description[256];
    char model[32];          // a model_spec_by_name() config
    char data_dir[512];      // holds train.bin, val.bin and the vocabulary
    char results_dir[512];   // records go to <results_dir>/<experiment>/
    char backend[8];         // "cpu" or "cuda"
    char precision[8];       // the linear layers' arithmetic: "fp32", "tf32" or "bf16" (kernels/precisions.def)
    int threads;             // OpenMP / OpenBLAS threads; 0 = all cores
    int ranks;               // data-parallel MPI processes (dist.h); 1 = this process alone
    int64_t seed;

    int steps;               // optimizer steps of this run
    int batch_size;          // sequences per step
    int seq_len;             // tokens per sequence (<= the model's max_seq_len)

    // AdamW with linear warmup and cosine decay to min_lr_ratio * lr.
    double lr, min_lr_ratio;
    int warmup_steps;
    double beta1, beta2, eps, weight_decay, grad_clip;

    int log_interval;        // a curve row (and a plain progress line) every N steps
    int eval_interval;       // validation every N steps (and at the end)
    int eval_batches;        // validation batches of batch_size x seq_len; 0 = the whole split
    double eval_max_share;   // most of a run's compute validation may take (eval_budget.h); 1 = no limit
    int eval_patience;       // stop after N validations without a new best; 0 = off
    int checkpoint_interval; // a checkpoint every N steps (and at the end)

    int inference_repeats;   // repeats per measured prefill / decode position
    int sample_count;        // tunes generated for the record at the end
    int sample_max_tokens;
    double sample_temperature;
    int sample_top_k;        // 0 = off
    double sample_top_p;      // 1 = off
    char sample_prompt[256];

    // Which command-line option set each key ("" = the config file, source):
    // errors about a key blame where its value came from.
    char key_origin[40][16];
} ExperimentConfig;

// Built-in defaults (the protocol's; the optimizer's are models/model.h's
// OPTIM_DEFAULT_*); a config file overrides any of them.
void config_defaults(ExperimentConfig *cfg);
// The optimizer settings of a run of cfg: its schedule spans cfg->steps.
void config_optim(const ExperimentConfig *cfg, OptimConfig *oc);
// Reads a config file over the defaults. Returns 0, or -1 with the error set
// ("experiments/x.json: key 'optimizer.lr': expected a number, got a string").
// The file must be one JSON object of UTF-8 text with nothing after it and
// no key twice (lib/json_in.h).
int config_load(ExperimentConfig *cfg, const char *path);
// The same from text[0, len) (need not be NUL-terminated); origin names it.
int config_parse(ExperimentConfig *cfg, const char *text, size_t len, const char *origin);
// Sets one key from text, e.g. config_set(cfg, "steps", "20", "--steps").
// The same type and range checks as the file; `origin` names the source in errors.
int config_set(ExperimentConfig *cfg, const char *key, const char *value, const char *origin);
// Where a key's value came from: "--set", "--steps", ... or the config file.
const char *config_origin(const ExperimentConfig *cfg, const char *key);
// Checks relations between keys (warmup within the run, ...). 0 or -1.
int config_check(const ExperimentConfig *cfg);
// Derives what a shortened run needs: the cosine schedule spans the run's
// steps, the warmup is capped at a tenth of them, and the evaluation,
// checkpoint and log intervals shrink so that a short run is still logged,
// evaluated and checkpointed. Writes one line per change into `notes`
// (a JSON array of strings) when notes != NULL.
void config_resolve(ExperimentConfig *cfg, cJSON *notes);
// The config in its file format (nested objects), every key present.
cJSON *config_to_json(const ExperimentConfig *cfg);
// Reads a config back from config_to_json() output (for --resume).
int config_from_json(ExperimentConfig *cfg, const cJSON *json, const char *origin);
// The keys whose values differ between two configs, as JSON strings
// "key: A -> B" appended to `changes` (skipping `threads`, which may change on
// resume). Returns how many.
int config_diff(const ExperimentConfig *from, const ExperimentConfig *to, cJSON *changes);
// One line per key: name, type, range and meaning (for `tunebench train --help`).
void config_print_keys(FILE *out);

#endif
