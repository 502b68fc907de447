// cmd_music_table.c: `tunebench music-table`, the music metrics of several
// sets of tunes (the four models and the real validation tunes) side by side,
// from the JSON files of `tunebench evaluate-music`: PREFIX.md, PREFIX.tex,
// and PREFIX.dat for the figure (plots/music_metrics.gp).
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/common.h"

typedef struct {
    const char *key;    // in "summary" (or "vs_reference.<q>.<field>" with a dot)
    const char *label;
    int percent;
} Column;

static const Column columns[] = {
    {"checker_valid_rate", "valid (checker)", 1},
    {"abc2midi_valid_rate", "valid (abc2midi)", 1},
    {"bar_consistency", "bars in meter", 1},
    {"key_consistency", "notes in key", 1},
    {"pitch_class_entropy", "PC entropy (bits)", 0},
    {"control_s_match", "S kept", 1},
    {"control_b_match", "B kept", 1},
    {"control_e_match", "E kept", 1},
    {"bars_in_train", "bars in train", 1},
    {"spans4_in_train", "4-bar spans in train", 1},
    {"bars.mean", "bars/tune", 0},
    {"pitch_range.mean", "range (semitones)", 0},
    {"vs_reference.bars.overlap", "bars overlap w/ val", 0},
    {"vs_reference.pitch_range.overlap", "range overlap w/ val", 0},
};
#define NCOL ((int)(sizeof columns / sizeof columns[0]))

// Looks a dotted key up under "summary" (or from the root for vs_reference).
static double lookup(const cJSON *root, const char *key) {
    const cJSON *o = strncmp(key, "vs_reference.", 13) == 0 ? root : cJSON_GetObjectItem(root, "summary");
    char part[64];
    const char *k = key;
    while (o && *k) {
        size_t n = strcspn(k, ".");
        snprintf(part, sizeof part, "%.*s", (int)n, k);
        o = cJSON_GetObjectItem(o, part);
        k += n + (k[n] == '.');
    }
    return cJSON_IsNumber(o) ? o->valuedouble : NAN;
}

static void cell(char *out, size_t cap, double v, int percent) {
    if (isnan(v)) snprintf(out, cap, "--");
    else if (percent) snprintf(out, cap, "%.1f", 100 * v);
    else snprintf(out, cap, "%.2f", v);
}

// Appends text to a TeX macro body: newlines become spaces, specials escaped.
static size_t tex_text(char *dst, size_t cap, const char *text) {
    size_t n = 0;
    for (const char *c = text; *c && n + 16 < cap; c++) {
        if (*c == '\n') dst[n++] = ' ';
        else if (strchr("#$%&_{}", *c)) dst[n++] = '\\', dst[n++] = *c;
        else if (*c == '\\' || *c == '^' || *c == '~') n += (size_t)snprintf(dst + n, cap - n, "\\char%d{}", *c);
        else dst[n++] = *c;
    }
    dst[n] = '\0';
    return n;
}

// PREFIX_generation.tex: how the tunes were generated (tbGenN, tbGenPrompt,
// tbGenSampling, tbGenSeed), from one set's `tunebench generate` index.json,
// so that the paper states the settings the tunes came from.
static int write_generation_facts(const char *out, const char *index_path) {
    size_t len;
    char *text = tb_read_file(index_path, &len);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    const cJSON *prompt = cJSON_GetObjectItem(j, "prompt"), *tunes = cJSON_GetObjectItem(j, "tunes");
    if (!cJSON_IsString(prompt) || !cJSON_IsArray(tunes)) {
        cJSON_Delete(j);
        return tb_error("music-table: %s is not a `tunebench generate` index.json", index_path);
    }
    double top_k = cJSON_GetNumberValue(cJSON_GetObjectItem(j, "top_k"));
    char tex[4096], esc[1024], k_text[32];
    if (top_k > 0) snprintf(k_text, sizeof k_text, "%.0f", top_k);
    else snprintf(k_text, sizeof k_text, "all");
    tex_text(esc, sizeof esc, prompt->valuestring);
    int n = snprintf(tex, sizeof tex,
                     "%% written by tunebench music-table from %s\n"
                     "\\newcommand{\\tbGenN}{%d}\n\\newcommand{\\tbGenPrompt}{%s}\n"
                     "\\newcommand{\\tbGenSampling}{temperature %g, top-k %s, top-p %g}\n"
                     "\\newcommand{\\tbGenSeed}{%.0f}\n",
                     index_path, cJSON_GetArraySize(tunes), esc,
                     cJSON_GetNumberValue(cJSON_GetObjectItem(j, "temperature")), k_text,
                     cJSON_GetNumberValue(cJSON_GetObjectItem(j, "top_p")),
                     cJSON_GetNumberValue(cJSON_GetObjectItem(j, "seed")));
    cJSON_Delete(j);
    char path[4096];
    snprintf(path, sizeof path, "%s_generation.tex", out);
    return tb_write_file_atomic(path, tex, (size_t)n);
}

int cmd_music_table(int argc, char **argv) {
    const char *out = NULL, *generation = NULL;
    const char *names[32], *paths[32];
    int n = 0;
    for (int i = 1; i < argc; i++) {
        if (tb_streq(argv[i], "--help") || tb_streq(argv[i], "-h")) {
            printf("usage: tunebench music-table --out PREFIX [--generation INDEX.json] NAME=METRICS.json...\n"
                   "  one row per set (e.g. gpt2-6m=results/music/gpt2-6m.json validation=...);\n"
                   "  writes PREFIX.md, PREFIX.tex and PREFIX.dat (for plots/music_metrics.gp), and\n"
                   "  with --generation (a `tunebench generate` index.json) PREFIX_generation.tex,\n"
                   "  the paper's macros for how the tunes were generated\n");
            return 0;
        } else if (i + 1 < argc && tb_streq(argv[i], "--out")) {
            out = argv[++i];
        } else if (i + 1 < argc && tb_streq(argv[i], "--generation")) {
            generation = argv[++i];
        } else if (strchr(argv[i], '=') && n < 32) {
            char *eq = strchr(argv[i], '=');
            *eq = '\0';
            names[n] = argv[i], paths[n] = eq + 1, n++;
        } else {
            fprintf(stderr, "tunebench: error: music-table: unknown argument '%s' (NAME=JSON or --out)\n", argv[i]);
            return 2;
        }
    }
    if (!out || n == 0) {
        fprintf(stderr, "tunebench: error: music-table needs --out PREFIX and at least one NAME=METRICS.json\n");
        return 2;
    }
    double v[32][NCOL];
    int tunes[32];
    for (int r = 0; r < n; r++) {
        size_t len;
        char *text = tb_read_file(paths[r], &len);
        cJSON *j = text ? cJSON_Parse(text) : NULL;
        free(text);
        if (!j || !cJSON_GetObjectItem(j, "summary")) {
            fprintf(stderr, "tunebench: error: music-table: %s is not an evaluate-music JSON file\n", paths[r]);
            cJSON_Delete(j);
            return 1;
        }
        for (int c = 0; c < NCOL; c++) v[r][c] = lookup(j, columns[c].key);
        tunes[r] = (int)lookup(j, "tunes");
        cJSON_Delete(j);
    }
    size_t cap = 65536, nm = 0, nt = 0, nd = 0;
    char *md = tb_malloc(cap), *tex = tb_malloc(cap), *dat = tb_malloc(cap);
    char c1[32];
    nm += (size_t)snprintf(md + nm, cap - nm, "| set | tunes |");
    for (int c = 0; c < NCOL; c++)
        nm += (size_t)snprintf(md + nm, cap - nm, " %s%s |", columns[c].label, columns[c].percent ? " (%)" : "");
    nm += (size_t)snprintf(md + nm, cap - nm, "\n|---|---:|");
    for (int c = 0; c < NCOL; c++) nm += (size_t)snprintf(md + nm, cap - nm, "---:|");
    nm += (size_t)snprintf(md + nm, cap - nm, "\n");
    // The LaTeX table is transposed (metrics as rows) so that it fits a page.
    nt += (size_t)snprintf(tex + nt, cap - nt,
                           "%% written by tunebench music-table\n\\begin{table}[t]\\centering\\small\n"
                           "\\begin{tabular}{l");
    for (int r = 0; r < n; r++) nt += (size_t)snprintf(tex + nt, cap - nt, "r");
    nt += (size_t)snprintf(tex + nt, cap - nt, "}\\hline\nmetric");
    for (int r = 0; r < n; r++) nt += (size_t)snprintf(tex + nt, cap - nt, " & %s", names[r]);
    nt += (size_t)snprintf(tex + nt, cap - nt, "\\\\\\hline\ntunes");
    for (int r = 0; r < n; r++) nt += (size_t)snprintf(tex + nt, cap - nt, " & %d", tunes[r]);
    nt += (size_t)snprintf(tex + nt, cap - nt, "\\\\\n");
    for (int c = 0; c < NCOL; c++) {
        nt += (size_t)snprintf(tex + nt, cap - nt, "%s%s", columns[c].label, columns[c].percent ? " (\\%)" : "");
        for (int r = 0; r < n; r++) {
            cell(c1, sizeof c1, v[r][c], columns[c].percent);
            nt += (size_t)snprintf(tex + nt, cap - nt, " & %s", c1);
        }
        nt += (size_t)snprintf(tex + nt, cap - nt, "\\\\\n");
    }
    nt += (size_t)snprintf(tex + nt, cap - nt,
                           "\\hline\\end{tabular}\n\\caption{Objective music metrics of generated tunes and of the "
                           "real validation tunes, scored by the same code (tunebench evaluate-music). Overlaps "
                           "compare per-tune histograms with the validation set's (1 = identical).}\n"
                           "\\label{tab:music-metrics}\n\\end{table}\n");
    nd += (size_t)snprintf(dat + nd, cap - nd, "# set valid_checker valid_abc2midi bars_in_meter notes_in_key "
                                               "bars_in_train spans4_in_train (percent)\n");
    for (int r = 0; r < n; r++) {
        nm += (size_t)snprintf(md + nm, cap - nm, "| %s | %d |", names[r], tunes[r]);
        for (int c = 0; c < NCOL; c++) {
            cell(c1, sizeof c1, v[r][c], columns[c].percent);
            nm += (size_t)snprintf(md + nm, cap - nm, " %s |", c1);
        }
        nm += (size_t)snprintf(md + nm, cap - nm, "\n");
        const int fig[] = {0, 1, 2, 3, 8, 9};
        nd += (size_t)snprintf(dat + nd, cap - nd, "\"%s\"", names[r]);
        for (int k = 0; k < 6; k++) {
            double x = v[r][fig[k]];
            nd += (size_t)snprintf(dat + nd, cap - nd, " %s", isnan(x) ? "NaN" : (snprintf(c1, sizeof c1, "%.2f", 100 * x), c1));
        }
        nd += (size_t)snprintf(dat + nd, cap - nd, "\n");
    }
    char path[4096], dir[4096];
    snprintf(dir, sizeof dir, "%s", out);
    char *slash = strrchr(dir, '/');
    int rc = 0;
    if (slash) *slash = '\0', rc = tb_mkdirs(dir);
    snprintf(path, sizeof path, "%s.md", out);
    if (!rc) rc = tb_write_file_atomic(path, md, nm);
    snprintf(path, sizeof path, "%s.tex", out);
    if (!rc) rc = tb_write_file_atomic(path, tex, nt);
    snprintf(path, sizeof path, "%s.dat", out);
    if (!rc) rc = tb_write_file_atomic(path, dat, nd);
    if (!rc && generation) rc = write_generation_facts(out, generation);
    if (!rc) fputs(md, stdout);
    else tb_report();
    free(md), free(tex), free(dat);
    return rc ? 1 : 0;
}
