// inputs.h: the files a `prepare` reads, found from its arguments.
//
// A source with a published split (sources.def) is read from the folder
// holding its two files, each file's tunes marked with its side; any other
// source from .abc files and folders of them, searched recursively in name
// order, each file's collection being the first folder below the argument.
#ifndef TB_INPUTS_H
#define TB_INPUTS_H

#include <stddef.h>

#include "corpus.h"

typedef struct {
    char **paths;
    int *collection;  // index into collections
    int *split;       // the published split of each file's tunes (CORPUS_TRAIN...)
    size_t count, cap;
    char **collections;
    int num_collections;
} InputList;

// Adds the inputs of source named by args[0..n) to in. Returns 0, or -1 +
// tb_error naming the argument.
int gather_inputs(InputList *in, const CorpusSource *source, const char *const *args, int n);
void input_list_free(InputList *in);
// The last component of a path.
const char *base_name(const char *path);

#endif
