// record.h: the run record, results/<experiment>/<run-id>.json.
//
// Its schema (version RECORD_SCHEMA_VERSION) is documented in
// results/README.md and checked by results/schema/run-record.schema.json.
// The record is a cJSON tree held for the whole run and rewritten atomically
// (temporary file, then rename) at the start, at every evaluation, before
// every checkpoint (with the curve rows up to it) and at the end, so a run
// killed at any moment leaves a complete record that reaches at least as far
// as its checkpoint.
#ifndef TB_RUNNER_RECORD_H
#define TB_RUNNER_RECORD_H

#include <stddef.h>

typedef struct cJSON cJSON;

#define RECORD_SCHEMA_VERSION 1

typedef struct {
    cJSON *root;
    char path[1024];
} RunRecord;

// A new record with every section present (empty or null) and status "running".
void record_init(RunRecord *rec, const char *path, const char *experiment, const char *run_id,
                 const char *command);
// Loads an existing record (for --resume); checks its schema version.
int record_load(RunRecord *rec, const char *path);
void record_free(RunRecord *rec);

// Top-level section by name ("timing", "identity", ...); replaces it.
void record_set_section(RunRecord *rec, const char *name, cJSON *section);
cJSON *record_section(const RunRecord *rec, const char *name);

// identity.status and, when the run ends, identity.ended_at. message may be NULL.
void record_set_status(RunRecord *rec, const char *status, const char *message);
// identity.stop_reason: why the training loop ended ("steps_done",
// "patience", "signal", "diverged", "error"); NULL sets null (running).
void record_set_stop_reason(RunRecord *rec, const char *reason);
// identity.stop_reason, or NULL when null or absent.
const char *record_stop_reason(const RunRecord *rec);
// A resumed run adds a segment {started_at, start_step, command}.
void record_add_segment(RunRecord *rec, int start_step, const char *command);
// Adds key = value to the latest segment (e.g. the config keys a resume changed).
void record_segment_set(RunRecord *rec, const char *key, cJSON *value);
// identity.checkpoint_step (and checkpoint_dir); step -1 sets null (none yet).
void record_set_checkpoint(RunRecord *rec, const char *dir, int step);
// identity.checkpoint_step, or -1 when null.
int record_checkpoint_step(const RunRecord *rec);

void record_add_curve_row(RunRecord *rec, int step, double train_loss, double lr, double grad_norm,
                          double step_ms, double tokens_per_s);
// elapsed_s is the run's wall clock so far; train_s its training steps'
// seconds so far (validations and checkpoints excluded), the time axis that
// puts runs on an equal footing.
void record_add_validation_row(RunRecord *rec, int step, double loss, double bpb, double elapsed_s,
                               double train_s, long long tokens);
// Drops curve and validation rows after `step` (a resumed run redoes them).
void record_truncate_after(RunRecord *rec, int step);

// Writes the record atomically (updates identity.updated_at first).
int record_write(RunRecord *rec);

// "2025-01-31T12:34:56Z" (UTC, 20 characters plus NUL).
void record_utc_now(char out[32]);
// A JSON string for a 64-bit hash: 16 hex digits.
cJSON *record_hash_string(unsigned long long hash);

#endif
