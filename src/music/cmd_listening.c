// cmd_listening.c: a blind pairwise listening test.
//
// `tunebench listening-page` takes the rendered samples (scripts/samples.sh:
// SAMPLES/<set>/<tune>.mp3) and writes SAMPLES/listening.html, N pairs of
// clips from two different sets (two models, or a model and the real tunes),
// each side drawn at random and the sides in random order (fixed seed). The
// clips are copied under SAMPLES/listening/ with names that say nothing, and
// what each pair holds is written to SAMPLES/listening_key.json, which the
// page never reads: a listener sees "A" and "B" only. The page plays each
// clip, records which one the listener prefers, and downloads the choices as
// JSON (tunebench.listening.v1).
//
// `tunebench listening-results --key KEY FILES...` joins the choices with the
// key and reports each set's win rate, and each pair of sets' head-to-head
// rate, with Wilson 95% intervals.
#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/command.h"
#include "lib/common.h"
#include "music_stats.h"

#define LISTEN_MAX_SETS 16

typedef struct {
    char name[128];
    char **clips;  // file names of the set's mp3 files, sorted
    int count;
} ClipSet;

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int list_clips(const char *samples, ClipSet *s) {
    char dir[4300];
    snprintf(dir, sizeof dir, "%s/%s", samples, s->name);
    DIR *d = opendir(dir);
    if (!d) return tb_error("listening-page: %s: cannot open the folder (run make samples first)", dir);
    int cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".mp3") != 0) continue;
        if (s->count == cap) {
            cap = cap ? 2 * cap : 64;
            s->clips = realloc(s->clips, (size_t)cap * sizeof *s->clips);
            if (!s->clips) tb_die("out of memory listing clips");
        }
        s->clips[s->count++] = tb_strdup(e->d_name);
    }
    closedir(d);
    if (s->count > 1) qsort(s->clips, (size_t)s->count, sizeof *s->clips, cmp_str);
    if (s->count == 0) return tb_error("listening-page: %s holds no .mp3 clips (run make samples first)", dir);
    return 0;
}

static int copy_file(const char *from, const char *to) {
    size_t len;
    char *data = tb_read_file(from, &len);
    if (!data) return -1;
    int rc = tb_write_file_atomic(to, data, len);
    free(data);
    return rc;
}

// The page: the pairs as data (opaque clip names only), and the script.
static const char page_head[] =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<title>tunebench: blind listening test</title>\n<style>\n"
    "body{font-family:sans-serif;max-width:44em;margin:2em auto;line-height:1.4}\n"
    ".side{display:inline-block;width:45%;margin:1em 2%;padding:1em;border:1px solid #ccc;border-radius:6px}\n"
    "button{font-size:1.1em;margin:.5em}\n#done{display:none}\n</style></head>\n<body>\n"
    "<h1>Which tune do you prefer?</h1>\n"
    "<p>Each page shows two short tunes, A and B, in random order; nothing tells where they come from. "
    "Listen to both, then choose the one you find more musical. Your choices stay in this page until you "
    "download them.</p>\n"
    "<p>Your name or initials (optional): <input id=\"listener\" size=\"12\"></p>\n"
    "<div id=\"trial\"><p id=\"progress\"></p>\n"
    "<div class=\"side\"><h2>A</h2><audio id=\"audio-a\" controls preload=\"auto\"></audio><br>"
    "<button id=\"choose-a\">A is better</button></div>"
    "<div class=\"side\"><h2>B</h2><audio id=\"audio-b\" controls preload=\"auto\"></audio><br>"
    "<button id=\"choose-b\">B is better</button></div></div>\n"
    "<div id=\"done\"><p>All pairs done, thank you.</p></div>\n"
    "<p><button id=\"download\">Download my choices (JSON)</button></p>\n"
    "<pre id=\"export\" hidden></pre>\n<script>\n";

static const char page_script[] =
    "'use strict';\n"
    "let at = 0;\n"
    "const choices = [];\n"
    "const $ = (id) => document.getElementById(id);\n"
    "function show() {\n"
    "  if (at >= TEST.pairs.length) { $('trial').style.display = 'none'; $('done').style.display = 'block'; return; }\n"
    "  const p = TEST.pairs[at];\n"
    "  $('progress').textContent = 'Pair ' + (at + 1) + ' of ' + TEST.pairs.length;\n"
    "  $('audio-a').src = 'listening/' + p.a;\n"
    "  $('audio-b').src = 'listening/' + p.b;\n"
    "  $('audio-a').dataset.started = '';\n"
    "}\n"
    "function choose(side) {\n"
    "  if (at >= TEST.pairs.length) return;\n"
    "  choices.push({pair: TEST.pairs[at].id, choice: side, at_ms: Date.now()});\n"
    "  at++;\n"
    "  document.body.dataset.choices = String(choices.length);\n"
    "  show();\n"
    "}\n"
    "function exported() {\n"
    "  return JSON.stringify({schema: 'tunebench.listening.v1', test_id: TEST.test_id,\n"
    "    listener: $('listener').value, user_agent: navigator.userAgent, choices: choices}, null, 1);\n"
    "}\n"
    "function download() {\n"
    "  const blob = new Blob([exported()], {type: 'application/json'});\n"
    "  const a = document.createElement('a');\n"
    "  a.href = URL.createObjectURL(blob);\n"
    "  a.download = 'listening-' + TEST.test_id + '-' + ($('listener').value || 'anonymous') + '.json';\n"
    "  document.body.appendChild(a); a.click(); a.remove();\n"
    "}\n"
    "$('choose-a').onclick = () => choose('A');\n"
    "$('choose-b').onclick = () => choose('B');\n"
    "$('download').onclick = download;\n"
    "for (const side of ['a', 'b']) {\n"
    "  $('audio-' + side).addEventListener('playing', () => { document.body.dataset['played' + side.toUpperCase()] = '1'; });\n"
    "  $('audio-' + side).addEventListener('error', () => { document.body.dataset.audioErrors = String(Number(document.body.dataset.audioErrors || 0) + 1); });\n"
    "}\n"
    "document.body.dataset.audioErrors = '0';\n"
    "show();\n"
    // Self-test (location.hash '#selftest', used by make test): play A, then
    // press 'A is better' and write the export where the DOM dump shows it.
    "if (location.hash === '#selftest') {\n"
    "  const a = $('audio-a');\n"
    "  a.muted = true;\n"
    "  a.play().then(() => { document.body.dataset.playResolved = '1'; },\n"
    "               (e) => { document.body.dataset.playError = String(e); })\n"
    "   .finally(() => { $('choose-a').click(); $('export').textContent = exported(); $('export').hidden = false;\n"
    "                    document.body.dataset.selftest = 'done'; });\n"
    "}\n"
    "</script>\n</body></html>\n";

static void listening_usage(FILE *f) {
    fprintf(f, "usage: tunebench listening-page --samples DIR [--pairs N] [--seed S] NAME...\n"
               "  DIR is what make samples writes (DIR/NAME/*.mp3 for each set NAME, e.g. gpt2-6m,\n"
               "  mamba-6m, validation). Writes DIR/listening.html (N blind pairs, default 40, of clips from\n"
               "  two different sets, sides in random order, seed S, default 1), the clips copied to\n"
               "  DIR/listening/ under opaque names, and DIR/listening_key.json (what each pair holds;\n"
               "  keep it from the listeners). Choices download as JSON; aggregate them with\n"
               "  tunebench listening-results --key DIR/listening_key.json FILES...\n");
}

int cmd_listening_page(int argc, char **argv) {
    const char *samples = NULL, *names[LISTEN_MAX_SETS];
    int pairs = 40, ns = 0;
    uint64_t seed = 1;
    const TbOption opts[] = {
        TB_OPT("--samples", TB_OPT_STRING, &samples), TB_OPT_IN("--pairs", TB_OPT_INT, &pairs, 1, 10000),
        TB_OPT("--seed", TB_OPT_U64, &seed),
        {.name = NULL, .kind = TB_OPT_LIST, .dest = names, .seen = &ns, .max = LISTEN_MAX_SETS}};
    int rc = tb_command_start(tb_parse_options("listening-page", argc, argv, opts, TB_OPTIONS(opts)), listening_usage);
    if (rc != TB_COMMAND_GO_ON) return rc;
    if (!samples || ns < 2)
        return tb_error("listening-page needs --samples DIR and at least two set names"), tb_exit_usage();
    ClipSet sets[LISTEN_MAX_SETS];
    memset(sets, 0, sizeof sets);
    for (int s = 0; s < ns; s++) {
        if (strlen(names[s]) >= sizeof sets[0].name || strchr(names[s], '/'))
            return tb_error("listening-page: set name '%s' must be a folder name under --samples", names[s]),
                   tb_exit_usage();
        snprintf(sets[s].name, sizeof sets[0].name, "%s", names[s]);
    }
    rc = 0;
    for (int s = 0; s < ns && !rc; s++) rc = list_clips(samples, &sets[s]);
    char dir[4300];
    snprintf(dir, sizeof dir, "%s/listening", samples);
    if (!rc) rc = tb_mkdirs(dir);
    Rng rng;
    rng_seed(&rng, seed);
    char test_id[17];
    snprintf(test_id, sizeof test_id, "%016llx", (unsigned long long)rng_u64(&rng));
    cJSON *key = cJSON_CreateObject(), *page = cJSON_CreateObject();
    cJSON_AddStringToObject(key, "schema", "tunebench.listening_key.v1");
    cJSON_AddStringToObject(key, "test_id", test_id);
    cJSON_AddNumberToObject(key, "seed", (double)seed);
    cJSON *kp = cJSON_AddArrayToObject(key, "pairs");
    cJSON_AddStringToObject(page, "test_id", test_id);
    cJSON *pp = cJSON_AddArrayToObject(page, "pairs");
    // The pairs of sets in turn (every pair as often as the others), then
    // a random clip of each and a random order.
    int npairs_sets = ns * (ns - 1) / 2;
    for (int k = 0; k < pairs && !rc; k++) {
        int which = k % npairs_sets, x = 0, y = 1;
        for (int c = 0; c < which; c++)
            if (++y == ns) x++, y = x + 1;
        const ClipSet *sx = &sets[x], *sy = &sets[y];
        const char *cx = sx->clips[rng_below(&rng, (uint32_t)sx->count)];
        const char *cy = sy->clips[rng_below(&rng, (uint32_t)sy->count)];
        int swap = (int)rng_below(&rng, 2);
        const ClipSet *left = swap ? sy : sx, *right = swap ? sx : sy;
        const char *lc = swap ? cy : cx, *rc_ = swap ? cx : cy;
        char id[32], fa[48], fb[48], from[4600], to[4600];
        snprintf(id, sizeof id, "p%03d", k + 1);
        snprintf(fa, sizeof fa, "%016llx.mp3", (unsigned long long)rng_u64(&rng));
        snprintf(fb, sizeof fb, "%016llx.mp3", (unsigned long long)rng_u64(&rng));
        snprintf(from, sizeof from, "%s/%s/%s", samples, left->name, lc);
        snprintf(to, sizeof to, "%s/%s", dir, fa);
        rc = copy_file(from, to);
        snprintf(from, sizeof from, "%s/%s/%s", samples, right->name, rc_);
        snprintf(to, sizeof to, "%s/%s", dir, fb);
        if (!rc) rc = copy_file(from, to);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", id);
        cJSON_AddStringToObject(o, "a", fa);
        cJSON_AddStringToObject(o, "b", fb);
        cJSON_AddItemToArray(pp, o);
        cJSON *ko = cJSON_CreateObject();
        cJSON_AddStringToObject(ko, "id", id);
        cJSON_AddStringToObject(ko, "a_set", left->name);
        cJSON_AddStringToObject(ko, "a_clip", lc);
        cJSON_AddStringToObject(ko, "b_set", right->name);
        cJSON_AddStringToObject(ko, "b_clip", rc_);
        cJSON_AddItemToArray(kp, ko);
    }
    char path[4400];
    if (!rc) {
        snprintf(path, sizeof path, "%s/listening_key.json", samples);
        rc = tb_json_write(path, key);
    }
    if (!rc) {
        char *data = tb_json_print(page, 0);
        size_t cap = strlen(page_head) + strlen(data) + strlen(page_script) + 64;
        char *html = tb_malloc(cap);
        int n = snprintf(html, cap, "%sconst TEST = %s;\n%s", page_head, data, page_script);
        snprintf(path, sizeof path, "%s/listening.html", samples);
        rc = tb_write_file_atomic(path, html, (size_t)n);
        free(html), free(data);
    }
    if (!rc) printf("listening-page: %d pairs from %d sets -> %s/listening.html (key: %s/listening_key.json)\n", pairs, ns,
                    samples, samples);
    else tb_report();
    cJSON_Delete(key), cJSON_Delete(page);
    for (int s = 0; s < ns; s++) {
        for (int c = 0; c < sets[s].count; c++) free(sets[s].clips[c]);
        free(sets[s].clips);
    }
    return rc ? 1 : 0;
}

// ---------------------------------------------------------------- results
typedef struct {
    char name[128];
    int wins, games;
    int head_wins[LISTEN_MAX_SETS], head_games[LISTEN_MAX_SETS];
} Tally;

static int tally_index(Tally *t, int *n, const char *name) {
    for (int i = 0; i < *n; i++)
        if (tb_streq(t[i].name, name)) return i;
    if (*n == LISTEN_MAX_SETS) return -1;
    memset(&t[*n], 0, sizeof t[*n]);
    snprintf(t[*n].name, sizeof t[*n].name, "%s", name);
    return (*n)++;
}

typedef struct {
    Tally t[LISTEN_MAX_SETS];
    int n, used;  // sets, choices counted
} Tallies;

// Adds one listener's choices (a file the page downloaded) to the tallies:
// each choice names a pair of the key (kpairs, of test test_id) and A or B.
// 0, or -1 with the error set.
static int tally_file(const char *path, const cJSON *kpairs, const char *test_id, Tallies *ts) {
    char *text = tb_read_file(path, NULL);
    cJSON *c = text ? cJSON_Parse(text) : NULL;
    free(text);
    const char *schema = cJSON_GetStringValue(cJSON_GetObjectItem(c, "schema"));
    const char *tid = cJSON_GetStringValue(cJSON_GetObjectItem(c, "test_id"));
    const cJSON *choices = cJSON_GetObjectItem(c, "choices");
    int rc = 0;
    if (!schema || !tb_streq(schema, "tunebench.listening.v1") || !cJSON_IsArray(choices))
        rc = tb_error("listening-results: %s is not a choices file from the listening page", path);
    else if (!tid || !tb_streq(tid, test_id))
        rc = tb_error("listening-results: %s answers test %s, but the key is for test %s", path, tid ? tid : "(none)",
                      test_id);
    const cJSON *ch, *list = rc ? NULL : choices;
    cJSON_ArrayForEach(ch, list) {
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(ch, "pair"));
        const char *side = cJSON_GetStringValue(cJSON_GetObjectItem(ch, "choice"));
        const cJSON *kp = NULL, *k;
        cJSON_ArrayForEach(k, kpairs) if (id && tb_streq(cJSON_GetStringValue(cJSON_GetObjectItem(k, "id")), id)) kp = k;
        if (!kp || !side || !(tb_streq(side, "A") || tb_streq(side, "B"))) {
            rc = tb_error("listening-results: %s: choice for pair '%s' is not in the key or not A/B", path,
                          id ? id : "(none)");
            break;
        }
        Tally *t = ts->t;
        int a = tally_index(t, &ts->n, cJSON_GetStringValue(cJSON_GetObjectItem(kp, "a_set")));
        int b = tally_index(t, &ts->n, cJSON_GetStringValue(cJSON_GetObjectItem(kp, "b_set")));
        if (a < 0 || b < 0) {
            rc = tb_error("listening-results: more than %d sets", LISTEN_MAX_SETS);
            break;
        }
        int win = tb_streq(side, "A") ? a : b, lose = win == a ? b : a;
        t[win].wins++, t[win].games++, t[lose].games++;
        t[win].head_wins[lose]++, t[win].head_games[lose]++, t[lose].head_games[win]++;
        ts->used++;
    }
    cJSON_Delete(c);
    return rc;
}

// Prints each set's win rate and each pair's head-to-head rate as markdown
// tables, and returns them as JSON.
static cJSON *results_json(const Tallies *ts) {
    const Tally *t = ts->t;
    int nt = ts->n;
    cJSON *res = cJSON_CreateObject();
    cJSON_AddStringToObject(res, "schema", "tunebench.listening_results.v1");
    cJSON_AddNumberToObject(res, "choices", ts->used);
    cJSON *sets = cJSON_AddArrayToObject(res, "sets");
    printf("| set | preferred | pairs | win rate (%%) [95%% Wilson] |\n|---|---:|---:|---:|\n");
    for (int i = 0; i < nt; i++) {
        Interval w = stats_wilson(t[i].wins, t[i].games);
        printf("| %s | %d | %d | %.1f [%.1f, %.1f] |\n", t[i].name, t[i].wins, t[i].games, 100 * w.estimate, 100 * w.lo,
               100 * w.hi);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "set", t[i].name);
        cJSON_AddNumberToObject(o, "wins", t[i].wins);
        cJSON_AddNumberToObject(o, "pairs", t[i].games);
        cJSON_AddNumberToObject(o, "win_rate", w.estimate);
        cJSON_AddNumberToObject(o, "lo", w.lo);
        cJSON_AddNumberToObject(o, "hi", w.hi);
        cJSON_AddItemToArray(sets, o);
    }
    cJSON *heads = cJSON_AddArrayToObject(res, "head_to_head");
    printf("\n| set | against | preferred | pairs | rate (%%) [95%% Wilson] |\n|---|---|---:|---:|---:|\n");
    for (int i = 0; i < nt; i++)
        for (int j = 0; j < nt; j++) {
            if (i == j || !t[i].head_games[j]) continue;
            Interval w = stats_wilson(t[i].head_wins[j], t[i].head_games[j]);
            printf("| %s | %s | %d | %d | %.1f [%.1f, %.1f] |\n", t[i].name, t[j].name, t[i].head_wins[j],
                   t[i].head_games[j], 100 * w.estimate, 100 * w.lo, 100 * w.hi);
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "set", t[i].name);
            cJSON_AddStringToObject(o, "against", t[j].name);
            cJSON_AddNumberToObject(o, "wins", t[i].head_wins[j]);
            cJSON_AddNumberToObject(o, "pairs", t[i].head_games[j]);
            cJSON_AddNumberToObject(o, "rate", w.estimate);
            cJSON_AddNumberToObject(o, "lo", w.lo);
            cJSON_AddNumberToObject(o, "hi", w.hi);
            cJSON_AddItemToArray(heads, o);
        }
    return res;
}

static void results_usage(FILE *out) {
    fprintf(out, "usage: tunebench listening-results --key KEY.json [--out JSON] CHOICES.json...\n"
                 "  joins the listeners' downloaded choices with the page's key and prints each set's win\n"
                 "  rate (share of its pairs in which it was preferred) and each pair of sets' head-to-head\n"
                 "  rate, with Wilson 95%% intervals; --out also writes them as JSON\n");
}

int cmd_listening_results(int argc, char **argv) {
    const char *key_path = NULL, *out = NULL, *files[256];
    int nf = 0;
    const TbOption opts[] = {TB_OPT("--key", TB_OPT_STRING, &key_path), TB_OPT("--out", TB_OPT_STRING, &out),
                             {.name = NULL, .kind = TB_OPT_LIST, .dest = files, .seen = &nf, .max = 256}};
    int rc = tb_command_start(tb_parse_options("listening-results", argc, argv, opts, TB_OPTIONS(opts)), results_usage);
    if (rc != TB_COMMAND_GO_ON) return rc;
    if (!key_path || nf == 0)
        return tb_error("listening-results needs --key KEY.json and at least one choices file"), tb_exit_usage();
    char *text = tb_read_file(key_path, NULL);
    cJSON *key = text ? cJSON_Parse(text) : NULL;
    free(text);
    const cJSON *kpairs = cJSON_GetObjectItem(key, "pairs");
    const char *test_id = cJSON_GetStringValue(cJSON_GetObjectItem(key, "test_id"));
    if (!cJSON_IsArray(kpairs) || !test_id) {
        tb_error("listening-results: %s is not a listening_key.json (from listening-page)", key_path);
        cJSON_Delete(key);
        return tb_exit_runtime();
    }
    static Tallies ts;
    memset(&ts, 0, sizeof ts);
    rc = 0;
    for (int f = 0; f < nf && !rc; f++) rc = tally_file(files[f], kpairs, test_id, &ts);
    cJSON_Delete(key);
    if (rc) return tb_exit_runtime();
    cJSON *res = results_json(&ts);
    if (out) rc = tb_json_write(out, res);
    cJSON_Delete(res);
    return rc ? tb_exit_runtime() : 0;
}
