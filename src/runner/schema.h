// schema.h: validation of run records against results/schema/run-record.schema.json,
// a small subset of JSON Schema (see schema.c for the keywords it knows).
#ifndef TB_RUNNER_SCHEMA_H
#define TB_RUNNER_SCHEMA_H

typedef struct cJSON cJSON;

// The schema every record of this version must match.
#define RECORD_SCHEMA_PATH "results/schema/run-record.schema.json"

// 0 if doc matches schema; otherwise -1 with the error naming the first
// offending path ("$.timing.median_step_ms: expected number, got string").
int schema_validate(const cJSON *schema, const cJSON *doc);
// The same for two files; the error names the record file.
int schema_validate_file(const char *doc_path, const char *schema_path);

#endif
