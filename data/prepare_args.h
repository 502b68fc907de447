// prepare_args.h: the command line of `tunebench prepare` (prepare.c).
#ifndef TB_PREPARE_ARGS_H
#define TB_PREPARE_ARGS_H

#include <stdint.h>
#include <stdio.h>

#include "corpus.h"

typedef struct {  // the options, then what they name
    const char *out, *style, *source_path, *corpus, *augment, *tokenizer;
    const char **inputs;  // argv's own strings
    int num_inputs, force, bytes_mode, augmenting, num_styles;
    uint64_t seed;
    double val_fraction;
    const CorpusSource *source;
    const CorpusStyle *styles[16];
} PrepareArgs;

void prepare_usage(FILE *out);
// The options and inputs into a (a->inputs malloc'ed, also on error: free
// it). 0, 1 (--help) or -1 with the error set; fits tb_command_start.
int prepare_parse_args(int argc, char **argv, PrepareArgs *a);
// The source, styles, tokenizer and augmentation the options name, checked
// against data/sources.def and data/styles.def. 0, or -1 with the error set.
int prepare_resolve_args(PrepareArgs *a);

#endif
