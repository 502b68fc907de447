// targets.c: the fuzz targets (targets.def), written against the same entry
// points the CLI uses, each with the invariants its reader promises:
//   safetensors  refused with one line naming the input, or accepted with
//                every tensor inside the data region and sized by its shape;
//   config       refused with one line naming the input, or accepted and
//                unchanged through config_to_json / config_from_json (what a
//                resume does); the same text as a model's config.json is
//                refused naming the input or gives a spec within the bounds;
//   abc          the lexemes tile the text exactly (each 1..ABC_LEXEME_MAX
//                bytes), and each tune parses with its bars' text inside
//                bar_text and each note in a bar that exists.
// Included by tests/test_fuzz_replay.c and linked into each libFuzzer binary.
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "targets.h"
#include "data/abc_lexer.h"
#include "lib/common.h"
#include "lib/json_in.h"
#include "models/model.h"
#include "models/safetensors.h"
#include "src/music/tune.h"
#include "src/runner/config.h"

#define FUZZ_INPUT "fuzz-input"

static int broken(const char *what) {
    fprintf(stderr, "fuzz: invariant broken: %s (last error: %s)\n", what, tb_last_error());
    return -1;
}

// A refusal is one line that names the input.
static int refusal_ok(void) {
    const char *e = tb_last_error();
    return strstr(e, FUZZ_INPUT) && !strchr(e, '\n') ? 0 : broken("the error is not one line naming the input");
}

int fuzz_safetensors(const uint8_t *data, size_t size) {
    if (size == 0) return 0;  // fmemopen needs a byte; an empty file is test_safetensors' case
    FILE *fp = fmemopen((void *)data, size, "rb");
    if (!fp) return 0;
    tb_clear_error();
    SafeTensors *st = st_read(fp, FUZZ_INPUT);
    fclose(fp);
    if (!st) return refusal_ok();
    int rc = 0;
    double sum = 0.0;  // reads every float, so that ASan sees any read past the data
    for (int i = 0; i < st->num_tensors && rc == 0; i++) {
        const StTensor *t = &st->tensors[i];
        if (t->end > st->data_bytes || t->end - t->begin != t->numel * 4) rc = broken("a tensor outside its bytes");
        for (size_t k = 0; k < t->numel && rc == 0; k++) sum += t->data[k];
    }
    st_close(st);
    volatile double sink = sum;
    (void)sink;
    return rc;
}

static char *config_text(const ExperimentConfig *cfg) {
    cJSON *j = config_to_json(cfg);
    char *text = tb_json_print(j, 0);
    cJSON_Delete(j);
    return text;
}

int fuzz_config(const uint8_t *data, size_t size) {
    const char *text = (const char *)data;
    ExperimentConfig *cfg = tb_malloc(sizeof *cfg), *back = tb_malloc(sizeof *back);
    config_defaults(cfg);
    tb_clear_error();
    int rc = 0;
    if (config_parse(cfg, text, size, FUZZ_INPUT) != 0) {
        rc = refusal_ok();
    } else {
        cJSON *j = config_to_json(cfg);
        config_defaults(back);
        if (config_from_json(back, j, FUZZ_INPUT) != 0) {
            rc = broken("an accepted config does not read back from config_to_json");
        } else {
            char *a = config_text(cfg), *b = config_text(back);
            if (!a || !b || strcmp(a, b) != 0) rc = broken("a config changes through config_to_json");
            free(a), free(b);
        }
        cJSON_Delete(j);
    }
    free(cfg), free(back);

    tb_clear_error();
    cJSON *root = tb_json_parse(text, size, FUZZ_INPUT);
    if (!root) return rc ? rc : refusal_ok();
    ModelSpec spec;
    if (model_spec_from_config_json(&spec, root, FUZZ_INPUT) != 0) {
        if (rc == 0) rc = refusal_ok();
    } else if (model_spec_check(&spec, FUZZ_INPUT) != 0) {
        rc = broken("an accepted config.json has a shape field out of bounds");
    }
    cJSON_Delete(root);
    return rc;
}

static void parse_tune(const char *text, size_t len, void *ctx) {
    int *rc = ctx;
    MusicTune t;
    tune_parse(&t, text, len);
    for (int i = 0; i < t.num_bars && *rc == 0; i++) {
        const TuneBar *b = &t.bars[i];
        if (b->text_offset < 0 || b->text_length < 0 || b->text_offset + b->text_length > t.bar_text_len)
            *rc = broken("a bar's text outside bar_text");
    }
    for (int i = 0; i < t.num_notes && *rc == 0; i++)
        if (t.notes[i].bar < 0 || t.notes[i].bar >= t.num_bars) *rc = broken("a note in a bar that does not exist");
    tune_free(&t);
}

int fuzz_abc(const uint8_t *data, size_t size) {
    const char *text = (const char *)data;
    AbcLexer lx;
    abc_lexer_init(&lx, text, size);
    AbcLexeme l;
    size_t covered = 0;
    while (abc_lex_next(&lx, &l)) {
        if (l.start != covered || l.len < 1 || l.len > ABC_LEXEME_MAX || l.start + (size_t)l.len > size)
            return broken("the lexemes do not tile the text");
        covered += (size_t)l.len;
    }
    if (covered != size) return broken("the lexemes end before the text");
    int rc = 0;
    music_split_tunes(text, size, parse_tune, &rc);
    return rc;
}
