// cmd_generate.c: `tunebench generate`, tunes from a checkpoint.
//
// A prompt is an ABC header, in the style the model was trained on. For the
// control style that is X:1, the TunesFormer control codes (S: sections, B:
// bars per section, E: similarity of each later section to each earlier
// one), then L:, M:, K:; --meter/--key/--sections/--bars build one. The
// model reads the end-of-tune token (what precedes every tune but the first
// in the training shards) and then the prompt, and writes on until it emits
// end-of-tune or reaches the length cap. Each tune's text is the prompt plus
// what the model wrote, so its header carries the codes that
// evaluate-music checks it against.
//
// --prompts-from VAL.abc takes each tune's prompt from the header of a real
// tune instead (X:1, then its S:/B:/E:, L:, M:, K: lines in their order):
// the headers are put in an order drawn from the seed, and tune i takes the
// (i mod N)-th, so the prompts spread over the meters, keys and forms of the
// real tunes.
//
// The checkpoint: a run's best (RUN.best/ beside its latest RUN/, the one with
// the lowest validation loss, when the run keeps one; src/runner/best.h)
// unless --checkpoint latest; any other folder as it is. The output and
// index.json say which.
//
// The tunes run --batch B at a time through the model's batched decoder
// (models/generate.h): every decode call advances each running tune by one
// token, as GEMMs of one row per tune, and when a tune is done the next one
// takes its slot (its prompt fed token by token while the others go on), so
// the batch stays full until no tune waits. A tune's file is written when it
// is done; index.json's `group` is the slot a tune ran in, and
// `group_seconds` holds, per slot, the seconds until its last tune was done.
//
// Determinism: tune i is drawn with seed + i from its own random stream, so
// its text depends on its own logits alone (on B and on its slot only
// through float rounding in the batched GEMMs); one tune can be regenerated
// alone, and a CPU run with the same seed, B and threads is bit-for-bit
// reproducible.
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "../../data/tokenizer.h"
#include "../../models/checkpoint.h"
#include "../../models/generate.h"
#include "../../models/sampler.h"
#include "../checkpoint_tokenizer.h"
#include "lib/command.h"
#include "lib/common.h"
#include "../runner/best.h"
#include "tune.h"

typedef struct {
    const char *ckpt, *tokenizer, *out, *prompt, *backend, *prompts_from, *which;
    const char *meter, *key, *unit;
    int n, sections, bars, similarity, max_tokens, batch;
    uint64_t seed;
    SamplerConfig sampler;
} GenerateArgs;

// Tunes decoded together: enough rows per GEMM to amortise reading the
// weights, while the caches stay small (gpt2-60m: 16 MB of KV cache a tune).
#define GENERATE_DEFAULT_BATCH 32
#define GENERATE_MAX_BATCH 1024

static void usage(FILE *out) {
    fprintf(out,
            "usage: tunebench generate --ckpt DIR --out DIR [options]\n"
            "  --ckpt DIR          checkpoint folder (model.safetensors + config.json), or a run's\n"
            "                      record RUN.json: its best checkpoint (RUN.best/, else RUN/)\n"
            "  --tokenizer FILE    vocabulary (vocab.tok) or 'bytes' (default: the checkpoint's\n"
            "                      own; one given must be it, or the checkpoint must carry none)\n"
            "  --n N               number of tunes (default 8)\n"
            "  --seed S            tune i uses seed S+i (default 1)\n"
            "  --checkpoint best|latest   a run's best checkpoint RUN.best/ when it has one\n"
            "                      (default best), else its latest RUN/\n"
            "  --prompt TEXT       ABC header to start from ('\\n' in TEXT is a newline)\n"
            "  --prompts-from ABC  each tune's prompt is a real tune's header (X:1, its S:/B:/E:,\n"
            "                      L:, M:, K:), in an order drawn from the seed\n"
            "  or build one (control style):\n"
            "  --meter M --key K   e.g. --meter 6/8 --key D (defaults 4/4, C)\n"
            "  --unit L            unit note length (default 1/8)\n"
            "  --sections S --bars B   control codes S: and B: for every section (default none)\n"
            "  --similarity E      control code E: for every pair of sections (default 4)\n"
            "  --temperature T --top-k K --top-p P   sampling (defaults 1, 0 = all, 1)\n"
            "  --max-tokens N      length cap in generated tokens (default 1024; GPT-2 also\n"
            "                      stops at its context length)\n"
            "  --batch B           tunes decoded together, one row each per forward, a finished\n"
            "                      tune's place taken by the next (default %d; 1 decodes one\n"
            "                      tune at a time)\n"
            "  --backend cpu|cuda  (default cpu)\n"
            "  --out DIR           writes tune_001.abc ... and index.json\n",
            GENERATE_DEFAULT_BATCH);
}

// The prompt: --prompt with "\n" escapes made real, or a header built from
// the musical options. Always ends with a newline (the body starts there).
// The buffer is sized from the inputs: the header lines are at most
// HEADER_LINE bytes each (parse_args bounds S:, B: and E:) and the three
// fields add their own lengths.
#define HEADER_LINE 16
static char *build_prompt(const GenerateArgs *a) {
    if (a->prompt) {
        char *p = tb_malloc(strlen(a->prompt) + 2);
        size_t n = 0;
        for (const char *s = a->prompt; *s; s++) {
            if (s[0] == '\\' && s[1] == 'n') p[n++] = '\n', s++;
            else p[n++] = *s;
        }
        if (n == 0 || p[n - 1] != '\n') p[n++] = '\n';
        p[n] = '\0';
        return p;
    }
    size_t lines = 1 + (size_t)a->sections * (size_t)(a->sections + 3) / 2;  // X:, S:, each B: and E:
    size_t cap = lines * HEADER_LINE + strlen(a->unit) + strlen(a->meter) + strlen(a->key) + HEADER_LINE;
    char *p = tb_malloc(cap);
    size_t n = (size_t)snprintf(p, cap, "X:1\n");
    if (a->sections > 0) {
        n += (size_t)snprintf(p + n, cap - n, "S:%d\n", a->sections);
        for (int i = 0; i < a->sections; i++) {
            for (int j = 0; j < i; j++) n += (size_t)snprintf(p + n, cap - n, "E:%d\n", a->similarity);
            n += (size_t)snprintf(p + n, cap - n, "B:%d\n", a->bars);
        }
    }
    snprintf(p + n, cap - n, "L:%s\nM:%s\nK:%s\n", a->unit, a->meter, a->key);
    return p;
}

// The meter, key and unit go into the prompt's M:, K: and L: lines: each must
// be one the ABC parser (and abc2midi) reads, or every tune starts broken.
static int check_header_fields(const GenerateArgs *a) {
    Rational bar, unit;
    MusicKey key;
    char msg[512];
    if (music_parse_meter(a->meter, &bar) != 0) {
        snprintf(msg, sizeof msg, "%s", tb_last_error());
        return tb_error("generate: --meter %s: %s", a->meter, msg);
    }
    // A meter is beats over a power-of-two note value: 6/8, 2+3/8, C, C|.
    const char *slash = strchr(a->meter, '/');
    if (slash) {
        char *end = NULL;
        long den = strtol(slash + 1, &end, 10);
        while (end && (*end == ' ' || *end == '\t')) end++;
        if (!end || *end || den < 1 || den > 64 || (den & (den - 1)))
            return tb_error("generate: --meter %s: the lower number must be 1, 2, 4, 8, 16, 32 or 64 (e.g. 6/8)",
                            a->meter);
    }
    if (music_parse_key(a->key, &key) != 0) {
        snprintf(msg, sizeof msg, "%s", tb_last_error());
        return tb_error("generate: --key %s: %s", a->key, msg);
    }
    if (music_parse_unit(a->unit, &unit) != 0) {
        snprintf(msg, sizeof msg, "%s", tb_last_error());
        return tb_error("generate: --unit %s: %s", a->unit, msg);
    }
    return 0;
}

static int parse_args(int argc, char **argv, GenerateArgs *a) {
    memset(a, 0, sizeof *a);
    a->n = 8, a->seed = 1, a->max_tokens = 1024, a->similarity = 4, a->bars = 8;
    a->batch = GENERATE_DEFAULT_BATCH;
    a->meter = "4/4", a->key = "C", a->unit = "1/8", a->backend = BACKEND_DEFAULT_NAME;
    sampler_config_default(&a->sampler);
    int musical = 0;  // options that build the prompt
    const TbOption opts[] = {
        TB_OPT("--ckpt", TB_OPT_STRING, &a->ckpt), TB_OPT("--tokenizer", TB_OPT_STRING, &a->tokenizer),
        TB_OPT("--out", TB_OPT_STRING, &a->out), TB_OPT("--prompt", TB_OPT_STRING, &a->prompt),
        TB_OPT("--prompts-from", TB_OPT_STRING, &a->prompts_from), TB_OPT("--checkpoint", TB_OPT_STRING, &a->which),
        TB_OPT("--backend", TB_OPT_STRING, &a->backend), TB_OPT_IN("--n", TB_OPT_INT, &a->n, 1, 100000),
        TB_OPT("--seed", TB_OPT_U64, &a->seed), TB_OPT_IN("--max-tokens", TB_OPT_INT, &a->max_tokens, 1, 1e9),
        TB_OPT_IN("--batch", TB_OPT_INT, &a->batch, 1, GENERATE_MAX_BATCH),
        TB_OPT("--temperature", TB_OPT_FLOAT, &a->sampler.temperature),
        TB_OPT("--top-k", TB_OPT_INT, &a->sampler.top_k), TB_OPT("--top-p", TB_OPT_FLOAT, &a->sampler.top_p),
        {.name = "--meter", .kind = TB_OPT_STRING, .dest = &a->meter, .seen = &musical},
        {.name = "--key", .kind = TB_OPT_STRING, .dest = &a->key, .seen = &musical},
        {.name = "--unit", .kind = TB_OPT_STRING, .dest = &a->unit, .seen = &musical},
        {.name = "--sections", .kind = TB_OPT_INT, .dest = &a->sections, .seen = &musical},
        {.name = "--bars", .kind = TB_OPT_INT, .dest = &a->bars, .seen = &musical},
        {.name = "--similarity", .kind = TB_OPT_INT, .dest = &a->similarity, .seen = &musical}};
    int rc = tb_parse_options("generate", argc, argv, opts, TB_OPTIONS(opts));
    if (rc) return rc;
    if (!a->ckpt || !a->out) return tb_error("generate: --ckpt and --out are required");
    if ((a->prompt != NULL) + (a->prompts_from != NULL) + (musical > 0) > 1)
        return tb_error("generate: give one of --prompt, --prompts-from or --meter/--key/--unit/--sections/--bars/"
                        "--similarity");
    if (a->which && !tb_streq(a->which, "best") && !tb_streq(a->which, "latest"))
        return tb_error("generate: --checkpoint %s: use best or latest", a->which);
    if (a->sections < 0 || a->sections > 8) return tb_error("generate: --sections must be 1 to 8 (TunesFormer's limit)");
    if (a->bars <= 0 || a->bars > 32) return tb_error("generate: --bars %d: must be 1 to 32 (bars per section)", a->bars);
    if (a->similarity < 0 || a->similarity > 10) return tb_error("generate: --similarity must be 0 to 10");
    if (strchr(a->meter, '\n') || strchr(a->key, '\n') || strchr(a->unit, '\n'))
        return tb_error("generate: --meter, --key and --unit are one line each");
    // The header fields the ABC reader keeps (MusicTune's meter, unit, key).
    const struct {
        const char *option, *value;
        size_t max;
    } fields[] = {{"--meter", a->meter, sizeof((MusicTune *)0)->meter - 1},
                  {"--unit", a->unit, sizeof((MusicTune *)0)->unit - 1},
                  {"--key", a->key, sizeof((MusicTune *)0)->key - 1}};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (strlen(fields[i].value) > fields[i].max)
            return tb_error("generate: %s is %zu bytes long; an ABC header field takes at most %zu (e.g. %s)",
                            fields[i].option, strlen(fields[i].value), fields[i].max,
                            i == 0 ? "6/8" : i == 1 ? "1/8" : "Ador");
    return check_header_fields(a);
}

// ---------------------------------------------------------------- prompts
typedef struct {
    char **headers;
    int count, cap;
} Headers;

// A real tune's header as a prompt: X:1, then its S:, B:, E:, L:, M: and K:
// lines in their order, up to K:. Tunes without K: give none.
static void collect_header(const char *text, size_t len, void *ctx) {
    Headers *h = ctx;
    char *p = tb_malloc(len + 8);
    size_t n = (size_t)snprintf(p, len + 8, "X:1\n");
    int has_key = 0;
    for (size_t i = 0; i < len && !has_key;) {
        size_t end = i;
        while (end < len && text[end] != '\n') end++;
        size_t l = end - i;
        while (l > 0 && (text[i + l - 1] == '\r' || text[i + l - 1] == ' ')) l--;
        if (l >= 2 && text[i + 1] == ':' && strchr("SBELMK", text[i])) {
            memcpy(p + n, text + i, l);
            n += l;
            p[n++] = '\n';
            has_key = text[i] == 'K';
        }
        i = end + 1;
    }
    p[n] = '\0';
    if (!has_key) {
        free(p);
        return;
    }
    if (h->count == h->cap) {
        h->cap = h->cap ? 2 * h->cap : 256;
        h->headers = realloc(h->headers, (size_t)h->cap * sizeof *h->headers);
        if (!h->headers) tb_die("out of memory reading prompts");
    }
    h->headers[h->count++] = p;
}

// The headers of the tunes of path, in an order drawn from seed.
static int read_prompts(const char *path, uint64_t seed, Headers *h) {
    memset(h, 0, sizeof *h);
    size_t len;
    char *text = tb_read_file(path, &len);
    if (!text) return -1;
    music_split_tunes(text, len, collect_header, h);
    free(text);
    if (h->count == 0) return tb_error("generate: --prompts-from %s: no tune there has a K: line", path);
    Rng rng;
    rng_seed(&rng, seed ^ 0x70726f6d707473ULL);
    for (int i = h->count - 1; i > 0; i--) {
        int j = (int)rng_below(&rng, (uint32_t)(i + 1));
        char *t = h->headers[i];
        h->headers[i] = h->headers[j], h->headers[j] = t;
    }
    return 0;
}

static void headers_free(Headers *h) {
    for (int i = 0; i < h->count; i++) free(h->headers[i]);
    free(h->headers);
}

// index.json's header: what was generated from what, with which settings.
static cJSON *index_json(const GenerateArgs *a, const char *ckpt, const char *kind, const Model *m,
                         const char *tok_path, const char *single, int prompt_headers) {
    cJSON *index = cJSON_CreateObject();
    cJSON_AddStringToObject(index, "schema", "tunebench.generate.v1");
    cJSON_AddStringToObject(index, "checkpoint", ckpt);
    cJSON_AddStringToObject(index, "checkpoint_kind", tb_streq(kind, "best") ? "best" : "latest");
    cJSON_AddStringToObject(index, "model", m->spec.name);
    cJSON_AddStringToObject(index, "tokenizer", tok_path);
    if (single) cJSON_AddStringToObject(index, "prompt", single);
    else {
        cJSON_AddStringToObject(index, "prompts_from", a->prompts_from);
        cJSON_AddNumberToObject(index, "prompt_headers", prompt_headers);
    }
    cJSON_AddNumberToObject(index, "seed", (double)a->seed);
    cJSON_AddNumberToObject(index, "temperature", a->sampler.temperature);
    cJSON_AddNumberToObject(index, "top_k", a->sampler.top_k);
    cJSON_AddNumberToObject(index, "top_p", a->sampler.top_p);
    cJSON_AddNumberToObject(index, "max_tokens", a->max_tokens);
    cJSON_AddNumberToObject(index, "batch", a->batch);
    cJSON_AddStringToObject(index, "backend", a->backend);
    return index;
}

// One running tune: its tokens (end-of-tune, the prompt, then what the
// model writes) and its prompt.
typedef struct {
    const char *prompt;
    int32_t *ids;
    size_t np;  // the prompt's tokens (end-of-tune not counted)
} RunningTune;

// Tune t's prompt as tokens after end-of-tune, with room for its cap in
// *g: the --max-tokens, or what is left of a bounded context. -1 with the
// error set when the prompt leaves no room.
static int prepare_tune(const Model *m, const Tokenizer *tok, const GenerateArgs *a, const char *prompt, int t,
                        RunningTune *rt, GenerateSequence *g) {
    size_t plen = strlen(prompt);
    uint16_t *ptok = tb_malloc((plen + 1) * sizeof *ptok);
    size_t np = tok_encode(tok, prompt, plen, ptok, plen + 1);
    int cap = a->max_tokens;
    if (m->arch->context_bounded && (int)np + 1 + cap > m->spec.max_seq_len) cap = m->spec.max_seq_len - (int)np - 1;
    if (cap <= 0) {
        free(ptok);
        return tb_error("generate: the prompt is %zu tokens, too long for %s's context of %d", np, m->spec.name,
                        m->spec.max_seq_len);
    }
    free(rt->ids);
    rt->ids = tb_malloc((np + 1 + (size_t)cap) * sizeof *rt->ids);
    rt->ids[0] = tok_eot_id(tok);
    for (size_t i = 0; i < np; i++) rt->ids[1 + i] = ptok[i];
    free(ptok);
    rt->prompt = prompt, rt->np = np;
    *g = (GenerateSequence){.prompt = rt->ids, .prompt_len = (int)np + 1, .cap = cap,
                            .seed = a->seed + (uint64_t)t, .out = rt->ids + np + 1};
    return 0;
}

// The tunes as generate_run's queue: each is prepared when it takes a slot
// and written when it is done, so only the running ones hold tokens.
typedef struct {
    const GenerateArgs *a;
    const Model *m;
    const Tokenizer *tok;
    const char *single;     // the one prompt, or NULL for the headers'
    const Headers *heads;
    RunningTune *tunes;     // (n)
    cJSON **entries;        // (n) each tune's index.json entry, once written
    double *slot_seconds;   // (slots) when each slot's last tune was done
    char *text;
    size_t text_cap;
} TuneQueue;

static int tune_admit(void *ctx, int t, GenerateSequence *g) {
    TuneQueue *q = ctx;
    const char *prompt = q->single ? q->single : q->heads->headers[t % q->heads->count];
    return prepare_tune(q->m, q->tok, q->a, prompt, t, &q->tunes[t], g);
}

// The tune: the prompt, then what the model wrote, ending in a newline.
static int tune_finish(void *ctx, int t, const GenerateSequence *g) {
    TuneQueue *q = ctx;
    RunningTune *rt = &q->tunes[t];
    size_t plen = strlen(rt->prompt);
    if (q->text_cap < plen + 64 + (size_t)g->cap * 64) {
        q->text_cap = plen + 64 + (size_t)g->cap * 64;
        free(q->text);
        q->text = tb_malloc(q->text_cap);
    }
    char *text = q->text;
    size_t len = tok_decode(q->tok, rt->ids + 1, rt->np + (size_t)g->n, text, q->text_cap - 2);
    if (len == (size_t)-1 || len > q->text_cap - 2) return tb_error("generate: could not decode tune %d", t + 1);
    if (len == 0 || text[len - 1] != '\n') text[len++] = '\n';
    char name[64], path[4200];
    snprintf(name, sizeof name, "tune_%03d.abc", t + 1);
    snprintf(path, sizeof path, "%s/%s", q->a->out, name);
    if (tb_write_file_atomic(path, text, len)) return -1;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "file", name);
    cJSON_AddNumberToObject(o, "seed", (double)g->seed);
    if (!q->single) cJSON_AddStringToObject(o, "prompt", rt->prompt);
    cJSON_AddNumberToObject(o, "prompt_tokens", (double)rt->np);
    cJSON_AddNumberToObject(o, "max_tokens", g->cap);
    cJSON_AddNumberToObject(o, "generated_tokens", g->n);
    cJSON_AddNumberToObject(o, "bytes", (double)len);
    cJSON_AddStringToObject(o, "stop", g->ended ? "end_of_tune" : "length");
    cJSON_AddNumberToObject(o, "group", g->slot);
    q->entries[t] = o;
    if (g->seconds > q->slot_seconds[g->slot]) q->slot_seconds[g->slot] = g->seconds;
    free(rt->ids);
    rt->ids = NULL;
    return 0;
}

// ---------------------------------------------------------------- command
int cmd_generate(int argc, char **argv) {
    GenerateArgs a;
    int rc = tb_command_start(parse_args(argc, argv, &a), usage);
    if (rc != TB_COMMAND_GO_ON) return rc;
    // The checkpoint: the run's best (RUN.best/ beside RUN/) unless --checkpoint latest.
    char ckpt[4200];
    const char *kind = "latest";
    run_checkpoint_choose(a.ckpt, !(a.which && tb_streq(a.which, "latest")), ckpt, sizeof ckpt, &kind);
    const Backend *be = backend_by_name(a.backend);
    if (!be) return tb_exit_runtime();
    Headers heads = {0};
    if (a.prompts_from && read_prompts(a.prompts_from, a.seed, &heads)) return tb_exit_runtime();
    char tok_path[4200];
    Tokenizer *tok = tokenizer_for_checkpoint(ckpt, a.tokenizer, "--tokenizer", tok_path, sizeof tok_path);
    Model *m = tok ? checkpoint_load(ckpt, be, NULL) : NULL;
    if (!m) {
        tok_free(tok);
        headers_free(&heads);
        return tb_exit_runtime();
    }
    int status = 1;
    char *single = heads.count ? NULL : build_prompt(&a);
    int V = m->spec.vocab_size;
    const int capacity = a.batch < a.n ? a.batch : a.n;
    TuneQueue tq = {.a = &a, .m = m, .tok = tok, .single = single, .heads = &heads,
                    .tunes = tb_calloc((size_t)a.n, sizeof *tq.tunes),
                    .entries = tb_calloc((size_t)a.n, sizeof *tq.entries),
                    .slot_seconds = tb_calloc((size_t)capacity, sizeof *tq.slot_seconds)};
    DecodeState *ds = NULL;
    Sampler sampler = {0};
    cJSON *index = NULL;
    if (V != tok_vocab_size(tok)) {
        tb_error("generate: the checkpoint %s has a vocabulary of %d but the tokenizer %s has %d; "
                 "pass the tokenizer it was trained with (--tokenizer)",
                 ckpt, V, tok_path, tok_vocab_size(tok));
        goto done;
    }
    if (sampler_init(&sampler, &a.sampler, V, a.seed)) goto done;  // checks the settings
    if (!(ds = decode_state_create(m, capacity))) goto done;
    if (tb_mkdirs(a.out)) goto done;

    index = index_json(&a, ckpt, kind, m, tok_path, single, heads.count);
    double t_all = tb_now_seconds();
    GenerateQueue queue = {.count = a.n, .admit = tune_admit, .finish = tune_finish, .ctx = &tq};
    if (generate_run(m, ds, &a.sampler, tok_eot_id(tok), &queue)) goto done;
    cJSON_AddNumberToObject(index, "seconds", tb_now_seconds() - t_all);
    cJSON *tunes = cJSON_AddArrayToObject(index, "tunes");
    for (int t = 0; t < a.n; t++) {
        cJSON_AddItemToArray(tunes, tq.entries[t]);
        tq.entries[t] = NULL;
    }
    cJSON *group_seconds = cJSON_AddArrayToObject(index, "group_seconds");
    for (int k = 0; k < capacity; k++) cJSON_AddItemToArray(group_seconds, cJSON_CreateNumber(tq.slot_seconds[k]));
    char path[4200];
    snprintf(path, sizeof path, "%s/index.json", a.out);
    rc = tb_json_write(path, index);
    if (rc) goto done;
    printf("generate: %d tunes from %s (%s checkpoint) -> %s\n", a.n, ckpt, kind, a.out);
    status = 0;
done:
    if (status) tb_report();
    cJSON_Delete(index);
    sampler_free(&sampler);
    free(tq.text);
    for (int t = 0; t < a.n; t++) free(tq.tunes[t].ids), cJSON_Delete(tq.entries[t]);
    free(tq.tunes), free(tq.entries), free(tq.slot_seconds);
    decode_state_destroy(m, ds);
    free(single);
    headers_free(&heads);
    model_destroy(m);
    tok_free(tok);
    return status;
}
