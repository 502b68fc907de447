// records.h: finding and reading run records for the plot and table tools.
//
// A records folder holds <experiment>/<run-id>.json files (results/ or
// results/reference/). For each experiment the tools use one record: the
// completed run with the most steps, else the run with the most steps, the
// latest start breaking ties. The order is the paper's: by size (6M models,
// then 60M), and within a size in the registry's order of architectures
// (models/architectures.def), so matched models sit side by side.
#ifndef TB_PLOTS_RECORDS_H
#define TB_PLOTS_RECORDS_H

typedef struct cJSON cJSON;

#define MAX_EXPERIMENTS 32

typedef struct {
    char experiment[64];
    char path[2100];
    cJSON *root;
} Record;

typedef struct {
    Record runs[MAX_EXPERIMENTS];
    int count;
} RecordSet;

// Reads every record under dir and keeps one per experiment. 0 or -1 (error set).
// A folder without records is not an error (count 0).
int records_load(RecordSet *set, const char *dir);
void records_free(RecordSet *set);

// Path lookup: records_get(r->root, "timing.median_step_ms"). NULL if absent.
const cJSON *records_get(const cJSON *root, const char *dotted);
// The number at a path, or NAN when absent or null.
double records_num(const cJSON *root, const char *dotted);
// The string at a path, or the fallback.
const char *records_str(const cJSON *root, const char *dotted, const char *fallback);
// "GPT-2 6M", "Mamba 60M": the architecture's title and the experiment's
// size; the experiment's name if it is not <arch>-<size>.
void records_label(const Record *r, char *out, int cap);
// The run's colour in every figure ("#rrggbb"): one hue per architecture, a
// darker shade for its larger model.
const char *records_colour(const RecordSet *set, int index);

#endif
