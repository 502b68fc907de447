// prepare.c: `tunebench prepare`: ABC files to a tokenizer and token shards.
//
// For each output style (raw, irishman) it writes, into OUT/<style>/:
//   vocab.tok            the tokenizer, learned on this style's training split
//   train.bin, val.bin   token shards: each tune's tokens, then end-of-tune
//   train.abc, val.abc   the prepared tunes as text, blank-line separated
//   manifest.json        what went in and what came out, with the size and
//                        FNV-1a hash of every file above
// All or nothing: a style is built in a temporary folder beside it
// (OUT/<style>.tmp.<pid>) and renamed into place whole (tb_replace_dir), so a
// prepare that fails (a full disk, a kill) leaves the previous corpus as it
// was, never a new vocab.tok beside old shards.
//
// The split is by tune, from a hash of each tune's note content and the seed
// (corpus_is_val), computed on the tune as found, so that a tune and its
// duplicates land on the same side, in both styles.
//
// Re-running with the same inputs and options is a no-op: the manifest
// records a fingerprint of both, checked before any work, and every file is
// checked against the manifest's size and hash, so a damaged or mixed corpus
// is rebuilt rather than called up to date.
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/common.h"
#include "corpus.h"
#include "shards.h"
#include "tokenizer.h"

#define PREPARE_FORMAT 1  // bump when the output for the same input changes

// The files of a style folder that the manifest vouches for.
static const char *const output_files[] = {"vocab.tok", "train.bin", "val.bin", "train.abc", "val.abc"};
#define NUM_OUTPUT_FILES 5

typedef struct {
    char **paths;
    int *collection;
    size_t count, cap;
    char **collections;
    int num_collections;
} InputList;

static int collection_index(InputList *in, const char *name) {
    for (int i = 0; i < in->num_collections; i++)
        if (strcmp(in->collections[i], name) == 0) return i;
    in->collections = realloc(in->collections, (size_t)(in->num_collections + 1) * sizeof(char *));
    if (!in->collections) tb_die("out of memory");
    in->collections[in->num_collections] = tb_strdup(name);
    return in->num_collections++;
}

static int has_suffix(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

static void add_input(InputList *in, const char *path, const char *collection) {
    if (in->count == in->cap) {
        in->cap = in->cap ? in->cap * 2 : 256;
        in->paths = realloc(in->paths, in->cap * sizeof *in->paths);
        in->collection = realloc(in->collection, in->cap * sizeof *in->collection);
        if (!in->paths || !in->collection) tb_die("out of memory");
    }
    in->paths[in->count] = tb_strdup(path);
    in->collection[in->count] = collection_index(in, collection);
    in->count++;
}

static int compare_strings(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

// Adds the .abc and .json files under dir (sorted, recursive). The
// collection is the first folder below the root, or the root's own name.
static int walk(InputList *in, const char *dir, const char *collection, int depth) {
    if (depth > 16) return tb_error("folders nested too deeply under %s", dir);
    DIR *d = opendir(dir);
    if (!d) return tb_error("cannot open folder %s", dir);
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            names = realloc(names, cap * sizeof *names);
            if (!names) tb_die("out of memory");
        }
        names[n++] = tb_strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, compare_strings);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%.4000s/%s", dir, names[i]);
        if (rc == 0) {
            if (tb_dir_exists(path)) rc = walk(in, path, depth == 0 ? names[i] : collection, depth + 1);
            else if (has_suffix(names[i], ".abc") || has_suffix(names[i], ".json"))
                add_input(in, path, collection);
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static int gather_inputs(InputList *in, char **args, int n) {
    for (int i = 0; i < n; i++) {
        char root[4096];
        snprintf(root, sizeof root, "%s", args[i]);
        size_t len = strlen(root);
        while (len > 1 && root[len - 1] == '/') root[--len] = '\0';
        if (tb_dir_exists(root)) {
            if (walk(in, root, base_name(root), 0) != 0) return -1;
        } else if (tb_file_exists(root)) {
            char parent[4096];
            snprintf(parent, sizeof parent, "%s", root);
            char *slash = strrchr(parent, '/');
            const char *collection = slash ? (*slash = '\0', base_name(parent)) : ".";
            add_input(in, root, has_suffix(root, ".json") ? base_name(root) : collection);
        } else {
            return tb_error("input %s does not exist (give .abc files, .json files or folders)", root);
        }
    }
    if (in->count == 0) return tb_error("no .abc or .json files found in the inputs");
    return 0;
}

// ---------------------------------------------------------------- per style

typedef struct {
    const char *style;      // "raw" or "irishman"
    int bytes_mode;
    uint64_t seed;
    double val_fraction;
    const char *out_dir;    // OUT/<style>[-bytes]
    uint64_t input_hash;
    cJSON *source;          // borrowed
    const InputList *inputs;
    const size_t *file_bytes, *file_tunes;
} StyleJob;

static char *hex64(char buf[17], uint64_t v) {
    snprintf(buf, 17, "%016llx", (unsigned long long)v);
    return buf;
}

// {"bytes": N, "fnv1a64": "<16 hex digits>"} of a file, or NULL if unreadable.
static cJSON *file_fingerprint(const char *path) {
    size_t len;
    char *data = tb_read_file(path, &len);
    if (!data) return NULL;
    char hex[17];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "bytes", (double)len);
    cJSON_AddStringToObject(o, "fnv1a64", hex64(hex, tb_hash64(data, len, TB_HASH64_SEED)));
    free(data);
    return o;
}

// Up to date: the manifest's fingerprint of the inputs and options matches,
// and every file matches the manifest's size and hash.
static int up_to_date(const char *dir, uint64_t input_hash) {
    char path[4200];
    snprintf(path, sizeof path, "%.4000s/manifest.json", dir);
    size_t len;
    char *text = tb_file_exists(path) ? tb_read_file(path, &len) : NULL;
    if (!text) return 0;
    cJSON *m = cJSON_Parse(text);
    free(text);
    char want[17];
    hex64(want, input_hash);
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(m, "input_hash");
    const cJSON *outputs = cJSON_GetObjectItemCaseSensitive(m, "outputs");
    int ok = cJSON_IsString(h) && strcmp(h->valuestring, want) == 0 && cJSON_IsObject(outputs);
    for (int i = 0; ok && i < NUM_OUTPUT_FILES; i++) {
        snprintf(path, sizeof path, "%.4000s/%s", dir, output_files[i]);
        cJSON *got = tb_file_exists(path) ? file_fingerprint(path) : NULL;
        ok = got && cJSON_Compare(got, cJSON_GetObjectItemCaseSensitive(outputs, output_files[i]), 1);
        cJSON_Delete(got);
    }
    cJSON_Delete(m);
    tb_clear_error();
    return ok;
}

// Removes what killed prepares left beside dir: <dir>.tmp.<pid> and
// <dir>.old.<pid> folders whose process is gone.
static void remove_stale_builds(const char *dir) {
    char parent[4200], base[4200];
    snprintf(parent, sizeof parent, "%.4000s", dir);
    char *slash = strrchr(parent, '/');
    if (slash) {
        snprintf(base, sizeof base, "%.4000s", slash + 1);
        *slash = '\0';
    } else {
        snprintf(base, sizeof base, "%.4000s", parent);
        snprintf(parent, sizeof parent, ".");
    }
    DIR *d = opendir(parent);
    if (!d) return;
    size_t n = strlen(base);
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *rest = e->d_name + n;
        if (strncmp(e->d_name, base, n) != 0 || (strncmp(rest, ".tmp.", 5) != 0 && strncmp(rest, ".old.", 5) != 0))
            continue;
        char *end = NULL;
        long pid = strtol(rest + 5, &end, 10);
        if (!end || *end || pid <= 0 || (kill((pid_t)pid, 0) != 0 && errno == ESRCH)) {
            char path[4200 + 300];
            snprintf(path, sizeof path, "%.4000s/%.255s", parent, e->d_name);
            tb_remove_flat_dir(path);
        }
    }
    closedir(d);
}

static void shuffle(size_t *idx, size_t n, uint64_t seed) {
    Rng rng;
    rng_seed(&rng, seed);
    for (size_t i = n; i > 1; i--) {
        size_t j = rng_below(&rng, (uint32_t)i);
        size_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}

typedef struct {
    uint64_t tunes, bytes, tokens;  // tokens include one end-of-tune per tune
} SplitStats;

// Encodes the tunes idx[0..n) into one shard and one text file.
static int write_split(const StyleJob *job, const char *name, const Tokenizer *tok, char **texts,
                       const size_t *lens, const size_t *idx, size_t n, SplitStats *st) {
    size_t total_bytes = 0;
    for (size_t i = 0; i < n; i++) total_bytes += lens[idx[i]];
    uint16_t *tokens = tb_malloc((total_bytes + n + 1) * sizeof *tokens);
    size_t count = 0;
    AtomicFile af;
    char path[4200];
    snprintf(path, sizeof path, "%.4000s/%s.abc", job->out_dir, name);
    FILE *fp = atomic_open(&af, path);
    if (!fp) {
        free(tokens);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const char *t = texts[idx[i]];
        size_t len = lens[idx[i]];
        count += tok_encode(tok, t, len, tokens + count, len);
        tokens[count++] = (uint16_t)tok_eot_id(tok);
        fwrite(t, 1, len, fp);
        fputc('\n', fp);
    }
    if (atomic_commit(&af) != 0) {
        free(tokens);
        return -1;
    }
    ShardHeader h = {SHARD_VERSION, (uint32_t)tok_vocab_size(tok), count, tok_hash(tok),
                     (uint32_t)tok_eot_id(tok), (uint32_t)n};
    snprintf(path, sizeof path, "%.4000s/%s.bin", job->out_dir, name);
    int rc = shard_write(path, &h, tokens);
    free(tokens);
    st->tunes = n;
    st->bytes = total_bytes;
    st->tokens = count;
    return rc;
}

static cJSON *split_json(const SplitStats *st, const char *file) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "file", file);
    cJSON_AddNumberToObject(o, "tunes", (double)st->tunes);
    cJSON_AddNumberToObject(o, "bytes", (double)st->bytes);
    cJSON_AddNumberToObject(o, "tokens", (double)st->tokens);
    uint64_t text_tokens = st->tokens - st->tunes;  // without end-of-tune
    cJSON_AddNumberToObject(o, "bytes_per_token",
                            text_tokens ? (double)st->bytes / (double)text_tokens : 0.0);
    return o;
}

static int compare_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static int build_style(const StyleJob *job, const TuneSet *found);

// Builds the style in <out_dir>.tmp.<pid>, then puts it in place whole.
static int run_style(const StyleJob *job, const TuneSet *found) {
    remove_stale_builds(job->out_dir);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%.4000s.tmp.%ld", job->out_dir, (long)getpid());
    if (tb_remove_flat_dir(tmp) != 0 || tb_mkdirs(tmp) != 0) return -1;
    StyleJob in_tmp = *job;
    in_tmp.out_dir = tmp;
    if (build_style(&in_tmp, found) != 0) {
        char saved[1024];
        snprintf(saved, sizeof saved, "%s", tb_last_error());
        tb_remove_flat_dir(tmp);
        return tb_error("%s (the corpus in %s is unchanged)", saved, job->out_dir);
    }
    return tb_replace_dir(tmp, job->out_dir);
}

static int build_style(const StyleJob *job, const TuneSet *found) {
    int irish = strcmp(job->style, "irishman") == 0;
    size_t n = found->count;
    char **texts = tb_calloc(n + 1, sizeof *texts);
    size_t *lens = tb_calloc(n + 1, sizeof *lens);
    uint64_t *keys = tb_calloc(n + 1, sizeof *keys);
    int *coll = tb_calloc(n + 1, sizeof *coll);
    uint64_t skipped[SKIP_REASON_COUNT];
    memcpy(skipped, found->skipped, sizeof skipped);
    size_t kept = 0, tail_dropped = 0;
    for (size_t i = 0; i < n; i++) {
        const Tune *t = &found->tunes[i];
        if (irish) {
            SkipReason why;
            size_t dropped;
            char *s = corpus_irishman(t->text, t->len, &lens[kept], &why, &dropped);
            if (!s) {
                skipped[why]++;
                continue;
            }
            texts[kept] = s;
            tail_dropped += dropped;
        } else {
            texts[kept] = tb_malloc(t->len + 1);
            memcpy(texts[kept], t->text, t->len + 1);
            lens[kept] = t->len;
        }
        keys[kept] = t->music_key;
        coll[kept] = t->collection;
        kept++;
    }
    size_t *train = tb_malloc((kept + 1) * sizeof *train), *val = tb_malloc((kept + 1) * sizeof *val);
    size_t ntrain = 0, nval = 0;
    for (size_t i = 0; i < kept; i++) {
        if (corpus_is_val(keys[i], job->seed, job->val_fraction)) val[nval++] = i;
        else train[ntrain++] = i;
    }
    // Duplicates: tunes whose note content was seen before.
    uint64_t *sorted = tb_malloc((kept + 1) * sizeof *sorted);
    memcpy(sorted, keys, kept * sizeof *keys);
    qsort(sorted, kept, sizeof *sorted, compare_u64);
    size_t duplicates = 0;
    for (size_t i = 1; i < kept; i++) duplicates += sorted[i] == sorted[i - 1];
    free(sorted);

    int rc = -1;
    Tokenizer *tok = NULL;
    if (ntrain == 0 || nval == 0) {
        tb_error("style %s: %zu tunes for training and %zu for validation; need at least one of each "
                 "(give more tunes or change --val-fraction)",
                 job->style, ntrain, nval);
        goto done;
    }
    if (job->bytes_mode) {
        tok = tok_new_bytes();
    } else {
        const char **train_texts = tb_malloc(ntrain * sizeof *train_texts);
        size_t *train_lens = tb_malloc(ntrain * sizeof *train_lens);
        for (size_t i = 0; i < ntrain; i++) train_texts[i] = texts[train[i]], train_lens[i] = lens[train[i]];
        TokTrainArgs args = {train_texts, train_lens, ntrain, 0, 0};
        tok = tok_train(&args);
        free(train_texts);
        free(train_lens);
        if (!tok) goto done;
    }
    char path[4200];
    snprintf(path, sizeof path, "%.4000s/vocab.tok", job->out_dir);
    if (tok_save(tok, path) != 0) goto done;
    shuffle(train, ntrain, job->seed ^ 0x7472616eULL);
    shuffle(val, nval, job->seed ^ 0x76616cULL);
    SplitStats st_train, st_val;
    if (write_split(job, "train", tok, texts, lens, train, ntrain, &st_train) != 0) goto done;
    if (write_split(job, "val", tok, texts, lens, val, nval, &st_val) != 0) goto done;

    // The manifest, last.
    char hex[17];
    cJSON *m = cJSON_CreateObject();
    cJSON_AddNumberToObject(m, "format", PREPARE_FORMAT);
    cJSON_AddStringToObject(m, "style", job->style);
    cJSON_AddStringToObject(m, "input_hash", hex64(hex, job->input_hash));
    cJSON_AddItemToObject(m, "source", job->source ? cJSON_Duplicate(job->source, 1) : cJSON_CreateNull());
    cJSON_AddNumberToObject(m, "seed", (double)job->seed);
    cJSON_AddNumberToObject(m, "val_fraction", job->val_fraction);
    cJSON *tunes = cJSON_AddObjectToObject(m, "tunes");
    cJSON_AddNumberToObject(tunes, "found", (double)(found->count));
    cJSON_AddNumberToObject(tunes, "kept", (double)kept);
    cJSON_AddNumberToObject(tunes, "train", (double)ntrain);
    cJSON_AddNumberToObject(tunes, "val", (double)nval);
    cJSON_AddNumberToObject(tunes, "duplicates", (double)duplicates);
    uint64_t total_skipped = 0;
    cJSON *sk = cJSON_AddObjectToObject(m, "skipped");
    for (int r = 0; r < SKIP_REASON_COUNT; r++) {
        total_skipped += skipped[r];
        if (skipped[r]) cJSON_AddNumberToObject(sk, corpus_skip_name((SkipReason)r), (double)skipped[r]);
    }
    cJSON_AddNumberToObject(tunes, "skipped", (double)total_skipped);
    if (irish) cJSON_AddNumberToObject(m, "irishman_tail_bytes_dropped", (double)tail_dropped);
    cJSON *colls = cJSON_AddObjectToObject(m, "collections");
    for (int c = 0; c < job->inputs->num_collections; c++) {
        cJSON *o = cJSON_AddObjectToObject(colls, job->inputs->collections[c]);
        size_t files = 0, bytes = 0, ftunes = 0, k = 0;
        for (size_t f = 0; f < job->inputs->count; f++)
            if (job->inputs->collection[f] == c) files++, bytes += job->file_bytes[f], ftunes += job->file_tunes[f];
        for (size_t i = 0; i < kept; i++) k += coll[i] == c;
        cJSON_AddNumberToObject(o, "files", (double)files);
        cJSON_AddNumberToObject(o, "bytes", (double)bytes);
        cJSON_AddNumberToObject(o, "tunes", (double)ftunes);
        cJSON_AddNumberToObject(o, "kept", (double)k);
    }
    cJSON *files = cJSON_AddArrayToObject(m, "files");
    for (size_t f = 0; f < job->inputs->count; f++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "path", job->inputs->paths[f]);
        cJSON_AddNumberToObject(o, "bytes", (double)job->file_bytes[f]);
        cJSON_AddNumberToObject(o, "tunes", (double)job->file_tunes[f]);
        cJSON_AddItemToArray(files, o);
    }
    cJSON *tj = cJSON_AddObjectToObject(m, "tokenizer");
    int lexemes, merges;
    tok_counts(tok, &lexemes, &merges);
    cJSON_AddStringToObject(tj, "file", "vocab.tok");
    cJSON_AddStringToObject(tj, "mode", job->bytes_mode ? "bytes" : "abc");
    cJSON_AddNumberToObject(tj, "vocab_size", tok_vocab_size(tok));
    cJSON_AddNumberToObject(tj, "eot_id", tok_eot_id(tok));
    cJSON_AddNumberToObject(tj, "lexemes", lexemes);
    cJSON_AddNumberToObject(tj, "merges", merges);
    cJSON_AddStringToObject(tj, "hash", hex64(hex, tok_hash(tok)));
    cJSON_AddItemToObject(m, "train", split_json(&st_train, "train.bin"));
    cJSON_AddItemToObject(m, "val", split_json(&st_val, "val.bin"));
    uint64_t all_bytes = st_train.bytes + st_val.bytes;
    uint64_t all_tokens = st_train.tokens + st_val.tokens - st_train.tunes - st_val.tunes;
    cJSON_AddNumberToObject(m, "bytes_per_token", all_tokens ? (double)all_bytes / (double)all_tokens : 0);
    // What was written, read back from the disk: the up-to-date check
    // compares every file with it.
    cJSON *outputs = cJSON_AddObjectToObject(m, "outputs");
    for (int i = 0; i < NUM_OUTPUT_FILES; i++) {
        snprintf(path, sizeof path, "%.4000s/%s", job->out_dir, output_files[i]);
        cJSON *fp = file_fingerprint(path);
        if (!fp) {
            cJSON_Delete(m);
            goto done;
        }
        cJSON_AddItemToObject(outputs, output_files[i], fp);
    }
    snprintf(path, sizeof path, "%.4000s/manifest.json", job->out_dir);
    rc = tb_json_write(path, m);
    cJSON_Delete(m);
    if (rc == 0)
        printf("prepare: %-14s %6zu tunes (%zu train, %zu val, %llu skipped), %.3f bytes/token, "
               "vocab %d\n",
               job->style, kept, ntrain, nval, (unsigned long long)total_skipped,
               all_tokens ? (double)all_bytes / (double)all_tokens : 0.0, tok_vocab_size(tok));
done:
    tok_free(tok);
    for (size_t i = 0; i < kept; i++) free(texts[i]);
    free(texts), free(lens), free(keys), free(coll), free(train), free(val);
    return rc;
}

// ---------------------------------------------------------------- command

static void prepare_usage(FILE *out) {
    fprintf(out,
            "usage: tunebench prepare [options] INPUT...\n"
            "  Builds the tokenizer and token shards from ABC files. INPUT: .abc files,\n"
            "  IrishMAN .json files, or folders of them (searched recursively).\n"
            "  --out DIR             output folder (default data/corpus); one subfolder per style\n"
            "  --style S             raw, irishman or all (default all)\n"
            "  --tokenizer abc|bytes music-aware 1024 tokens (default) or plain bytes; bytes\n"
            "                        writes OUT/<style>-bytes/\n"
            "  --seed N              split and shuffle seed (default 1234)\n"
            "  --val-fraction F      share of tunes for validation (default 0.05)\n"
            "  --source FILE         JSON describing where the inputs came from, copied into\n"
            "                        the manifest (scripts/fetch_corpus.sh writes it)\n"
            "  --force               rebuild even when the manifest says it is up to date\n");
}

int cmd_prepare(int argc, char **argv) {
    const char *out = "data/corpus", *style = "all", *source_path = NULL;
    int bytes_mode = 0, force = 0;
    uint64_t seed = 1234;
    double val_fraction = 0.05;
    char **inputs = tb_calloc((size_t)argc + 1, sizeof *inputs);
    int num_inputs = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_value = i + 1 < argc;
        if (tb_streq(a, "--help") || tb_streq(a, "-h")) {
            prepare_usage(stdout);
            free(inputs);
            return 0;
        } else if (tb_streq(a, "--out") && has_value) out = argv[++i];
        else if (tb_streq(a, "--style") && has_value) style = argv[++i];
        else if (tb_streq(a, "--source") && has_value) source_path = argv[++i];
        else if (tb_streq(a, "--seed") && has_value) seed = strtoull(argv[++i], NULL, 10);
        else if (tb_streq(a, "--val-fraction") && has_value) val_fraction = atof(argv[++i]);
        else if (tb_streq(a, "--tokenizer") && has_value) {
            const char *t = argv[++i];
            if (tb_streq(t, "bytes")) bytes_mode = 1;
            else if (!tb_streq(t, "abc")) {
                free(inputs);
                tb_die("prepare: --tokenizer must be abc or bytes, not '%s'", t);
            }
        } else if (tb_streq(a, "--force")) force = 1;
        else if (a[0] == '-' && a[1] == '-') {
            free(inputs);
            fprintf(stderr, "tunebench: error: prepare: unknown or incomplete option '%s'\n", a);
            prepare_usage(stderr);
            return 2;
        } else inputs[num_inputs++] = argv[i];
    }
    if (num_inputs == 0) {
        free(inputs);
        prepare_usage(stderr);
        return 2;
    }
    if (!(val_fraction > 0.0 && val_fraction < 1.0)) {
        free(inputs);
        tb_die("prepare: --val-fraction must be between 0 and 1 (exclusive), e.g. 0.05");
    }
    const char *styles[2];
    int num_styles = 0;
    if (tb_streq(style, "all") || tb_streq(style, "raw")) styles[num_styles++] = "raw";
    if (tb_streq(style, "all") || tb_streq(style, "irishman")) styles[num_styles++] = "irishman";
    if (num_styles == 0) {
        free(inputs);
        tb_die("prepare: --style must be raw, irishman or all, not '%s'", style);
    }

    InputList in = {0};
    int rc = 1;
    cJSON *source = NULL;
    TuneSet found = {0};
    size_t *file_bytes = NULL, *file_tunes = NULL;
    if (gather_inputs(&in, inputs, num_inputs) != 0) goto done;
    if (source_path) {
        size_t len;
        char *text = tb_read_file(source_path, &len);
        if (!text) goto done;
        source = cJSON_Parse(text);
        free(text);
        if (!source) {
            tb_error("--source %s is not valid JSON", source_path);
            goto done;
        }
    }

    // Read everything once: the fingerprint covers names, contents and options.
    file_bytes = tb_calloc(in.count, sizeof *file_bytes);
    file_tunes = tb_calloc(in.count, sizeof *file_tunes);
    char **contents = tb_calloc(in.count, sizeof *contents);
    uint64_t h = TB_HASH64_SEED;
    char opts[256];
    snprintf(opts, sizeof opts, "format=%d seed=%llu val=%.17g bytes=%d", PREPARE_FORMAT,
             (unsigned long long)seed, val_fraction, bytes_mode);
    h = tb_hash64(opts, strlen(opts), h);
    int read_failed = 0;
    for (size_t f = 0; f < in.count; f++) {
        contents[f] = tb_read_file(in.paths[f], &file_bytes[f]);
        if (!contents[f]) {
            read_failed = 1;
            break;
        }
        h = tb_hash64(base_name(in.paths[f]), strlen(base_name(in.paths[f])) + 1, h);
        h = tb_hash64(in.collections[in.collection[f]], strlen(in.collections[in.collection[f]]) + 1, h);
        h = tb_hash64(contents[f], file_bytes[f], h);
    }
    int todo[2] = {1, 1};
    char dirs[2][4200];
    for (int s = 0; s < num_styles; s++) {
        snprintf(dirs[s], sizeof dirs[s], "%.4000s/%s%s", out, styles[s], bytes_mode ? "-bytes" : "");
        todo[s] = force || !up_to_date(dirs[s], h);
    }
    if (!read_failed && !todo[0] && (num_styles < 2 || !todo[1])) {
        printf("prepare: %s is up to date (inputs and options match the manifest)\n", out);
        rc = 0;
    } else if (!read_failed) {
        for (size_t f = 0; f < in.count; f++) {
            size_t before = found.count;
            if (has_suffix(in.paths[f], ".json")) {
                if (irishman_load_json(in.paths[f], &found, in.collection[f]) < 0) {
                    read_failed = 1;
                    break;
                }
            } else {
                corpus_split_text(&found, contents[f], file_bytes[f], in.collection[f]);
            }
            file_tunes[f] = found.count - before;
        }
        rc = read_failed ? 1 : 0;
        for (int s = 0; rc == 0 && s < num_styles; s++) {
            if (!todo[s]) continue;
            StyleJob job = {styles[s], bytes_mode, seed, val_fraction, dirs[s], h, source,
                            &in, file_bytes, file_tunes};
            if (run_style(&job, &found) != 0) rc = 1;
        }
    }
    for (size_t f = 0; f < in.count; f++) free(contents[f]);
    free(contents);
done:
    if (rc) tb_report();
    tuneset_free(&found);
    cJSON_Delete(source);
    for (size_t f = 0; f < in.count; f++) free(in.paths[f]);
    for (int c = 0; c < in.num_collections; c++) free(in.collections[c]);
    free(in.paths), free(in.collection), free(in.collections);
    free(file_bytes), free(file_tunes), free(inputs);
    return rc;
}
