// prepare_args.c: see prepare_args.h.
#include "prepare_args.h"

#include "lib/command.h"
#include "lib/common.h"
#include "augment.h"

void prepare_usage(FILE *out) {
    char sources[256], styles[256];
    corpus_source_names(sources, sizeof sources);
    corpus_style_names(styles, sizeof styles);
    fprintf(out,
            "usage: tunebench prepare [options] INPUT...\n"
            "  Builds the tokenizer and token shards from ABC files. INPUT: .abc files or\n"
            "  folders of them (searched recursively); for a source with a published split\n"
            "  (irishman), the folder holding its files.\n"
            "  --corpus NAME         the source, which names the corpus: %s (default local)\n"
            "  --out DIR             output folder (default data/corpus); writes DIR/NAME/STYLE/\n"
            "  --style S             %s, or all (default all)\n"
            "  --augment transpose   add key-transposed copies (%+d..%+d semitones, abc2abc) of the\n"
            "                        training tunes; writes DIR/NAME/STYLE-transpose/\n"
            "  --tokenizer abc|bytes music-aware 1024 tokens (default) or plain bytes; bytes\n"
            "                        writes DIR/NAME/STYLE-bytes/\n"
            "  --seed N              split and shuffle seed (default 1234)\n"
            "  --val-fraction F      share of tunes for validation (default 0.05), for sources\n"
            "                        without a published split\n"
            "  --source FILE         JSON describing where the inputs came from, copied into\n"
            "                        the manifest (scripts/fetch_corpus.sh writes it)\n"
            "  --force               rebuild even when the manifest says it is up to date\n",
            sources, styles, AUGMENT_MIN_SEMITONES, AUGMENT_MAX_SEMITONES);
}

int prepare_parse_args(int argc, char **argv, PrepareArgs *a) {
    *a = (PrepareArgs){.out = "data/corpus", .style = "all", .corpus = "local", .augment = "none",
                       .tokenizer = "abc", .seed = 1234, .val_fraction = 0.05};
    a->inputs = tb_calloc((size_t)argc + 1, sizeof *a->inputs);
    const TbOption opts[] = {
        TB_OPT("--out", TB_OPT_STRING, &a->out), TB_OPT("--corpus", TB_OPT_STRING, &a->corpus),
        TB_OPT("--style", TB_OPT_STRING, &a->style), TB_OPT("--augment", TB_OPT_STRING, &a->augment),
        TB_OPT("--source", TB_OPT_STRING, &a->source_path), TB_OPT("--seed", TB_OPT_U64, &a->seed),
        TB_OPT("--val-fraction", TB_OPT_DOUBLE, &a->val_fraction), TB_OPT("--tokenizer", TB_OPT_STRING, &a->tokenizer),
        TB_OPT("--force", TB_OPT_TRUE, &a->force),
        {.name = NULL, .kind = TB_OPT_LIST, .dest = a->inputs, .seen = &a->num_inputs, .max = argc}};
    int rc = tb_parse_options("prepare", argc, argv, opts, TB_OPTIONS(opts));
    if (rc == 0 && a->num_inputs == 0) return tb_error("prepare needs at least one INPUT (see tunebench prepare --help)");
    return rc;
}

int prepare_resolve_args(PrepareArgs *a) {
    a->bytes_mode = tb_streq(a->tokenizer, "bytes");
    if (!a->bytes_mode && !tb_streq(a->tokenizer, "abc"))
        return tb_error("prepare: --tokenizer must be abc or bytes, not '%s'", a->tokenizer);
    if (!(a->val_fraction > 0.0 && a->val_fraction < 1.0))
        return tb_error("prepare: --val-fraction must be between 0 and 1 (exclusive), e.g. 0.05");
    char names[256];
    a->source = corpus_find_source(a->corpus);
    if (!a->source) {
        corpus_source_names(names, sizeof names);
        return tb_error("prepare: --corpus must be %s, not '%s' (data/sources.def lists them)", names, a->corpus);
    }
    for (int s = 0; s < corpus_num_styles && a->num_styles < 16; s++)
        if (tb_streq(a->style, "all") || tb_streq(a->style, corpus_styles[s].name))
            a->styles[a->num_styles++] = &corpus_styles[s];
    if (a->num_styles == 0) {
        corpus_style_names(names, sizeof names);
        return tb_error("prepare: --style must be %s or all, not '%s' (data/styles.def lists them)", names, a->style);
    }
    a->augmenting = tb_streq(a->augment, "transpose");
    if (!a->augmenting && !tb_streq(a->augment, "none"))
        return tb_error("prepare: --augment must be transpose or none, not '%s'", a->augment);
    return 0;
}
