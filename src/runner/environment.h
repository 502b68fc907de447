// environment.h: what a run ran on, for the record's "environment" section.
#ifndef TB_RUNNER_ENVIRONMENT_H
#define TB_RUNNER_ENVIRONMENT_H

#include <stddef.h>

typedef struct cJSON cJSON;

// git commit and dirty flag (null outside a git checkout), compiler and
// flags, CPU model, threads, BLAS, backend, GPU name (null on the CPU), OS.
cJSON *environment_json(const char *backend_name);
// One line on what idle OpenMP threads do between parallel regions (the
// wait policy this process runs under) and how to change it.
void environment_thread_policy(char *out, size_t cap);
// Peak resident set size of this process, in bytes.
size_t environment_peak_rss_bytes(void);

#endif
