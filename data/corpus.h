// corpus.h: from ABC files to prepared tunes (the `prepare` pipeline's parts).
//
//   corpus_split_text   splits one file's text into tunes at "X:" lines,
//                       normalises line endings, and skips what is not a
//                       tune, counting why (SkipReason)
//   corpus_control_style rewrites a tune in the reproduced study's style
//   corpus_sources, corpus_styles  the tables of sources.def and styles.def
//   corpus_music_key    a hash of a tune's normalised note content, so that
//                       duplicates land on the same side of the split
//   corpus_is_val       the deterministic train/validation split
#ifndef TB_CORPUS_H
#define TB_CORPUS_H

#include <stddef.h>
#include <stdint.h>

#define CORPUS_MAX_TUNE_BYTES 65536  // longer "tunes" are skipped (too_long)

typedef enum {
    SKIP_TEXT_OUTSIDE_TUNES,  // non-blank text before the first X: (or a file without X:)
    SKIP_BINARY,              // NUL bytes or other control characters
    SKIP_INVALID_UTF8,
    SKIP_TOO_LONG,
    SKIP_NO_KEY,              // no K: field
    SKIP_EMPTY_BODY,          // nothing after the K: line
    SKIP_MULTI_VOICE,         // control style: TunesFormer keeps one-voice tunes
    SKIP_CC_NO_SECTIONS,      // control style: control codes could not be computed
    SKIP_CC_TOO_MANY_SECTIONS,
    SKIP_CC_TOO_MANY_BARS,
    SKIP_CC_LEADING_ENDING,
    SKIP_JSON_RECORD,         // an IrishMAN record without an "abc notation" string
    SKIP_REASON_COUNT
} SkipReason;

const char *corpus_skip_name(SkipReason reason);

enum { CORPUS_UNSPLIT = -1, CORPUS_TRAIN = 0, CORPUS_VAL = 1 };

typedef struct {
    char *text;        // normalised tune, ending in exactly one '\n' (malloc'ed)
    size_t len;
    int collection;    // caller's index of where it came from
    uint64_t music_key;
    int split;         // the published split: CORPUS_TRAIN, CORPUS_VAL, or CORPUS_UNSPLIT
} Tune;

typedef struct {
    Tune *tunes;
    size_t count, cap;
    uint64_t skipped[SKIP_REASON_COUNT];
} TuneSet;

void tuneset_free(TuneSet *set);
// Splits text into tunes and appends the good ones to set. Returns how many
// tunes were added.
size_t corpus_split_text(TuneSet *set, const char *text, size_t len, int collection);
// Checks one tune (already normalised); SKIP_REASON_COUNT means it is fine.
SkipReason corpus_check_tune(const char *tune, size_t len);
// Normalises line endings (CRLF and CR to LF), drops trailing blank lines and
// ends the text with one '\n'. Returns a malloc'ed copy.
char *corpus_normalize(const char *text, size_t len, size_t *out_len);

// The control style: "X:1", the S/B/E control codes, L:, M:, K:, then the
// body without titles, free text, comments or blank lines, cut where
// TunesFormer cuts it. Returns a malloc'ed tune, or NULL with *why set.
// *dropped_bytes receives the body bytes TunesFormer's rules drop after the
// last section.
char *corpus_control_style(const char *tune, size_t len, size_t *out_len, SkipReason *why,
                           size_t *dropped_bytes);
// The plain style: the tune as found (a malloc'ed copy); never skips.
char *corpus_plain_style(const char *tune, size_t len, size_t *out_len, SkipReason *why,
                         size_t *dropped_bytes);

// ---------------------------------------------------------------- names
// Sources (sources.def) and styles (styles.def): a corpus is named by its
// source, and prepare writes one folder per style, OUT/<source>/<style>/.
typedef enum { CORPUS_READ_ABC, CORPUS_READ_IRISHMAN_JSON } CorpusReader;

typedef struct {
    const char *name;
    CorpusReader reader;
    const char *train_file, *val_file;  // the published split; NULL: none
    const char *description;
} CorpusSource;

typedef char *(*CorpusStyleFn)(const char *tune, size_t len, size_t *out_len, SkipReason *why,
                               size_t *dropped_bytes);
typedef struct {
    const char *name;
    CorpusStyleFn apply;
    const char *description;
} CorpusStyle;

extern const CorpusSource corpus_sources[];
extern const int corpus_num_sources;
extern const CorpusStyle corpus_styles[];
extern const int corpus_num_styles;
// The entry named name, or NULL.
const CorpusSource *corpus_find_source(const char *name);
const CorpusStyle *corpus_find_style(const char *name);
// "a, b or c": the names of the table, for messages.
void corpus_source_names(char *out, size_t cap);
void corpus_style_names(char *out, size_t cap);

uint64_t corpus_music_key(const char *tune, size_t len);
int corpus_is_val(uint64_t music_key, uint64_t seed, double val_fraction);

// Is the text valid UTF-8?
int corpus_valid_utf8(const char *text, size_t len);

// Reads an IrishMAN JSON file (a JSON array of records, or one record per
// line) and adds the tune in each record's "abc notation" field. Returns the
// number of records, or -1 + tb_error when the file is not such JSON.
long irishman_load_json(const char *path, TuneSet *set, int collection);

#endif
