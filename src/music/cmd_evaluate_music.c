// cmd_evaluate_music.c: `tunebench evaluate-music`, the music metrics of a
// folder (or file) of tunes, per tune and aggregated, as JSON.
//
// The same command scores generated tunes and the real validation tunes, so
// the two columns of the comparison come from one piece of code.
#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/command.h"
#include "lib/common.h"
#include "music_eval.h"
#include "music_metrics.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: tunebench evaluate-music (--dir DIR | --file ABC) --out JSON [options]\n"
            "  --dir DIR        score every *.abc file in DIR (each may hold several tunes)\n"
            "  --file ABC       score the tunes of one ABC file (e.g. the validation split)\n"
            "  --train ABC      training split, for novelty (bars and 4-bar spans seen verbatim)\n"
            "  --ref ABC|DIR    reference tunes (the validation set) for length and range distributions\n"
            "  --label NAME     name of this set in the JSON (default: the input path)\n"
            "  --max-tunes N    score only the first N tunes (0: all)\n"
            "  --no-abc2midi    skip the abc2midi check\n"
            "  --out JSON       where to write the metrics\n");
}

int cmd_evaluate_music(int argc, char **argv) {
    const char *dir = NULL, *file = NULL, *train = NULL, *ref = NULL, *out = NULL, *label = NULL;
    int use_abc2midi = 1, max_tunes = 0;
    const TbOption opts[] = {
        TB_OPT("--dir", TB_OPT_STRING, &dir), TB_OPT("--file", TB_OPT_STRING, &file),
        TB_OPT("--train", TB_OPT_STRING, &train), TB_OPT("--ref", TB_OPT_STRING, &ref),
        TB_OPT("--out", TB_OPT_STRING, &out), TB_OPT("--label", TB_OPT_STRING, &label),
        TB_OPT_IN("--max-tunes", TB_OPT_INT, &max_tunes, 0, 1e9), TB_OPT("--no-abc2midi", TB_OPT_FALSE, &use_abc2midi)};
    int rc = tb_command_start(tb_parse_options("evaluate-music", argc, argv, opts, TB_OPTIONS(opts)), usage);
    if (rc != TB_COMMAND_GO_ON) return rc;
    if ((!dir) == (!file) || !out)
        return tb_error("evaluate-music needs one of --dir or --file, and --out"), tb_exit_usage();
    MusicEvalOptions opt = {
        .input = dir ? dir : file,
        .train = train,
        .ref = ref,
        .label = label ? label : (dir ? dir : file),
        .use_abc2midi = use_abc2midi,
        .max_tunes = max_tunes,
    };
    cJSON *json = music_evaluate(&opt);
    if (!json) {
        tb_report();
        return 1;
    }
    rc = tb_json_write(out, json);
    if (!rc) {
        const cJSON *s = cJSON_GetObjectItem(json, "summary");
        const cJSON *a2m = cJSON_GetObjectItem(s, "abc2midi_valid_rate");
        char a2m_text[32] = "not run";
        if (cJSON_IsNumber(a2m)) snprintf(a2m_text, sizeof a2m_text, "%.3f", a2m->valuedouble);
        printf("evaluate-music: %d tunes, checker-valid %.3f, abc2midi-valid %s, bar consistency %.3f, "
               "key consistency %.3f -> %s\n",
               cJSON_GetObjectItem(s, "tunes")->valueint,
               cJSON_GetObjectItem(s, "checker_valid_rate")->valuedouble, a2m_text,
               cJSON_GetObjectItem(s, "bar_consistency")->valuedouble,
               cJSON_GetObjectItem(s, "key_consistency")->valuedouble, out);
    } else {
        tb_report();
    }
    cJSON_Delete(json);
    return rc ? 1 : 0;
}
