// cmd_representation.c: `tunebench representation-table`, the reproduced
// study's comparison of music representations: for the validation tunes,
// the size on disk and the sequence length of each form of the same music:
//
//   ABC    bytes; tokens of the music-aware tokenizer and of the byte one
//   MIDI   bytes (abc2midi); events in its tracks (every delta-time event,
//          meta events included: the length of a MIDI event sequence)
//   WAV    bytes and samples per channel (fluidsynth, 44.1 kHz, 16-bit)
//   MP3    bytes (lame -V 4); its sequence length is the WAV's samples
//
// Rendering audio takes about half a second a tune, so --sample N renders N
// tunes evenly spread over the split (the table says how many).
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../data/tokenizer.h"
#include "lib/command.h"
#include "lib/common.h"
#include "music_eval.h"
#include "music_tools.h"

// Counts the events of a standard MIDI file's tracks; -1 if it is not one.
long music_midi_event_count(const unsigned char *d, size_t n) {
    if (n < 14 || memcmp(d, "MThd", 4) != 0) return -1;
    size_t pos = 8 + ((size_t)d[4] << 24 | (size_t)d[5] << 16 | (size_t)d[6] << 8 | d[7]);
    long events = 0;
    while (pos + 8 <= n) {
        size_t len = (size_t)d[pos + 4] << 24 | (size_t)d[pos + 5] << 16 | (size_t)d[pos + 6] << 8 | d[pos + 7];
        int is_track = memcmp(d + pos, "MTrk", 4) == 0;
        size_t p = pos + 8, end = pos + 8 + len;
        if (end > n) return -1;
        unsigned char running = 0;
        while (is_track && p < end) {
            while (p < end && (d[p] & 0x80)) p++;  // delta time (variable length)
            if (++p > end || p >= end) break;
            unsigned char st = d[p];
            if (st == 0xFF || st == 0xF0 || st == 0xF7) {
                p += st == 0xFF ? 2 : 1;  // meta: type byte; then a variable-length size
                size_t sz = 0;
                while (p < end && (d[p] & 0x80)) sz = sz << 7 | (d[p++] & 0x7F);
                if (p >= end) return -1;
                sz = sz << 7 | d[p++];
                p += sz;
            } else {
                if (st & 0x80) running = st, p++;
                if (!running) return -1;
                int hi = running & 0xF0;
                p += (hi == 0xC0 || hi == 0xD0) ? 1 : 2;
            }
            events++;
        }
        pos = end;
    }
    return events;
}

typedef struct {
    const Tokenizer *tok, *bytes;
    const char *tmp;
    int stride, seen, failed;
    // per tune rows: abc bytes, abc tokens, byte tokens, midi bytes, midi events,
    // wav bytes, wav samples, mp3 bytes
    double (*rows)[8];
    int n, cap;
    int rendered_fail;
} ReprCtx;

static long file_bytes(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void measure(const char *text, size_t len, const char *source, int index, void *vctx) {
    (void)source, (void)index;
    ReprCtx *c = vctx;
    int k = c->seen++;
    if (c->failed || k % c->stride != 0) return;
    char abc[600], mid[600], wav[600], mp3[600];
    snprintf(abc, sizeof abc, "%s/t.abc", c->tmp);
    snprintf(mid, sizeof mid, "%s/t.mid", c->tmp);
    snprintf(wav, sizeof wav, "%s/t.wav", c->tmp);
    snprintf(mp3, sizeof mp3, "%s/t.mp3", c->tmp);
    unlink(mid), unlink(wav), unlink(mp3);
    if (tb_write_file_atomic(abc, text, len)) {
        c->failed = 1;
        return;
    }
    int st;
    const char *a2m[] = {"abc2midi", abc, "-o", mid, "-silent", NULL};
    const char *fs[] = {"fluidsynth", "-ni", "-q", "-F", wav, "-r", "44100", "-O", "s16", "-T", "wav",
                        "/usr/share/sounds/sf2/FluidR3_GM.sf2", mid, NULL};
    const char *lame[] = {"lame", "--quiet", "-V", "4", wav, mp3, NULL};
    if (music_run_tool(a2m, "abcmidi", NULL, &st) || file_bytes(mid) <= 0 ||
        music_run_tool(fs, "fluidsynth", NULL, &st) || file_bytes(wav) <= 44 ||
        music_run_tool(lame, "lame", NULL, &st) || file_bytes(mp3) <= 0) {
        if (strstr(tb_last_error(), "not installed")) c->failed = 1;
        c->rendered_fail++;  // a tune the tools cannot render is left out, and counted
        tb_clear_error();
        return;
    }
    size_t mlen;
    unsigned char *md = (unsigned char *)tb_read_file(mid, &mlen);
    long events = md ? music_midi_event_count(md, mlen) : -1;
    free(md);
    // Samples per channel from the WAV header: data bytes / (channels * 2).
    FILE *f = fopen(wav, "rb");
    unsigned char h[44] = {0};
    size_t got = f ? fread(h, 1, 44, f) : 0;
    if (f) fclose(f);
    int channels = h[22] | h[23] << 8;
    long data_bytes = file_bytes(wav) - 44;
    if (events < 0 || got != 44 || channels <= 0) {
        c->rendered_fail++;
        return;
    }
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 128;
        c->rows = realloc(c->rows, (size_t)c->cap * sizeof *c->rows);
        if (!c->rows) tb_die("out of memory");
    }
    double *r = c->rows[c->n++];
    r[0] = (double)len;
    r[1] = c->tok ? (double)tok_encode(c->tok, text, len, NULL, 0) : -1;
    r[2] = (double)tok_encode(c->bytes, text, len, NULL, 0);
    r[3] = (double)file_bytes(mid);
    r[4] = (double)events;
    r[5] = (double)file_bytes(wav);
    r[6] = (double)data_bytes / (2.0 * channels);
    r[7] = (double)file_bytes(mp3);
}

static void count_tune(const char *text, size_t len, const char *source, int index, void *ctx) {
    (void)text, (void)len, (void)source, (void)index;
    (*(int *)ctx)++;
}

static int mkdirs_parent_of(const char *path) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) return 0;
    *slash = '\0';
    return tb_mkdirs(dir);
}

// The capacity of the markdown and LaTeX tables (five rows).
#define REPR_TABLE_BYTES 8192

static void fmt_num(char *out, size_t cap, double v) {
    if (v < 0) snprintf(out, cap, "--");
    else if (v >= 1e6) snprintf(out, cap, "%.2fM", v / 1e6);
    else if (v >= 1e4) snprintf(out, cap, "%.1fk", v / 1e3);
    else snprintf(out, cap, "%.0f", v);
}

typedef struct {
    const char *val, *vocab, *out;
    int sample;
} ReprArgs;

static void usage(FILE *out) {
    fprintf(out, "usage: tunebench representation-table --val ABC [--tokenizer VOCAB] [--sample N] --out PREFIX\n"
                 "  writes PREFIX.md, PREFIX.tex and PREFIX.json: size on disk and sequence length of\n"
                 "  the validation tunes as ABC, MIDI, WAV and MP3 (N tunes rendered, default 100; 0 = all)\n");
}

static int parse_args(int argc, char **argv, ReprArgs *a) {
    *a = (ReprArgs){.sample = 100};
    const TbOption opts[] = {TB_OPT("--val", TB_OPT_STRING, &a->val), TB_OPT("--tokenizer", TB_OPT_STRING, &a->vocab),
                             TB_OPT("--out", TB_OPT_STRING, &a->out),
                             TB_OPT_IN("--sample", TB_OPT_INT, &a->sample, 0, 1e9)};
    int rc = tb_parse_options("representation-table", argc, argv, opts, TB_OPTIONS(opts));
    if (rc == 0 && (!a->val || !a->out)) return tb_error("representation-table needs --val ABC and --out PREFIX");
    return rc;
}

// Renders every c->stride-th tune of the split into c->rows, at most
// `sample` of them (0: all). 0, or -1 with the error set.
static int measure_split(const char *val, int sample, ReprCtx *c) {
    char tmpl[] = "/tmp/tunebench_repr_XXXXXX";
    if (!mkdtemp(tmpl)) return tb_error("cannot create a temporary folder in /tmp");
    c->tmp = tmpl;
    music_for_each_tune(val, measure, c);
    c->tmp = NULL;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpl);
    if (system(cmd) != 0) fprintf(stderr, "representation-table: could not remove %s\n", tmpl);
    if (c->failed) return -1;
    if (c->n == 0) return tb_error("representation-table: no tune could be rendered");
    if (sample && c->n > sample) c->n = sample;
    return 0;
}

// Rows as the study presents them: format, size on disk, sequence length;
// sum holds the columns of c->rows summed over the c->n tunes measured.
static void format_tables(const ReprCtx *c, int total, const double *sum, char *md, size_t *nm_out, char *tex,
                          size_t *nt_out) {
    struct { const char *name, *unit; int size_col, len_col; } rows[] = {
        {"WAV (44.1 kHz, 16-bit)", "samples per channel", 5, 6},
        {"MP3 (lame -V 4)", "samples per channel", 7, 6},
        {"MIDI (abc2midi)", "events", 3, 4},
        {"ABC, music-aware tokens", "tokens", 0, 1},
        {"ABC, bytes", "bytes", 0, 2},
    };
    char a[32], b[32], cc_[32], d[32];
    size_t nm = 0, nt = 0;
    nm += (size_t)snprintf(md + nm, REPR_TABLE_BYTES - nm,
                           "Representations of the validation tunes: %d of %d tunes rendered%s (%d could not be).\n\n"
                           "| representation | size on disk, mean | total | sequence length, mean | total | unit |\n"
                           "|---|---:|---:|---:|---:|---|\n",
                           c->n, total, c->n < total ? ", evenly spaced" : "", c->rendered_fail);
    nt += (size_t)snprintf(tex + nt, REPR_TABLE_BYTES - nt,
                           "%% written by tunebench representation-table\n"
                           "\\begin{table}[t]\\centering\\small\n"
                           "\\begin{tabular}{lrrrrl}\\hline\n"
                           "representation & \\multicolumn{2}{c}{size on disk (bytes)} & "
                           "\\multicolumn{2}{c}{sequence length} & unit\\\\\n"
                           " & mean & total & mean & total & \\\\\\hline\n");
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        if (rows[r].len_col == 1 && !c->tok) continue;
        fmt_num(a, sizeof a, sum[rows[r].size_col] / c->n);
        fmt_num(b, sizeof b, sum[rows[r].size_col]);
        fmt_num(cc_, sizeof cc_, sum[rows[r].len_col] / c->n);
        fmt_num(d, sizeof d, sum[rows[r].len_col]);
        nm += (size_t)snprintf(md + nm, REPR_TABLE_BYTES - nm, "| %s | %s | %s | %s | %s | %s |\n", rows[r].name, a, b,
                               cc_, d, rows[r].unit);
        nt += (size_t)snprintf(tex + nt, REPR_TABLE_BYTES - nt, "%s & %s & %s & %s & %s & %s\\\\\n", rows[r].name, a,
                               b, cc_, d, rows[r].unit);
    }
    nt += (size_t)snprintf(tex + nt, REPR_TABLE_BYTES - nt,
                           "\\hline\\end{tabular}\n"
                           "\\caption{The same %d validation tunes (of %d%s) as audio, MIDI and ABC: size on disk "
                           "and sequence length. ABC is the smallest and the shortest by orders of magnitude.}\n"
                           "\\label{tab:representation}\n\\end{table}\n",
                           c->n, total, c->n < total ? ", evenly spaced" : "");
    *nm_out = nm, *nt_out = nt;
}

// PREFIX.md, PREFIX.tex and PREFIX.json.
static int write_outputs(const ReprArgs *args, const ReprCtx *c, int total, const double *sum, const char *md,
                         size_t nm, const char *tex, size_t nt) {
    char path[4096];
    snprintf(path, sizeof path, "%s.md", args->out);
    int rc = mkdirs_parent_of(path);
    if (!rc) rc = tb_write_file_atomic(path, md, nm);
    snprintf(path, sizeof path, "%s.tex", args->out);
    if (!rc) rc = tb_write_file_atomic(path, tex, nt);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "schema", "tunebench.representation.v1");
    cJSON_AddStringToObject(j, "val", args->val);
    cJSON_AddNumberToObject(j, "tunes_in_split", total);
    cJSON_AddNumberToObject(j, "tunes_measured", c->n);
    cJSON_AddNumberToObject(j, "tunes_not_renderable", c->rendered_fail);
    const char *keys[8] = {"abc_bytes", "abc_tokens", "abc_byte_tokens", "midi_bytes", "midi_events",
                           "wav_bytes", "wav_samples_per_channel", "mp3_bytes"};
    for (int k = 0; k < 8; k++) {
        if (k == 1 && !c->tok) continue;
        cJSON *o = cJSON_AddObjectToObject(j, keys[k]);
        cJSON_AddNumberToObject(o, "mean", sum[k] / c->n);
        cJSON_AddNumberToObject(o, "total", sum[k]);
    }
    snprintf(path, sizeof path, "%s.json", args->out);
    if (!rc) rc = tb_json_write(path, j);
    cJSON_Delete(j);
    return rc;
}

int cmd_representation_table(int argc, char **argv) {
    ReprArgs args;
    int rc = tb_command_start(parse_args(argc, argv, &args), usage);
    if (rc != TB_COMMAND_GO_ON) return rc;
    ReprCtx c = {0};
    Tokenizer *tok = args.vocab ? tok_load(args.vocab) : NULL;
    if (args.vocab && !tok) return tb_exit_runtime();
    Tokenizer *bytes = tok_new_bytes();
    c.tok = tok, c.bytes = bytes;
    // Count the tunes first, to spread the sample evenly.
    int total = 0;
    rc = music_for_each_tune(args.val, count_tune, &total) <= 0 ? -1 : 0;
    if (!rc) {
        c.stride = (args.sample == 0 || args.sample >= total) ? 1 : total / args.sample;
        rc = measure_split(args.val, args.sample, &c);
    }
    if (!rc) {
        double sum[8] = {0};
        for (int i = 0; i < c.n; i++)
            for (int k = 0; k < 8; k++) sum[k] += c.rows[i][k];
        static char md[REPR_TABLE_BYTES], tex[REPR_TABLE_BYTES];
        size_t nm, nt;
        format_tables(&c, total, sum, md, &nm, tex, &nt);
        rc = write_outputs(&args, &c, total, sum, md, nm, tex, nt);
        if (!rc) fputs(md, stdout);
    }
    free(c.rows);
    tok_free(tok);
    tok_free(bytes);
    return rc ? tb_exit_runtime() : 0;
}
