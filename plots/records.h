// records.h: finding and reading run records for the plot and table tools.
//
// A records folder holds <experiment>/<run-id>.json files (results/ or
// results/reference/). For each experiment the tools use one record per
// seed (training.config.seed): of a seed's runs, the completed run with the
// most steps, else the run with the most steps, the latest start breaking
// ties. The seeds of an experiment must be runs of the same configuration
// (model, data, steps, batch, context, optimizer, precision): the configuration with
// the most seeds (among equals, the best run's) is kept, a record of another
// is left out, and a line on stderr says so.
// The order is the paper's: by size (6M models, then 60M), and within a size
// in the registry's order of architectures (models/architectures.def), so
// matched models sit side by side.
#ifndef TB_PLOTS_RECORDS_H
#define TB_PLOTS_RECORDS_H

typedef struct cJSON cJSON;

#define MAX_EXPERIMENTS 32
#define MAX_SEEDS 16

typedef struct {
    char experiment[64];
    char path[2100];             // the lowest seed's record
    cJSON *root;                 // == seeds[0]
    int n_seeds;
    cJSON *seeds[MAX_SEEDS];     // one record per seed, by ascending seed
    char seed_paths[MAX_SEEDS][2100];
} Record;

typedef struct {
    Record runs[MAX_EXPERIMENTS];
    int count;
} RecordSet;

// Reads every record under dir and keeps one per experiment and seed. 0 or
// -1 (error set). A folder without records is not an error (count 0).
int records_load(RecordSet *set, const char *dir);
void records_free(RecordSet *set);

// Path lookup: records_get(r->root, "timing.median_step_ms"). NULL if absent.
const cJSON *records_get(const cJSON *root, const char *dotted);
// The number at a path, or NAN when absent or null.
double records_num(const cJSON *root, const char *dotted);
// The string at a path, or the fallback.
const char *records_str(const cJSON *root, const char *dotted, const char *fallback);
// "GPT-2 6M", "Mamba 60M": the architecture's title and the experiment's
// size; the experiment's name if it is not <arch>-<size>. A run in a
// precision other than fp32 says so: "GPT-2 6M bf16".
void records_label(const Record *r, char *out, int cap);
// The precision its linear layers trained in (training.config.precision;
// fp32 in records from before the key). Seeds of one experiment share it.
const char *records_precision(const cJSON *root);
// The same as records_label from an experiment's name and its architecture's.
void records_label_name(const char *experiment, const char *arch, char *out, int cap);
// The run's colour in every figure ("#rrggbb"): one hue per architecture, a
// darker shade for its larger model.
const char *records_colour(const RecordSet *set, int index);
// The colour of an architecture's smaller (large = 0) or larger model.
const char *records_colour_of(const char *arch, int large);
// The parameter count's order of magnitude (7 for the 6M models, 8 for 60M).
double records_size_class(const cJSON *root);

// ---------------------------------------------------------------- over seeds
// A value over an experiment's seeds: mean, sample standard deviation (NAN
// for one value), min and max of the finite values; n counts them and
// missing the seeds without one (a diverged run's null loss).
typedef struct {
    double mean, sd, min, max;
    int n, missing;
} SeedStat;

SeedStat seed_stat(const double *x, int count);
// The statistic of one record value over the experiment's seeds.
SeedStat records_seed_stat(const Record *r, double (*value)(const cJSON *root));
SeedStat records_seed_stat_path(const Record *r, const char *dotted);

// The final and the lowest validation bits per byte of a record (NAN when
// it has none, or when the last one is null: a diverged run).
double records_final_bpb(const cJSON *root);
double records_best_bpb(const cJSON *root);

// Two experiments' means differ beyond the spread over seeds when both have
// at least two seeds and their min-max ranges do not overlap: 1 beyond, 0
// within, -1 when a side has fewer than two seeds (no spread measured).
int seed_stat_separated(const SeedStat *a, const SeedStat *b);

// The distinct CPU models and commits of every record of the set (at most
// cap of each are named in the strings, "; "-separated). Returns how many
// distinct hosts and commits there are through *hosts and *commits.
void records_provenance(const RecordSet *set, int *hosts, char *host_list, int host_cap, int *commits,
                        char *commit_list, int commit_cap);

// The learning-rate sweeps of a sweep folder (src/sweep.c's <experiment>.json
// files: an experiment, its runs and its rule), by file name; other JSON
// files are left out, and a missing folder has none.
typedef struct {
    int count;
    cJSON *roots[MAX_EXPERIMENTS];
    char *paths[MAX_EXPERIMENTS];
} SweepSet;
void records_load_sweeps(SweepSet *set, const char *dir);
void records_free_sweeps(SweepSet *set);

typedef struct {
    int hosts, commits;
    char host_list[512], commit_list[256];
} Provenance;
// A plot or table tool, as its messages name it.
typedef struct {
    const char *prog;   // "plot_data"
    const char *usage;  // the usage lines, for wrong arguments
    int extra;          // how many arguments it takes after OUT_DIR, at most
    const char *verb;   // what it does with the records ("plot")
    const char *shown;  // what says so when they are mixed ("every figure")
} RecordsTool;
// The preamble of a plot or table tool, whose arguments are [--allow-mixed]
// RECORDS_DIR OUT_DIR and up to tool->extra more: the records under
// RECORDS_DIR load, there is at least one, and they come from one CPU model
// and one commit (or --allow-mixed); then it makes OUT_DIR. *argc and *argv
// are left past --allow-mixed. TB_COMMAND_GO_ON, or the exit code after the
// usage or one line on stderr.
int records_command_start(const RecordsTool *tool, int *argc, char ***argv, RecordSet *set, Provenance *p);

#endif
