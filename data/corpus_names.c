// corpus_names.c: the tables of corpus sources (sources.def) and tokenization
// styles (styles.def), and their lookup by name.
#include <stdio.h>
#include <string.h>

#include "corpus.h"

const CorpusSource corpus_sources[] = {
#define SOURCE(name, reader, train_file, val_file, description) {#name, reader, train_file, val_file, description},
#include "sources.def"
#undef SOURCE
};
const int corpus_num_sources = (int)(sizeof corpus_sources / sizeof corpus_sources[0]);

const CorpusStyle corpus_styles[] = {
#define STYLE(name, apply, description) {#name, apply, description},
#include "styles.def"
#undef STYLE
};
const int corpus_num_styles = (int)(sizeof corpus_styles / sizeof corpus_styles[0]);

const CorpusSource *corpus_find_source(const char *name) {
    for (int i = 0; i < corpus_num_sources; i++)
        if (strcmp(corpus_sources[i].name, name) == 0) return &corpus_sources[i];
    return NULL;
}

const CorpusStyle *corpus_find_style(const char *name) {
    for (int i = 0; i < corpus_num_styles; i++)
        if (strcmp(corpus_styles[i].name, name) == 0) return &corpus_styles[i];
    return NULL;
}

static void join_names(char *out, size_t cap, const char *(*name_at)(int), int n) {
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < n && used < cap; i++) {
        const char *sep = i == 0 ? "" : i == n - 1 ? " or " : ", ";
        used += (size_t)snprintf(out + used, cap - used, "%s%s", sep, name_at(i));
    }
}

static const char *source_name_at(int i) { return corpus_sources[i].name; }
static const char *style_name_at(int i) { return corpus_styles[i].name; }

void corpus_source_names(char *out, size_t cap) { join_names(out, cap, source_name_at, corpus_num_sources); }
void corpus_style_names(char *out, size_t cap) { join_names(out, cap, style_name_at, corpus_num_styles); }
