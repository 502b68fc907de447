// prepare.c: `tunebench prepare`: ABC files to a tokenizer and token shards.
//
// A corpus is named by its source (sources.def: music21, irishman, local) and
// written once per style (styles.def: plain, control) into
// OUT/<source>/<style>/:
//   vocab.tok            the tokenizer, learned on this style's training split
//   train.bin, val.bin   token shards: each tune's tokens, then end-of-tune
//   train.abc, val.abc   the prepared tunes as text, blank-line separated
//   manifest.json        what went in and what came out, with the size and
//                        FNV-1a hash of every file above
// All or nothing: a style is built in a temporary folder beside it
// (<dir>.tmp.<pid>) and renamed into place whole (tb_replace_dir), so a
// prepare that fails (a full disk, a kill) leaves the previous corpus as it
// was, never a new vocab.tok beside old shards.
//
// The split: a source that publishes one (IrishMAN's train.json and
// validation.json) keeps it as published, and the manifest reports the
// tunes the two sides share. Otherwise the split is by tune, from a hash of
// each tune's note content and the seed (corpus_is_val), computed on the tune
// as found, so that a tune and its duplicates land on the same side, in
// every style.
//
// --augment transpose adds key-transposed copies of the training tunes
// (augment.h) to train.bin and train.abc, in <style>-transpose/. The
// tokenizer is learned from the original training tunes only, so vocab.tok
// and val.bin are the same bytes with and without augmentation.
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

#include "lib/command.h"
#include "lib/common.h"
#include "augment.h"
#include "corpus.h"
#include "inputs.h"
#include "prepare_args.h"
#include "shards.h"
#include "tokenizer.h"

#define PREPARE_FORMAT 3  // bump when the output for the same input changes

// The files of a style folder that the manifest vouches for.
static const char *const output_files[] = {"vocab.tok", "train.bin", "val.bin", "train.abc", "val.abc"};
#define NUM_OUTPUT_FILES 5

// ---------------------------------------------------------------- per style

typedef struct {
    const CorpusSource *source;
    const CorpusStyle *style;
    int bytes_mode;
    uint64_t seed;
    double val_fraction;
    const char *out_dir;    // OUT/<source>/<style>[-bytes][-transpose]
    uint64_t input_hash;
    cJSON *source_json;     // borrowed
    const InputList *inputs;
    const size_t *file_bytes, *file_tunes;
    const unsigned char *found_val;  // per found tune: on the validation side
    const AugSet *aug;      // transposed copies of the training tunes, or NULL
    const char *aug_tool;   // abc2abc's version
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

// The tunes of one style: the found tunes that the style keeps, then the
// transposed copies that pass; train and val index into them.
typedef struct {
    char **texts;
    size_t *lens;
    uint64_t *keys;
    int *coll;
    size_t kept, count;  // kept: the found tunes kept; count: with the copies
    size_t *train, ntrain, *val, nval;
    uint64_t skipped[SKIP_REASON_COUNT];
    size_t tail_dropped;
    uint64_t copies_style_skipped, copies_round_trip_failed, copies_kept;
    uint64_t copies_skipped[SKIP_REASON_COUNT];  // copies_style_skipped by reason
} StyleTunes;

static void style_tunes_free(StyleTunes *st) {
    for (size_t i = 0; i < st->count; i++) free(st->texts[i]);
    free(st->texts), free(st->lens), free(st->keys), free(st->coll), free(st->train), free(st->val);
}

static void collect_style(const StyleJob *job, const TuneSet *found, StyleTunes *st) {
    size_t n = found->count, cap = n + (job->aug ? job->aug->count : 0) + 1;
    st->texts = tb_calloc(cap, sizeof *st->texts);
    st->lens = tb_calloc(cap, sizeof *st->lens);
    st->keys = tb_calloc(cap, sizeof *st->keys);
    st->coll = tb_calloc(cap, sizeof *st->coll);
    st->train = tb_malloc(cap * sizeof *st->train);
    st->val = tb_malloc(cap * sizeof *st->val);
    memcpy(st->skipped, found->skipped, sizeof st->skipped);
    for (size_t i = 0; i < n; i++) {
        const Tune *t = &found->tunes[i];
        SkipReason why;
        size_t dropped;
        char *text = job->style->apply(t->text, t->len, &st->lens[st->kept], &why, &dropped);
        if (!text) {
            st->skipped[why]++;
            continue;
        }
        st->texts[st->kept] = text;
        st->tail_dropped += dropped;
        st->keys[st->kept] = t->music_key;
        st->coll[st->kept] = t->collection;
        if (job->found_val[i]) st->val[st->nval++] = st->kept;
        else st->train[st->ntrain++] = st->kept;
        st->kept++;
    }
    st->count = st->kept;
}

// The transposed copies, in this style, that the tokenizer gives back
// exactly, join the training side.
static void add_copies(const StyleJob *job, const TuneSet *found, const Tokenizer *tok, StyleTunes *st) {
    size_t cap = 0;
    uint16_t *ids = NULL;
    char *back = NULL;
    for (size_t i = 0; i < job->aug->count; i++) {
        const AugTune *a = &job->aug->tunes[i];
        SkipReason why;
        size_t dropped, len;
        char *text = job->style->apply(a->text, a->len, &len, &why, &dropped);
        if (!text) {
            st->copies_style_skipped++;
            st->copies_skipped[why]++;
            continue;
        }
        if (len + 1 > cap) {
            cap = 2 * (len + 1);
            free(ids), free(back);
            ids = tb_malloc(cap * sizeof *ids);
            back = tb_malloc(cap);
        }
        size_t n = tok_encode(tok, text, len, ids, cap);
        if (tok_decode_u16(tok, ids, n, back, cap) != len || memcmp(back, text, len) != 0) {
            st->copies_round_trip_failed++;
            free(text);
            continue;
        }
        size_t k = st->count++;
        st->texts[k] = text;
        st->lens[k] = len;
        st->keys[k] = found->tunes[a->source].music_key;
        st->coll[k] = found->tunes[a->source].collection;
        st->train[st->ntrain++] = k;
        st->copies_kept++;
    }
    free(ids), free(back);
}

// Tunes of the validation side that also stand on the training side:
// exactly (the same text in this style) and by note content (music key).
static void count_overlap(const StyleTunes *st, uint64_t *exact, uint64_t *notes) {
    uint64_t *text_hash = tb_malloc((st->ntrain + 1) * sizeof *text_hash);
    uint64_t *key = tb_malloc((st->ntrain + 1) * sizeof *key);
    for (size_t i = 0; i < st->ntrain; i++) {
        size_t k = st->train[i];
        text_hash[i] = tb_hash64(st->texts[k], st->lens[k], TB_HASH64_SEED);
        key[i] = st->keys[k];
    }
    qsort(text_hash, st->ntrain, sizeof *text_hash, compare_u64);
    qsort(key, st->ntrain, sizeof *key, compare_u64);
    *exact = *notes = 0;
    for (size_t i = 0; i < st->nval; i++) {
        size_t k = st->val[i];
        uint64_t h = tb_hash64(st->texts[k], st->lens[k], TB_HASH64_SEED);
        *exact += bsearch(&h, text_hash, st->ntrain, sizeof *text_hash, compare_u64) != NULL;
        *notes += bsearch(&st->keys[k], key, st->ntrain, sizeof *key, compare_u64) != NULL;
    }
    free(text_hash), free(key);
}

static cJSON *manifest_json(const StyleJob *job, const TuneSet *found, const StyleTunes *st, const Tokenizer *tok,
                            const SplitStats *st_train, const SplitStats *st_val) {
    char hex[17];
    cJSON *m = cJSON_CreateObject();
    cJSON_AddNumberToObject(m, "format", PREPARE_FORMAT);
    cJSON_AddStringToObject(m, "corpus", job->source->name);
    cJSON_AddStringToObject(m, "style", job->style->name);
    const cJSON *rev = cJSON_GetObjectItemCaseSensitive(job->source_json, "revision");
    cJSON_AddItemToObject(m, "revision", cJSON_IsString(rev) ? cJSON_CreateString(rev->valuestring) : cJSON_CreateNull());
    cJSON_AddStringToObject(m, "split", job->source->train_file ? "published" : "by note content");
    cJSON_AddStringToObject(m, "input_hash", hex64(hex, job->input_hash));
    cJSON_AddItemToObject(m, "source", job->source_json ? cJSON_Duplicate(job->source_json, 1) : cJSON_CreateNull());
    cJSON_AddNumberToObject(m, "seed", (double)job->seed);
    if (job->source->train_file) cJSON_AddNullToObject(m, "val_fraction");
    else cJSON_AddNumberToObject(m, "val_fraction", job->val_fraction);
    cJSON *tunes = cJSON_AddObjectToObject(m, "tunes");
    cJSON_AddNumberToObject(tunes, "found", (double)(found->count));
    cJSON_AddNumberToObject(tunes, "kept", (double)st->kept);
    cJSON_AddNumberToObject(tunes, "train", (double)(st->ntrain - st->copies_kept));
    cJSON_AddNumberToObject(tunes, "val", (double)st->nval);
    // Duplicates: tunes whose note content was seen before.
    uint64_t *sorted = tb_malloc((st->kept + 1) * sizeof *sorted);
    memcpy(sorted, st->keys, st->kept * sizeof *sorted);
    qsort(sorted, st->kept, sizeof *sorted, compare_u64);
    size_t duplicates = 0;
    for (size_t i = 1; i < st->kept; i++) duplicates += sorted[i] == sorted[i - 1];
    free(sorted);
    cJSON_AddNumberToObject(tunes, "duplicates", (double)duplicates);
    uint64_t total_skipped = 0;
    cJSON *sk = cJSON_AddObjectToObject(m, "skipped");
    for (int r = 0; r < SKIP_REASON_COUNT; r++) {
        total_skipped += st->skipped[r];
        if (st->skipped[r]) cJSON_AddNumberToObject(sk, corpus_skip_name((SkipReason)r), (double)st->skipped[r]);
    }
    cJSON_AddNumberToObject(tunes, "skipped", (double)total_skipped);
    uint64_t exact, notes;
    count_overlap(st, &exact, &notes);
    cJSON *ov = cJSON_AddObjectToObject(m, "overlap");
    cJSON_AddNumberToObject(ov, "val_tunes_in_train_exact", (double)exact);
    cJSON_AddNumberToObject(ov, "val_tunes_in_train_same_notes", (double)notes);
    cJSON_AddNumberToObject(m, "tail_bytes_dropped", (double)st->tail_dropped);
    if (job->aug) {
        cJSON *aj = cJSON_AddObjectToObject(m, "augment");
        cJSON_AddStringToObject(aj, "kind", "transpose");
        cJSON_AddStringToObject(aj, "tool", job->aug_tool);
        cJSON *semis = cJSON_AddArrayToObject(aj, "semitones");
        for (int t = AUGMENT_MIN_SEMITONES; t <= AUGMENT_MAX_SEMITONES; t++)
            if (t != 0) cJSON_AddItemToArray(semis, cJSON_CreateNumber(t));
        cJSON_AddNumberToObject(aj, "copies_made", (double)(job->aug->count));
        cJSON_AddNumberToObject(aj, "copies_kept", (double)st->copies_kept);
        cJSON *dj = cJSON_AddObjectToObject(aj, "dropped");
        for (int r = 0; r < AUG_DROP_COUNT; r++)
            cJSON_AddNumberToObject(dj, augment_drop_name((AugDrop)r), (double)job->aug->dropped[r]);
        cJSON_AddNumberToObject(dj, "style", (double)st->copies_style_skipped);
        cJSON *why = cJSON_AddObjectToObject(aj, "style_skipped");
        for (int r = 0; r < SKIP_REASON_COUNT; r++)
            if (st->copies_skipped[r]) cJSON_AddNumberToObject(why, corpus_skip_name((SkipReason)r), (double)st->copies_skipped[r]);
        cJSON_AddNumberToObject(dj, "round_trip", (double)st->copies_round_trip_failed);
    } else {
        cJSON_AddNullToObject(m, "augment");
    }
    cJSON *colls = cJSON_AddObjectToObject(m, "collections");
    for (int c = 0; c < job->inputs->num_collections; c++) {
        cJSON *o = cJSON_AddObjectToObject(colls, job->inputs->collections[c]);
        size_t files = 0, bytes = 0, ftunes = 0, k = 0;
        for (size_t f = 0; f < job->inputs->count; f++)
            if (job->inputs->collection[f] == c) files++, bytes += job->file_bytes[f], ftunes += job->file_tunes[f];
        for (size_t i = 0; i < st->kept; i++) k += st->coll[i] == c;
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
    cJSON_AddItemToObject(m, "train", split_json(st_train, "train.bin"));
    cJSON_AddItemToObject(m, "val", split_json(st_val, "val.bin"));
    uint64_t all_bytes = st_train->bytes + st_val->bytes;
    uint64_t all_tokens = st_train->tokens + st_val->tokens - st_train->tunes - st_val->tunes;
    cJSON_AddNumberToObject(m, "bytes_per_token", all_tokens ? (double)all_bytes / (double)all_tokens : 0);
    return m;
}

static int build_style(const StyleJob *job, const TuneSet *found) {
    StyleTunes st = {0};
    collect_style(job, found, &st);
    int rc = -1;
    Tokenizer *tok = NULL;
    if (st.ntrain == 0 || st.nval == 0) {
        tb_error("corpus %s, style %s: %zu tunes for training and %zu for validation; need at least one of each "
                 "(give more tunes or change --val-fraction)",
                 job->source->name, job->style->name, st.ntrain, st.nval);
        goto done;
    }
    if (job->bytes_mode) {
        tok = tok_new_bytes();
    } else {
        const char **train_texts = tb_malloc(st.ntrain * sizeof *train_texts);
        size_t *train_lens = tb_malloc(st.ntrain * sizeof *train_lens);
        for (size_t i = 0; i < st.ntrain; i++) train_texts[i] = st.texts[st.train[i]], train_lens[i] = st.lens[st.train[i]];
        TokTrainArgs args = {train_texts, train_lens, st.ntrain, 0, 0};
        tok = tok_train(&args);
        free(train_texts);
        free(train_lens);
        if (!tok) goto done;
    }
    if (job->aug) add_copies(job, found, tok, &st);
    char path[4200];
    snprintf(path, sizeof path, "%.4000s/vocab.tok", job->out_dir);
    if (tok_save(tok, path) != 0) goto done;
    shuffle(st.train, st.ntrain, job->seed ^ 0x7472616eULL);
    shuffle(st.val, st.nval, job->seed ^ 0x76616cULL);
    SplitStats st_train, st_val;
    if (write_split(job, "train", tok, st.texts, st.lens, st.train, st.ntrain, &st_train) != 0) goto done;
    if (write_split(job, "val", tok, st.texts, st.lens, st.val, st.nval, &st_val) != 0) goto done;

    // The manifest, last, with what was written read back from the disk: the
    // up-to-date check compares every file with it.
    cJSON *m = manifest_json(job, found, &st, tok, &st_train, &st_val);
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
    if (rc == 0) {
        const cJSON *ov = cJSON_GetObjectItemCaseSensitive(m, "overlap");
        printf("prepare: %s/%s: %zu tunes (%zu train, %zu val, %g skipped, %g val tunes also in train), "
               "%.3f bytes/token, vocab %d\n",
               job->source->name, job->style->name, st.kept, st.ntrain - (size_t)st.copies_kept, st.nval,
               cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(m, "tunes"), "skipped")->valuedouble,
               cJSON_GetObjectItemCaseSensitive(ov, "val_tunes_in_train_exact")->valuedouble,
               cJSON_GetObjectItemCaseSensitive(m, "bytes_per_token")->valuedouble, tok_vocab_size(tok));
        if (job->aug)
            printf("prepare: %s/%s: + %llu transposed copies of the training tunes (%zu made)\n", job->source->name,
                   job->style->name, (unsigned long long)st.copies_kept, job->aug->count);
    }
    cJSON_Delete(m);
done:
    tok_free(tok);
    style_tunes_free(&st);
    return rc;
}

// ---------------------------------------------------------------- command

// What a prepare reads and finds, before any style is built.
typedef struct {
    InputList in;
    cJSON *source_json;
    char **contents;                  // per input file
    size_t *file_bytes, *file_tunes;  // per input file
    uint64_t hash;                    // of the inputs and the options
    char tool[128];                   // abc2abc's version, with --augment
    TuneSet found;
    unsigned char *found_val;         // per found tune: on the validation side
    AugSet aug;
} PrepareInputs;

static void prepare_inputs_free(PrepareInputs *p) {
    for (size_t f = 0; p->contents && f < p->in.count; f++) free(p->contents[f]);
    free(p->contents);
    tuneset_free(&p->found);
    augset_free(&p->aug);
    cJSON_Delete(p->source_json);
    input_list_free(&p->in);
    free(p->file_bytes), free(p->file_tunes), free(p->found_val);
}

// Reads every input once, and --source; the fingerprint covers names,
// contents and options. 0, or -1 with the error set.
static int read_inputs(const PrepareArgs *a, PrepareInputs *p) {
    if (gather_inputs(&p->in, a->source, a->inputs, a->num_inputs) != 0) return -1;
    if (a->source_path) {
        size_t len;
        char *text = tb_read_file(a->source_path, &len);
        if (!text) return -1;
        p->source_json = cJSON_Parse(text);
        free(text);
        if (!p->source_json) return tb_error("--source %s is not valid JSON", a->source_path);
    }
    if (a->augmenting && augment_tool_version(p->tool, sizeof p->tool) != 0) return -1;
    const InputList *in = &p->in;
    p->file_bytes = tb_calloc(in->count, sizeof *p->file_bytes);
    p->file_tunes = tb_calloc(in->count, sizeof *p->file_tunes);
    p->contents = tb_calloc(in->count, sizeof *p->contents);
    uint64_t h = TB_HASH64_SEED;
    char opts[512];
    snprintf(opts, sizeof opts, "format=%d corpus=%s seed=%llu val=%.17g bytes=%d augment=%s tool=%s",
             PREPARE_FORMAT, a->source->name, (unsigned long long)a->seed, a->val_fraction, a->bytes_mode, a->augment,
             p->tool);
    h = tb_hash64(opts, strlen(opts), h);
    for (size_t f = 0; f < in->count; f++) {
        p->contents[f] = tb_read_file(in->paths[f], &p->file_bytes[f]);
        if (!p->contents[f]) return -1;
        h = tb_hash64(base_name(in->paths[f]), strlen(base_name(in->paths[f])) + 1, h);
        h = tb_hash64(in->collections[in->collection[f]], strlen(in->collections[in->collection[f]]) + 1, h);
        h = tb_hash64(p->contents[f], p->file_bytes[f], h);
    }
    p->hash = h;
    return 0;
}

// The tunes of every input, the side of the split each is on, and with
// --augment the transposed copies of the training tunes. 0, or -1.
static int find_tunes(const PrepareArgs *a, PrepareInputs *p) {
    const InputList *in = &p->in;
    TuneSet *found = &p->found;
    for (size_t f = 0; f < in->count; f++) {
        size_t before = found->count;
        if (a->source->reader == CORPUS_READ_IRISHMAN_JSON) {
            if (irishman_load_json(in->paths[f], found, in->collection[f]) < 0) return -1;
        } else {
            corpus_split_text(found, p->contents[f], p->file_bytes[f], in->collection[f]);
        }
        for (size_t i = before; i < found->count; i++) found->tunes[i].split = in->split[f];
        p->file_tunes[f] = found->count - before;
    }
    p->found_val = tb_calloc(found->count + 1, 1);
    for (size_t i = 0; i < found->count; i++) {
        const Tune *t = &found->tunes[i];
        p->found_val[i] = t->split == CORPUS_UNSPLIT ? corpus_is_val(t->music_key, a->seed, a->val_fraction)
                                                     : t->split == CORPUS_VAL;
    }
    if (a->augmenting && augment_training(found, p->found_val, &p->aug) != 0) return -1;
    return 0;
}

int cmd_prepare(int argc, char **argv) {
    PrepareArgs a;
    int rc = tb_command_start(prepare_parse_args(argc, argv, &a), prepare_usage);
    if (rc == TB_COMMAND_GO_ON && prepare_resolve_args(&a)) rc = tb_exit_runtime();
    if (rc != TB_COMMAND_GO_ON) {
        free((void *)a.inputs);
        return rc;
    }
    PrepareInputs p = {0};
    int todo[16], any_todo = 0;
    char dirs[16][4200];
    rc = read_inputs(&a, &p);
    for (int s = 0; rc == 0 && s < a.num_styles; s++) {
        snprintf(dirs[s], sizeof dirs[s], "%.3800s/%s/%s%s%s", a.out, a.source->name, a.styles[s]->name,
                 a.bytes_mode ? "-bytes" : "", a.augmenting ? "-transpose" : "");
        todo[s] = a.force || !up_to_date(dirs[s], p.hash);
        any_todo |= todo[s];
    }
    if (rc == 0 && !any_todo)
        printf("prepare: %s/%s is up to date (inputs and options match the manifest)\n", a.out, a.source->name);
    else if (rc == 0)
        rc = find_tunes(&a, &p);
    for (int s = 0; rc == 0 && any_todo && s < a.num_styles; s++) {
        if (!todo[s]) continue;
        StyleJob job = {a.source, a.styles[s], a.bytes_mode, a.seed, a.val_fraction, dirs[s], p.hash, p.source_json,
                        &p.in, p.file_bytes, p.file_tunes, p.found_val, a.augmenting ? &p.aug : NULL, p.tool};
        if (run_style(&job, &p.found) != 0) rc = 1;
    }
    if (rc) tb_report();
    prepare_inputs_free(&p);
    free((void *)a.inputs);
    return rc ? 1 : 0;
}
