// inputs.c: the files a `prepare` reads, found from its arguments (inputs.h).
#include "inputs.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/common.h"

static int collection_index(InputList *in, const char *name) {
    for (int i = 0; i < in->num_collections; i++)
        if (strcmp(in->collections[i], name) == 0) return i;
    in->collections = realloc(in->collections, (size_t)(in->num_collections + 1) * sizeof(char *));
    if (!in->collections) tb_die("out of memory");
    in->collections[in->num_collections] = tb_strdup(name);
    return in->num_collections++;
}

static int is_abc_file(const char *name) {
    size_t n = strlen(name);
    return n >= 4 && strcasecmp(name + n - 4, ".abc") == 0;
}

static void add_input(InputList *in, const char *path, const char *collection, int split) {
    if (in->count == in->cap) {
        in->cap = in->cap ? in->cap * 2 : 256;
        in->paths = realloc(in->paths, in->cap * sizeof *in->paths);
        in->collection = realloc(in->collection, in->cap * sizeof *in->collection);
        in->split = realloc(in->split, in->cap * sizeof *in->split);
        if (!in->paths || !in->collection || !in->split) tb_die("out of memory");
    }
    in->paths[in->count] = tb_strdup(path);
    in->collection[in->count] = collection_index(in, collection);
    in->split[in->count] = split;
    in->count++;
}

// Adds the .abc files under dir (sorted, recursive). The collection is the
// first folder below the root, or the root's own name.
static int walk(InputList *in, const char *dir, const char *collection, int depth) {
    if (depth > 16) return tb_error("folders nested too deeply under %s", dir);
    size_t n;
    char **names = tb_list_dir(dir, "", &n);
    if (!names) return tb_error("cannot open folder %s", dir);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%.4000s/%s", dir, names[i]);
        if (rc == 0) {
            if (tb_dir_exists(path)) rc = walk(in, path, depth == 0 ? names[i] : collection, depth + 1);
            else if (is_abc_file(names[i])) add_input(in, path, collection, CORPUS_UNSPLIT);
        }
    }
    tb_free_names(names, n);
    return rc;
}

const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

// The inputs of a source: for a source with a published split, the folder
// holding its two files; otherwise .abc files and folders of them.
int gather_inputs(InputList *in, const CorpusSource *source, const char *const *args, int n) {
    for (int i = 0; i < n; i++) {
        char root[4096];
        snprintf(root, sizeof root, "%s", args[i]);
        size_t len = strlen(root);
        while (len > 1 && root[len - 1] == '/') root[--len] = '\0';
        if (source->train_file) {
            if (!tb_dir_exists(root))
                return tb_error("corpus %s: %s is not a folder (give the folder holding %s and %s)", source->name,
                                root, source->train_file, source->val_file);
            const char *files[2] = {source->train_file, source->val_file};
            for (int f = 0; f < 2; f++) {
                char path[4200];
                snprintf(path, sizeof path, "%.4000s/%s", root, files[f]);
                if (!tb_file_exists(path))
                    return tb_error("corpus %s: %s is missing (scripts/fetch_corpus.sh %s fetches it)",
                                    source->name, path, source->name);
                add_input(in, path, files[f], f == 0 ? CORPUS_TRAIN : CORPUS_VAL);
            }
        } else if (tb_dir_exists(root)) {
            if (walk(in, root, base_name(root), 0) != 0) return -1;
        } else if (tb_file_exists(root)) {
            char parent[4096];
            snprintf(parent, sizeof parent, "%s", root);
            char *slash = strrchr(parent, '/');
            const char *collection = slash ? (*slash = '\0', base_name(parent)) : ".";
            add_input(in, root, collection, CORPUS_UNSPLIT);
        } else {
            return tb_error("input %s does not exist (give .abc files or folders of them)", root);
        }
    }
    if (in->count == 0) return tb_error("no .abc files found in the inputs");
    return 0;
}

void input_list_free(InputList *in) {
    for (size_t f = 0; f < in->count; f++) free(in->paths[f]);
    for (int c = 0; c < in->num_collections; c++) free(in->collections[c]);
    free(in->paths), free(in->collection), free(in->split), free(in->collections);
    memset(in, 0, sizeof *in);
}
