// train.c: `tunebench train`, the experiment runner.
//
// One run, top to bottom:
//   1. the config: experiments/<name>.json, then the command-line overrides,
//      then resolution (a short run keeps a complete schedule);
//   2. the data: the tokenizer and the train/validation shards of the corpus;
//   3. the model: created from its named config, initialised from the seed
//      (or loaded from the run's checkpoint with --resume);
//   4. the loop: forward, backward, AdamW, with a validation every
//      eval.interval steps and a checkpoint every checkpoint.interval steps;
//      the record is rewritten atomically at the start and at every
//      validation, so a killed run always leaves a valid record;
//   5. the end: inference timings, memory, sample tunes, status "completed".
//
// Output: <results>/<experiment>/<run-id>.json (the record),
// <results>/<experiment>/<run-id>/ (the latest checkpoint, a directory that
// `tunebench eval --ckpt` and Hugging Face / mamba_ssm loaders read) and
// <results>/<experiment>/<run-id>.best/ (the best so far, best.c).
//
// The run's state (Run) is in run.h; train_loop.c holds the loop (4) with the
// validations and the record's timing, resume.c reads a resumed run's record
// and checks its config, finish.c does the final phase and closing lines.
//
// Exact resume: the checkpoint holds the parameters, the AdamW moments, the
// step and the data loader's generator, and nothing else in the loop is
// random, so on the CPU a resumed run computes the same bits as one that was
// never interrupted (tests/test_train_resume.c kills a real run to check).
#include <cjson/cJSON.h>
#include <math.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../data/shards.h"
#include "../../data/tokenizer.h"
#include "../../models/checkpoint.h"
#include "../../models/model.h"
#include "lib/common.h"
#include "../evaluate.h"
#include "best.h"
#include "config.h"
#include "dist.h"
#include "environment.h"
#include "eval_budget.h"
#include "intro.h"
#include "measure.h"
#include "progress.h"
#include "record.h"
#include "run_files.h"
#include "run.h"
#include "samples.h"
#include "signals.h"

// ---------------------------------------------------------------- arguments

static void usage(FILE *out) {
    fprintf(out,
            "usage: tunebench train --config experiments/NAME.json [options]\n"
            "       tunebench train --resume RESULTS/EXPERIMENT/RUN-ID\n\n"
            "Trains one experiment and writes RESULTS/EXPERIMENT/RUN-ID.json (the run record)\n"
            "and RESULTS/EXPERIMENT/RUN-ID/ (the latest checkpoint).\n\n"
            "options (each overrides the config file; the record lists them):\n"
            "  --steps N          optimizer steps (the protocol is %d)\n"
            "  --batch N          sequences per step\n"
            "  --backend cpu|cuda\n"
            "  --precision fp32|tf32|bf16  the linear layers' GEMMs (bf16: mixed precision, fp32\n"
            "                     master weights; tf32 on CUDA only)\n"
            "  --seed N\n"
            "  --threads N        CPU threads (0 = all cores)\n"
            "  --ranks N          data-parallel over N MPI ranks: mpirun -np N build/tunebench-mpi train ...\n"
            "                     (a GPU per rank: build/tunebench-nccl, make nccl)\n"
            "  --data DIR         corpus folder (train.bin, val.bin, vocab.tok)\n"
            "  --results DIR      where records go (default results)\n"
            "  --set KEY=VALUE    any config key, e.g. --set optimizer.lr=3e-4\n"
            "  --run-id ID        name the run (default: UTC time and seed)\n"
            "  --no-verify-corpus use the corpus files without checking them against its\n"
            "                     manifest.json (the record says so)\n"
            "  --allow-config-change  with --resume: continue although the record's config\n"
            "                     differs from the checkpoint's (the record lists the change)\n\n"
            "SIGINT/SIGTERM finish the step, checkpoint, record status 'interrupted' and exit\n"
            "non-zero; --resume continues bit-identically on the CPU.\n\n"
            "config keys:\n",
            PROTOCOL_STEPS);
    config_print_keys(out);
}

static void join_command(Run *run, int argc, char **argv) {
    size_t used = (size_t)snprintf(run->command, sizeof run->command, "tunebench train");
    for (int i = 1; i < argc && used < sizeof run->command; i++)
        used += (size_t)snprintf(run->command + used, sizeof run->command - used, " %s", argv[i]);
}

// Parses the command line into run->cfg (and resume_dir). 0, 1 (help shown) or -1.
static int parse_args(Run *run, int argc, char **argv, const char **resume_dir, cJSON *overrides) {
    const char *config_path = NULL;
    *resume_dir = NULL;
    // Config file first, overrides after, whatever their order on the line.
    for (int i = 1; i < argc; i++) {
        if (tb_streq(argv[i], "--help") || tb_streq(argv[i], "-h")) {
            usage(stdout);
            return 1;
        }
        if (tb_streq(argv[i], "--config") && i + 1 < argc) config_path = argv[++i];
        else if (tb_streq(argv[i], "--resume") && i + 1 < argc) *resume_dir = argv[++i];
    }
    if (!config_path && !*resume_dir) {
        usage(stderr);
        return tb_error("train: give --config experiments/NAME.json or --resume RUN_DIR");
    }
    if (config_path && *resume_dir) return tb_error("train: --config and --resume exclude each other");
    config_defaults(&run->cfg);
    if (config_path && config_load(&run->cfg, config_path)) return -1;

    static const struct { const char *flag, *key; } flags[] = {
        {"--steps", "steps"}, {"--batch", "batch_size"}, {"--backend", "backend"}, {"--seed", "seed"},
        {"--threads", "threads"}, {"--data", "data"}, {"--results", "results"}, {"--ranks", "ranks"},
        {"--precision", "precision"},
    };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (tb_streq(a, "--config") || tb_streq(a, "--resume")) {
            i++;
            continue;
        }
        size_t f = 0;
        while (f < sizeof flags / sizeof flags[0] && !tb_streq(a, flags[f].flag)) f++;
        if (tb_streq(a, "--no-verify-corpus")) {
            run->verify_corpus = 0;
            continue;
        }
        if (tb_streq(a, "--allow-config-change")) {
            if (!*resume_dir) return tb_error("train: --allow-config-change goes with --resume");
            run->allow_config_change = 1;
            continue;
        }
        if (f == sizeof flags / sizeof flags[0] && !tb_streq(a, "--set") && !tb_streq(a, "--run-id"))
            return tb_error("train: unknown option '%s' (see tunebench train --help)", a);
        if (i + 1 >= argc) return tb_error("train: option %s needs a value (see tunebench train --help)", a);
        const char *value = argv[++i];
        if (tb_streq(a, "--run-id")) {
            if (run_id_check(value, "--run-id")) return -1;
            snprintf(run->run_id, sizeof run->run_id, "%s", value);
            continue;
        }
        char key[128], text[600];
        const char *origin = a;
        if (tb_streq(a, "--set")) {
            const char *eq = strchr(value, '=');
            if (!eq || eq == value) return tb_error("train: --set wants KEY=VALUE, got '%s'", value);
            snprintf(key, sizeof key, "%.*s", (int)(eq - value), value);
            value = eq + 1;
        } else {
            snprintf(key, sizeof key, "%s", flags[f].key);
        }
        if (*resume_dir && !tb_streq(key, "threads"))
            return tb_error("train: %s cannot change a resumed run (it continues with its recorded config)", a);
        if (config_set(&run->cfg, key, value, origin)) return -1;
        if (tb_streq(key, "threads")) run->threads_given = 1;
        snprintf(text, sizeof text, "%s=%s", key, value);
        cJSON_AddItemToArray(overrides, cJSON_CreateString(text));
    }
    return 0;
}

// ---------------------------------------------------------------- data

// Every file of the corpus against its manifest (corpus_verify_file), unless
// --no-verify-corpus. run->verification says what was done, for the record.
static int verify_corpus(Run *run) {
    if (!run->verify_corpus) {
        snprintf(run->verification, sizeof run->verification, "skipped (--no-verify-corpus)");
        return 0;
    }
    static const char *files[] = {CORPUS_TRAIN, CORPUS_VAL, CORPUS_VOCAB};
    int verified = 0;
    double t0 = tb_now_seconds();
    for (int i = 0; i < 3; i++) {
        char path[1100];
        snprintf(path, sizeof path, "%s/%s", run->cfg.data_dir, files[i]);
        int rc = corpus_verify_file(path);
        if (rc < 0) return -1;
        verified += rc == CORPUS_VERIFIED;
    }
    run->verify_s = tb_now_seconds() - t0;
    snprintf(run->verification, sizeof run->verification, "%s",
             verified == 3 ? "manifest" : verified ? "partial (the manifest lists only some files)" : "no manifest");
    return 0;
}

static int open_data(Run *run) {
    const ExperimentConfig *c = &run->cfg;
    char path[1100];
    snprintf(path, sizeof path, "%s/%s", c->data_dir, CORPUS_TRAIN);
    if (!tb_file_exists(path))
        return tb_error("corpus %s is missing %s: run 'make data' (or pass --data DIR of a prepared corpus)",
                        c->data_dir, CORPUS_TRAIN);
    if (verify_corpus(run)) return -1;
    snprintf(path, sizeof path, "%s/%s", c->data_dir, CORPUS_VOCAB);
    run->tok = tok_load(path);
    if (!run->tok) return -1;
    uint64_t hash = tok_hash(run->tok);
    snprintf(path, sizeof path, "%s/%s", c->data_dir, CORPUS_TRAIN);
    if (loader_open(&run->train, path, c->batch_size, c->seq_len, (uint64_t)c->seed)) return -1;
    if (loader_check_tokenizer(&run->train, hash, tok_vocab_size(run->tok))) return -1;
    snprintf(path, sizeof path, "%s/%s", c->data_dir, CORPUS_VAL);
    if (loader_open(&run->val, path, c->batch_size, c->seq_len, (uint64_t)c->seed)) return -1;
    if (loader_check_tokenizer(&run->val, hash, tok_vocab_size(run->tok))) return -1;
    int V = tok_vocab_size(run->tok);
    run->token_bytes = tb_malloc(sizeof(int) * (size_t)V);
    for (int i = 0; i < V; i++) run->token_bytes[i] = tok_token_bytes(run->tok, i);
    return 0;
}

static cJSON *data_json(Run *run) {
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "dir", run->cfg.data_dir);
    char path[1100];
    snprintf(path, sizeof path, "%s/%s", run->cfg.data_dir, CORPUS_MANIFEST);
    size_t len = 0;
    char *manifest = tb_file_exists(path) ? tb_read_file(path, &len) : NULL;
    cJSON_AddItemToObject(d, "manifest_hash",
                          manifest ? record_hash_string(tb_hash64(manifest, len, TB_HASH64_SEED)) : cJSON_CreateNull());
    // The corpus by name, as its manifest states it (null when it has none).
    cJSON *m = manifest ? cJSON_ParseWithLength(manifest, len) : NULL;
    static const char *named[] = {"corpus", "style", "revision"};
    for (int i = 0; i < 3; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, named[i]);
        cJSON_AddItemToObject(d, named[i], cJSON_IsString(v) ? cJSON_CreateString(v->valuestring) : cJSON_CreateNull());
    }
    const cJSON *aug = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(m, "augment"), "kind");
    cJSON_AddItemToObject(d, "augment", cJSON_IsString(aug) ? cJSON_CreateString(aug->valuestring) : cJSON_CreateNull());
    cJSON_Delete(m);
    free(manifest);
    // A check skipped in any segment stays stated.
    const cJSON *before = cJSON_GetObjectItemCaseSensitive(record_section(&run->rec, "data"), "verification");
    int keep = cJSON_IsString(before) && !tb_streq(before->valuestring, "manifest") &&
               tb_streq(run->verification, "manifest");
    cJSON_AddStringToObject(d, "verification", keep ? before->valuestring : run->verification);
    cJSON_AddItemToObject(d, "tokenizer_hash", record_hash_string(tok_hash(run->tok)));
    cJSON_AddNumberToObject(d, "vocab_size", tok_vocab_size(run->tok));
    cJSON_AddNumberToObject(d, "train_tokens", (double)loader_num_tokens(&run->train));
    cJSON_AddNumberToObject(d, "val_tokens", (double)loader_num_tokens(&run->val));
    // Bytes per token of the validation split, the end-of-tune token counting 1.
    double bytes = 0;
    uint64_t n = loader_num_tokens(&run->val);
    for (uint64_t i = 0; i < n; i++) bytes += tok_token_bytes(run->tok, run->val.tokens[i]);
    cJSON_AddNumberToObject(d, "bytes_per_token", n ? bytes / (double)n : 0);
    cJSON_AddNumberToObject(d, "end_of_tune_token", tok_eot_id(run->tok));
    return d;
}

// ---------------------------------------------------------------- model

static cJSON *model_json(const Model *m) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "name", m->spec.name);
    cJSON_AddStringToObject(j, "arch", m->spec.arch);
    cJSON_AddNumberToObject(j, "num_params", (double)m->params.num_params);
    cJSON_AddItemToObject(j, "config", m->vt->config_json(m));
    char summary[64];
    model_spec_summary(&m->spec, summary, sizeof summary);
    cJSON_AddStringToObject(j, "summary", summary);
    cJSON_AddItemToObject(j, "spec", model_spec_json(&m->spec));
    return j;
}

// The model's name and the context it allows, before the corpus is read (the
// vocabulary's size does not change either).
static int check_model(const ExperimentConfig *c) {
    ModelSpec spec;
    if (model_spec_by_name(&spec, c->model, 1)) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", tb_last_error());
        return tb_error("%s: key 'model': %s", config_origin(c, "model"), msg);
    }
    if (c->seq_len > spec.max_seq_len)
        return tb_error("%s: key 'seq_len': %d is longer than %s's context of %d tokens", config_origin(c, "seq_len"),
                        c->seq_len, spec.name, spec.max_seq_len);
    return 0;
}

static int build_model(Run *run, const char *resume_dir, TrainState *ts) {
    const ExperimentConfig *c = &run->cfg;
    const Backend *be = backend_by_name(c->backend);
    if (!be) return -1;
    ModelSpec spec;
    if (check_model(c) || model_spec_by_name(&spec, c->model, tok_vocab_size(run->tok))) return -1;
    run->model = model_create(&spec, be);
    if (!run->model) return -1;
    if (resume_dir) {
        memset(ts, 0, sizeof *ts);
        if (checkpoint_load_into(run->model, resume_dir, ts)) return -1;
    } else {
        run->model->vt->init_weights(run->model, (uint64_t)c->seed);
    }
    return run->model->vt->alloc_activations(run->model, c->batch_size, c->seq_len);
}

// ---------------------------------------------------------------- setup

static void resolve_paths(Run *run) {
    const ExperimentConfig *c = &run->cfg;
    if (!run->run_id[0]) {
        char now[32];
        record_utc_now(now);  // 2025-01-31T12:34:56Z -> 20250131-123456
        snprintf(run->run_id, sizeof run->run_id, "%.4s%.2s%.2s-%.2s%.2s%.2s-s%lld", now, now + 5, now + 8, now + 11,
                 now + 14, now + 17, (long long)c->seed);
    }
    snprintf(run->run_dir, sizeof run->run_dir, "%s/%s/%s", c->results_dir, c->experiment, run->run_id);
    snprintf(run->record_path, sizeof run->record_path, "%s.json", run->run_dir);
}

// ---------------------------------------------------------------- the command

static void run_free(Run *run) {
    dist_end(run->model);  // the other MPI ranks stop before the model goes (dist.h)
    model_destroy(run->model);
    if (run->tok) tok_free(run->tok);
    loader_close(&run->train);
    loader_close(&run->val);
    free(run->inputs);
    free(run->targets);
    free(run->step_ms);
    free(run->token_bytes);
    record_free(&run->rec);
}

// Test-only fault injection, from the environment: a fake NaN loss, a stop
// or a kill at a given step or tick (tests/test_train_*.c, test_stop_signal.sh).
static void read_test_faults(Run *run) {
    const char *fault = getenv("TUNEBENCH_FAULT_NAN_STEP");  // tests only: fake a NaN loss at this step
    run->fault_nan_step = fault ? strtoull(fault, NULL, 10) : 0;
    fault = getenv("TUNEBENCH_FAULT_STOP_STEP");  // tests only: act as if SIGTERM came during this step
    run->fault_stop_step = fault ? strtoull(fault, NULL, 10) : 0;
    fault = getenv("TUNEBENCH_FAULT_KILL_STEP");  // tests only: SIGKILL right after this step's checkpoint
    run->fault_kill_step = fault ? strtoull(fault, NULL, 10) : 0;
    run->fault_kill_final = getenv("TUNEBENCH_FAULT_KILL_FINAL") != NULL;  // tests only: kill -9 in the final phase
    fault = getenv("TUNEBENCH_FAULT_KILL_BEST");  // tests only: kill -9 after this step's best checkpoint
    run->fault_kill_best = fault ? strtoull(fault, NULL, 10) : 0;
    fault = getenv("TUNEBENCH_FAULT_STOP_FINAL");  // tests only: SIGTERM at this tick of the final phase
    run->fault_stop_final = fault ? atoi(fault) : 0;
}

// A resumed run: its state from the checkpoint (ts), its record cut back to
// the checkpoint's step, and its config checked against the record's.
static int resume_run(Run *run, TrainState *ts) {
    const ExperimentConfig *c = &run->cfg;
    if (run_check_resume(&run->rec, ts, run->run_dir)) return -1;
    run->start_step = (int)ts->step;
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(record_section(&run->rec, "identity"), "status");
    if (cJSON_IsString(st) && tb_streq(st->valuestring, "completed")) {
        tb_error("run %s is complete (%d of %d steps, status completed); nothing to resume", run->run_dir,
                 run->start_step, c->steps);
        return -1;
    }
    // Training that ended (all steps, or patience at this checkpoint)
    // leaves only the final phase: the inference timings and the samples.
    const char *reason = record_stop_reason(&run->rec);
    run->training_done = run->start_step >= c->steps ||
                         (reason && tb_streq(reason, "patience") && run->start_step == record_checkpoint_step(&run->rec));
    loader_set_state(&run->train, ts->data_state);
    record_truncate_after(&run->rec, run->start_step);
    record_add_segment(&run->rec, run->start_step, run->command);
    if (run_check_resume_config(run, ts, run->allow_config_change)) return -1;
    if (best_resume(run)) return -1;
    record_set_status(&run->rec, "running", NULL);
    if (!run->training_done) record_set_stop_reason(&run->rec, NULL);
    return 0;
}

// A new run: its folder, lock and record, whose training section takes the
// config, the overrides and the resolution notes (the record owns them after).
static int start_record(Run *run, cJSON *overrides, cJSON *notes) {
    const ExperimentConfig *c = &run->cfg;
    char parent[1100];
    snprintf(parent, sizeof parent, "%s/%s", c->results_dir, c->experiment);
    if (tb_mkdirs(parent) || run_lock(run->run_dir)) return -1;
    if (tb_file_exists(run->record_path)) {  // started by another process meanwhile
        tb_error("run %s exists already: pick another --run-id, or --resume %s", run->record_path, run->run_dir);
        return -1;
    }
    if (tb_mkdirs(run->run_dir)) return -1;
    record_init(&run->rec, run->record_path, c->experiment, run->run_id, run->command);
    best_record(run);
    record_set_section(&run->rec, "model", model_json(run->model));
    cJSON *training = cJSON_CreateObject();
    cJSON_AddItemToObject(training, "config", config_to_json(c));
    cJSON_AddStringToObject(training, "config_file", c->source);
    cJSON_AddItemToObject(training, "overrides", overrides);
    cJSON_AddItemToObject(training, "resolution_notes", notes);
    cJSON_AddNumberToObject(training, "tokens_per_step", (double)c->batch_size * c->seq_len);
    cJSON_AddNumberToObject(training, "protocol_steps", PROTOCOL_STEPS);
    uint64_t train_tokens = loader_num_tokens(&run->train);
    cJSON_AddNumberToObject(training, "epochs", intro_epochs(c->steps, (double)c->batch_size * c->seq_len, train_tokens));
    cJSON_AddNumberToObject(training, "protocol_epochs",
                            intro_epochs(PROTOCOL_STEPS, (double)c->batch_size * c->seq_len, train_tokens));
    cJSON_AddItemToObject(training, "validation_plan", eval_plan_json(&run->plan));
    record_set_section(&run->rec, "training", training);
    return 0;
}

// A resumed run must see the data it started on, or it is another run.
static int check_same_data(Run *run, const cJSON *data) {
    const ExperimentConfig *c = &run->cfg;
    const cJSON *old = record_section(&run->rec, "data");
    static const char *same[] = {"tokenizer_hash", "train_tokens", "val_tokens"};
    for (int i = 0; i < 3; i++) {
        if (!cJSON_Compare(cJSON_GetObjectItemCaseSensitive(old, same[i]),
                           cJSON_GetObjectItemCaseSensitive(data, same[i]), 1)) {
            tb_error("--resume %s: the corpus %s changed since the run started (%s differs); resume with the "
                     "original corpus or start a new run", run->run_dir, c->data_dir, same[i]);
            return -1;
        }
    }
    return 0;
}

// The run's opening lines: model, backend, threads, record, corpus check, plan.
static void print_intro(Run *run, int resumed) {
    const ExperimentConfig *c = &run->cfg;
    char summary[64];
    model_spec_summary(&run->model->spec, summary, sizeof summary);
    // The model's name only where the experiment's does not already say it.
    char model_name[40] = "";
    if (!tb_streq(c->model, c->experiment)) snprintf(model_name, sizeof model_name, "%s: ", c->model);
    char precision[48] = "";  // said where it is not the reference
    if (!tb_streq(c->precision, PRECISION_DEFAULT_NAME))
        snprintf(precision, sizeof precision, " (%s linear layers)", c->precision);
    progress_note(&run->progress,
                  "tunebench train: %s (%s%s %d layers, %s, %zu parameters) on %s%s, %d threads; %s %d of %d steps",
                  c->experiment, model_name, run->model->arch->title, run->model->spec.n_layer, summary,
                  run->model->params.num_params, c->backend, precision, tb_num_threads(),
                  resumed ? "resuming after step" : "starting at step", run->start_step, c->steps);
    char policy[300];
    environment_thread_policy(policy, sizeof policy);
    progress_note(&run->progress, "%s", policy);
    progress_note(&run->progress, "record: %s", run->record_path);
    if (tb_streq(run->verification, "manifest"))
        progress_note(&run->progress, "corpus: every file matches its manifest (checked in %.0f ms; "
                      "--no-verify-corpus skips the check)", 1e3 * run->verify_s);
    else
        progress_note(&run->progress, "corpus: not checked against a manifest: %s", run->verification);
    intro_print(&run->progress, c, &run->plan,
                cJSON_GetObjectItemCaseSensitive(record_section(&run->rec, "training"), "resolution_notes"),
                loader_num_tokens(&run->train));
    if (run->model->be->on_host && c->steps > 2000)
        progress_note(&run->progress, "on the CPU this takes hours to days; the ETA follows after the first steps "
                                      "(STEPS=N shortens a run, e.g. make exp-%s STEPS=200)", c->experiment);

    if (run->training_done)
        progress_note(&run->progress, "the training ended at step %d (%s); only the final phase is left", run->start_step,
                      record_stop_reason(&run->rec) ? record_stop_reason(&run->rec) : "all steps done");
}

// Before anything is read or built: a precision this machine lacks is refused at once.
static int set_precision(const Backend *be, const ExperimentConfig *c) {
    int precision = precision_by_name(c->precision);
    if (precision >= 0 && be->set_precision((Precision)precision) == 0) return 0;
    char msg[600];
    snprintf(msg, sizeof msg, "%s", tb_last_error());
    return tb_error("%s: key 'precision': %s", config_origin(c, "precision"), msg);
}

// The validation before the first step anchors the curve at the initial loss.
static int validate_step0(Run *run) {
    double te = tb_now_seconds(), vloss, vbpb;
    long long vtokens;
    if (run_evaluate_val(run, 0, &vloss, &vbpb, &vtokens)) return 1;
    run->eval_s += tb_now_seconds() - te;
    record_add_validation_row(&run->rec, 0, vloss, vbpb, run_wall_seconds(run), 0, vtokens);
    progress_note(&run->progress, "step 0: validation loss %.4f, %.4f bits per byte", vloss, vbpb);
    return 0;
}

int cmd_train(int argc, char **argv) {
    signals_install();  // first: before any thread, backend or file (signals.h)
    if (dist_start()) return dist_follow();  // MPI ranks 1..N-1 only compute gradients (dist.h)
    Run *run = tb_calloc(1, sizeof *run);
    run->median_before = NAN;
    cJSON *overrides = cJSON_CreateArray();
    const char *resume_dir = NULL;
    int status = 1;
    run->verify_corpus = 1;
    join_command(run, argc, argv);
    int parsed = parse_args(run, argc, argv, &resume_dir, overrides);
    if (parsed != 0) {
        cJSON_Delete(overrides);
        free(run);
        if (parsed < 0) tb_report();
        return parsed < 0 ? 2 : 0;
    }
    read_test_faults(run);
    ExperimentConfig *c = &run->cfg;
    cJSON *notes = cJSON_CreateArray();
    TrainState ts;
    memset(&ts, 0, sizeof ts);
    int protocol_eval_interval = c->eval_interval;  // the 100k projection validates at the file's interval
    if (resume_dir) {
        if (run_locate_resume(run, resume_dir) || run_lock(run->run_dir) || check_model(c)) goto fail;
    } else {
        config_resolve(c, notes);
        if (config_check(c) || check_model(c)) goto fail;
        resolve_paths(run);
        if (tb_file_exists(run->record_path)) {
            tb_error("run %s exists already: pick another --run-id, or --resume %s", run->record_path, run->run_dir);
            goto fail;
        }
        // The run's lock is taken once the corpus and the model are ready,
        // just before its first file: a start that fails leaves nothing behind.
    }
    snprintf(run->best_dir, sizeof run->best_dir, "%s.best", run->run_dir);
    run->best_step = -1, run->best_loss = INFINITY;
    run_set_oom_hint(c->batch_size);
    const Backend *be = backend_by_name(c->backend);
    if (!be) goto fail;
    be->set_threads(c->threads);
    if (set_precision(be, c)) goto fail;
    progress_init(&run->progress, stdout, c->steps, c->log_interval * 10 > 0 ? c->log_interval * 10 : 1);
    progress_status(&run->progress, 1, "loading the corpus %s and building %s", c->data_dir, c->model);
    if (open_data(run)) goto fail;
    if (resume_dir) eval_plan_load(&run->plan, record_section(&run->rec, "training"), c, loader_num_tokens(&run->val));
    else eval_budget_apply(&run->plan, c, loader_num_tokens(&run->val), protocol_eval_interval, notes);
    if (build_model(run, resume_dir ? run->run_dir : NULL, &ts)) goto fail;
    // The settings used only at the end are checked before the first step.
    if (samples_check(run->model, run->tok, c)) goto fail;
    if (getenv("TUNEBENCH_FAULT_SIGNAL_SETUP")) kill(getpid(), SIGTERM);  // tests: a signal during the setup
    run->costs.ckpt_bytes = 3.0 * sizeof(float) * (double)run->model->params.num_params;  // weights and two AdamW moments
    run->costs.context = run->model->spec.max_seq_len;
    run->inputs = tb_malloc(sizeof(int32_t) * (size_t)c->batch_size * c->seq_len);
    run->targets = tb_malloc(sizeof(int32_t) * (size_t)c->batch_size * c->seq_len);
    if (dist_setup(run->model, c->model, c->backend, c->batch_size, c->seq_len, c->threads, c->ranks)) goto fail;

    config_optim(c, &run->optim);

    if (resume_dir) {
        if (resume_run(run, &ts)) goto fail;
    } else {
        if (start_record(run, overrides, notes)) goto fail;
        overrides = notes = NULL;  // the record holds them
    }
    cJSON *env = environment_json(c->backend);
    dist_describe(env);  // the data-parallel ranks and transport, if any
    record_set_section(&run->rec, "environment", env);
    cJSON *data = data_json(run);
    if (resume_dir && check_same_data(run, data)) {
        cJSON_Delete(data);
        goto fail;
    }
    record_set_section(&run->rec, "data", data);
    run->step_ms = tb_malloc(sizeof(double) * (size_t)(c->steps - run->start_step + 1));
    run->t_start = tb_now_seconds();
    tb_cpu_sample(&run->cpu_start);

    print_intro(run, resume_dir != NULL);
    if (!resume_dir && validate_step0(run)) goto fail;
    if (run_write_record(run, run->start_step)) goto fail;

    int last_step = run->start_step;
    RunEnd end = run->training_done ? END_COMPLETED : train_loop(run, &last_step);
    dist_end(run->model);  // the other MPI ranks are not needed after the last step
    if (end == END_ERROR) goto fail;
    if (end == END_COMPLETED) end = run_final_phase(run);
    if (end == END_ERROR) goto fail;
    if (end == END_COMPLETED) record_set_status(&run->rec, "completed", NULL);
    if (run_write_record(run, last_step)) goto fail;
    status = end == END_COMPLETED ? 0 : end == END_DIVERGED ? EXIT_DIVERGED : 128 + run->stop_signal;
    if (end == END_COMPLETED) run_closing_lines(run, last_step);
    cJSON_Delete(overrides);  // NULL when the record took them (a new run)
    cJSON_Delete(notes);
    run_free(run);
    free(run);
    return status;

fail:
    progress_close(&run->progress);
    tb_report();
    // The record (if one was started) says how the run ended.
    if (run->record_started) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", tb_last_error());
        record_set_status(&run->rec, "interrupted", msg);
        if (!record_stop_reason(&run->rec)) record_set_stop_reason(&run->rec, "error");
        record_write(&run->rec);
    }
    cJSON_Delete(overrides);
    cJSON_Delete(notes);
    run_free(run);
    free(run);
    return 1;
}
