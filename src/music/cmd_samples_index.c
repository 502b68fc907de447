// cmd_samples_index.c: `tunebench samples-index`, the page that shows the
// rendered samples: per set of tunes its metrics summary, then per tune the
// score (SVG), an audio player (MP3, WAV fallback) and the tune's metrics.
//
// It reads what scripts/samples.sh leaves in each folder: render.tsv (which
// tools produced what) and metrics.json (tunebench evaluate-music). Every
// file it links is checked to exist, so the page never points at nothing.
// A small script counts resource load errors into <body data-load-errors>,
// which the headless-browser test reads back.
#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/command.h"
#include "lib/common.h"

static void html_text(FILE *f, const char *s) {
    for (; s && *s; s++) {
        if (*s == '<') fputs("&lt;", f);
        else if (*s == '>') fputs("&gt;", f);
        else if (*s == '&') fputs("&amp;", f);
        else if (*s == '"') fputs("&quot;", f);
        else fputc(*s, f);
    }
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static const cJSON *find_tune(const cJSON *tunes, const char *file) {
    const cJSON *t;
    cJSON_ArrayForEach(t, tunes) {
        const cJSON *src = cJSON_GetObjectItem(t, "source");
        if (cJSON_IsString(src) && tb_streq(src->valuestring, file)) return t;
    }
    return NULL;
}

// The rows of the metrics tables, a set's summary (side 0) and each tune's
// (side 1), in one list: per side the JSON field (NULL: not in that table),
// the label, and whether it is a share shown as a percentage (a tune's
// rates are yes or no).
typedef struct {
    const char *name[2], *label[2];
    int percent[2];
} MetricRow;

static const MetricRow metric_rows[] = {
    {{"tunes", NULL}, {"tunes", NULL}, {0, 0}},
    {{"checker_valid_rate", "checker_valid"}, {"valid (our checker)", "valid (our checker)"}, {1, 0}},
    {{"abc2midi_valid_rate", "abc2midi_valid"}, {"valid (abc2midi)", "valid (abc2midi)"}, {1, 0}},
    {{"bar_consistency", "bar_consistency"}, {"bars matching the meter", "bars matching the meter"}, {1, 1}},
    {{"key_consistency", "key_consistency"}, {"notes in the key", "notes in the key"}, {1, 1}},
    {{"pitch_class_entropy", "pitch_class_entropy"}, {"pitch-class entropy (bits)", "pitch-class entropy"}, {0, 0}},
    {{NULL, "bars"}, {NULL, "bars"}, {0, 0}},
    {{NULL, "pitch_range"}, {NULL, "range (semitones)"}, {0, 0}},
    {{"control_s_match", "control_s_match"}, {"S: control code kept", "S: kept"}, {1, 0}},
    {{"bars_in_train", "bars_in_train"}, {"bars seen in training", "bars seen in training"}, {1, 1}},
};

static void metric_cell(FILE *f, const cJSON *o, const char *name, const char *label, int percent) {
    const cJSON *v = cJSON_GetObjectItem(o, name);
    fprintf(f, "<tr><th>%s</th><td>", label);
    if (cJSON_IsBool(v)) fputs(cJSON_IsTrue(v) ? "yes" : "<b class=bad>no</b>", f);
    else if (cJSON_IsNumber(v) && percent) fprintf(f, "%.1f%%", 100 * v->valuedouble);
    else if (cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble)) fprintf(f, "%.0f", v->valuedouble);
    else if (cJSON_IsNumber(v)) fprintf(f, "%.3f", v->valuedouble);
    else fputs("&ndash;", f);
    fputs("</td></tr>\n", f);
}

// A <table class=CLS> of the values in o of metric_rows' side (0: a set's
// summary, 1: a tune).
static void metric_table(FILE *f, const char *cls, const cJSON *o, int side) {
    fprintf(f, "<table class=%s>\n", cls);
    for (size_t i = 0; i < sizeof metric_rows / sizeof metric_rows[0]; i++) {
        const MetricRow *r = &metric_rows[i];
        if (r->name[side]) metric_cell(f, o, r->name[side], r->label[side], r->percent[side]);
    }
    fputs("</table>\n", f);
}


// The tune's file set/NAME.EXT (under root), embedded as open, its path
// from the page, close: only when it exists on disk; else the line why_not.
// listed (render.tsv's flag) when it is not there, else 0.
static int embed_file(FILE *f, const char *root, const char *set, const char *name, const char *ext, int listed,
                      const char *open, const char *close, const char *why_not) {
    char rel[600], path[4096];
    snprintf(rel, sizeof rel, "%s/%s.%s", set, name, ext);
    snprintf(path, sizeof path, "%s/%s", root, rel);
    if (listed && tb_file_exists(path)) {
        fputs(open, f);
        html_text(f, rel);
        fputs(close, f);
        return 0;
    }
    fprintf(f, "<p class=bad>%s</p>\n", why_not);
    return listed;  // render.tsv said it existed
}

// Writes one set's section; returns the number of links it checked missing.
static int write_set(FILE *f, const char *root, const char *set) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/render.tsv", root, set);
    size_t len;
    char *tsv = tb_read_file(path, &len);
    if (!tsv) return -1;
    snprintf(path, sizeof path, "%s/%s/metrics.json", root, set);
    char *mtext = tb_read_file(path, &len);
    cJSON *metrics = mtext ? cJSON_Parse(mtext) : NULL;
    free(mtext);
    if (!metrics) tb_clear_error();

    fprintf(f, "<section id=\"set-");
    html_text(f, set);
    fputs("\">\n<h2>", f);
    html_text(f, set);
    fputs("</h2>\n", f);
    if (metrics)
        metric_table(f, "summary", cJSON_GetObjectItem(metrics, "summary"), 0);
    else fputs("<p class=bad>no metrics.json for this set</p>\n", f);
    const cJSON *tunes = metrics ? cJSON_GetObjectItem(metrics, "tunes") : NULL;

    int missing = 0;
    char *line = strchr(tsv, '\n');  // skip the header row
    while (line && *++line) {
        char *end = strchr(line, '\n');
        if (end) *end = '\0';
        char name[256];
        int midi, wav, mp3, svg;
        if (sscanf(line, "%255[^\t]\t%d\t%d\t%d\t%d", name, &midi, &wav, &mp3, &svg) == 5) {
            char file[300], rel[600];
            snprintf(file, sizeof file, "%s.abc", name);
            const cJSON *m = find_tune(tunes, file);
            const cJSON *title = cJSON_GetObjectItem(m, "title");
            fputs("<div class=tune>\n<h3>", f);
            html_text(f, cJSON_IsString(title) && title->valuestring[0] ? title->valuestring : name);
            fputs(" <small>", f);
            html_text(f, name);
            fputs("</small></h3>\n", f);
            missing += embed_file(f, root, set, name, "svg", svg, "<img class=score alt=\"score\" src=\"", "\">\n",
                                  "abcm2ps could not draw this tune");
            missing += embed_file(f, root, set, name, "mp3", mp3, "<audio controls preload=\"metadata\" src=\"",
                                  "\"></audio>\n", "no audio: abc2midi or fluidsynth could not render this tune");
            fputs("<p class=files>", f);
            const char *exts[] = {"abc", "mid", "wav"};
            for (int k = 0; k < 3; k++) {
                snprintf(rel, sizeof rel, "%s/%s.%s", set, name, exts[k]);
                snprintf(path, sizeof path, "%s/%s", root, rel);
                if (!tb_file_exists(path)) continue;
                fputs("<a href=\"", f);
                html_text(f, rel);
                fprintf(f, "\">%s</a> ", exts[k]);
            }
            fputs("</p>\n", f);
            if (m) {
                metric_table(f, "metrics", m, 1);
                const cJSON *issues = cJSON_GetObjectItem(m, "checker_issues");
                if (cJSON_GetArraySize(issues) > 0) {
                    fputs("<details><summary>checker</summary><pre>", f);
                    const cJSON *is;
                    cJSON_ArrayForEach(is, issues) {
                        html_text(f, cJSON_GetStringValue(is));
                        fputc('\n', f);
                    }
                    fputs("</pre></details>\n", f);
                }
            }
            fputs("</div>\n", f);
        }
        line = end;
    }
    fputs("</section>\n", f);
    cJSON_Delete(metrics);
    free(tsv);
    return missing;
}

static void usage(FILE *out) {
    fprintf(out, "usage: tunebench samples-index --dir SAMPLES_DIR --out HTML\n"
                 "  SAMPLES_DIR holds one folder per set, as scripts/samples.sh writes them\n");
}

int cmd_samples_index(int argc, char **argv) {
    const char *dir = NULL, *out = NULL;
    const TbOption opts[] = {TB_OPT("--dir", TB_OPT_STRING, &dir), TB_OPT("--out", TB_OPT_STRING, &out)};
    int rc = tb_command_start(tb_parse_options("samples-index", argc, argv, opts, TB_OPTIONS(opts)), usage);
    if (rc != TB_COMMAND_GO_ON) return rc;
    if (!dir || !out) return tb_error("samples-index needs --dir SAMPLES_DIR and --out HTML"), tb_exit_usage();
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "tunebench: error: samples-index: cannot open %s (run scripts/samples.sh first)\n", dir);
        return 1;
    }
    char **sets = NULL;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char p[4096];
        snprintf(p, sizeof p, "%s/%s/render.tsv", dir, e->d_name);
        if (e->d_name[0] == '.' || !tb_file_exists(p)) continue;
        sets = realloc(sets, (size_t)(n + 1) * sizeof *sets);
        if (!sets) tb_die("out of memory");
        sets[n++] = tb_strdup(e->d_name);
    }
    closedir(d);
    if (n == 0) {
        fprintf(stderr, "tunebench: error: samples-index: no set folders with render.tsv in %s\n", dir);
        free(sets);
        return 1;
    }
    qsort(sets, (size_t)n, sizeof *sets, cmp_str);

    AtomicFile af;
    FILE *f = atomic_open(&af, out);
    if (!f) {
        tb_report();
        return 1;
    }
    fputs("<!doctype html>\n<html lang=en>\n<head>\n<meta charset=\"utf-8\">\n"
          "<title>tunebench: generated tunes</title>\n"
          "<style>\n"
          "body{font-family:sans-serif;max-width:1100px;margin:auto;padding:1em}\n"
          ".tune{border-top:1px solid #ccc;padding:.5em 0}\n"
          "img.score{max-width:100%;background:#fff}\n"
          "table{border-collapse:collapse;font-size:90%}th{text-align:left;padding-right:1em;font-weight:normal}\n"
          ".bad{color:#a00}small{color:#777}\n"
          "</style>\n"
          "<script>\n"
          "// Counts resources that fail to load (a missing score or audio file).\n"
          "window.tbErrors=[];\n"
          "window.addEventListener('error',function(e){var t=e.target||{};"
          "window.tbErrors.push(t.src||t.currentSrc||e.message||'error');},true);\n"
          "window.addEventListener('load',function(){document.body.setAttribute('data-load-errors',"
          "String(window.tbErrors.length));document.getElementById('status').textContent="
          "'loaded; resource errors: '+window.tbErrors.length+' '+window.tbErrors.join(' ');});\n"
          "</script>\n</head>\n<body>\n<h1>tunebench: generated and real tunes</h1>\n"
          "<p id=status>loading</p>\n<p>Sets: ",
          f);
    for (int i = 0; i < n; i++) {
        fputs("<a href=\"#set-", f);
        html_text(f, sets[i]);
        fputs("\">", f);
        html_text(f, sets[i]);
        fputs("</a> ", f);
    }
    fputs("</p>\n", f);
    int missing = 0;
    rc = 0;
    for (int i = 0; i < n; i++) {
        int m = write_set(f, dir, sets[i]);
        if (m < 0) rc = -1;
        else missing += m;
    }
    fputs("</body>\n</html>\n", f);
    for (int i = 0; i < n; i++) free(sets[i]);
    free(sets);
    if (rc) {
        atomic_abort(&af);
        tb_report();
        return 1;
    }
    if (atomic_commit(&af)) {
        tb_report();
        return 1;
    }
    if (missing) fprintf(stderr, "samples-index: %d files listed in render.tsv are missing\n", missing);
    printf("samples-index: %d sets -> %s\n", n, out);
    return 0;
}
