// music_eval.h: scoring a set of tunes (a folder or one ABC file) into JSON.
#ifndef TB_MUSIC_EVAL_H
#define TB_MUSIC_EVAL_H

#include <stddef.h>

typedef struct cJSON cJSON;

typedef struct {
    const char *input;  // a folder of *.abc files, or one ABC file
    const char *train;  // training split (ABC, many tunes) for novelty; NULL to skip
    const char *ref;    // reference tunes (folder or file) for distributions; NULL to skip
    const char *label;
    int use_abc2midi;
    int max_tunes;      // 0: all
} MusicEvalOptions;

// The JSON record (schema "tunebench.music_metrics.v1"): label, inputs,
// "summary" (aggregates), "vs_reference" (length and range distributions),
// "tunes" (one object per tune). NULL with the error set on failure.
cJSON *music_evaluate(const MusicEvalOptions *opt);

// Calls fn(text, len, source_name, ctx) for each tune under path (a folder's
// *.abc files in name order, or one file). Returns the number of tunes, or
// -1 with the error set when the path cannot be read.
typedef void (*MusicTuneFn)(const char *text, size_t len, const char *source, int index, void *ctx);
int music_for_each_tune(const char *path, MusicTuneFn fn, void *ctx);

#endif
