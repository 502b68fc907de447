// cmd_generate.c: `tunebench generate`, tunes from a checkpoint.
//
// A prompt is an ABC header, in the style the model was trained on. For the
// irishman style that is X:1, the TunesFormer control codes (S: sections, B:
// bars per section, E: similarity of each later section to each earlier
// one), then L:, M:, K:; --meter/--key/--sections/--bars build one. The
// model reads the end-of-tune token (what precedes every tune but the first
// in the training shards) and then the prompt, and writes on until it emits
// end-of-tune or reaches the length cap. Each tune's text is the prompt plus
// what the model wrote, so its header carries the codes that
// evaluate-music checks it against.
//
// Determinism: tune i is drawn with seed + i, so one tune can be
// regenerated alone, and a CPU run is bit-for-bit reproducible.
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "../../data/tokenizer.h"
#include "../../models/checkpoint.h"
#include "../../models/sampler.h"
#include "lib/common.h"
#include "tune.h"

typedef struct {
    const char *ckpt, *tokenizer, *out, *prompt, *backend;
    const char *meter, *key, *unit;
    int n, sections, bars, similarity, max_tokens;
    uint64_t seed;
    SamplerConfig sampler;
} GenerateArgs;

static void usage(FILE *out) {
    fprintf(out,
            "usage: tunebench generate --ckpt DIR --out DIR [options]\n"
            "  --ckpt DIR          checkpoint folder (model.safetensors + config.json)\n"
            "  --tokenizer FILE    vocabulary (vocab.tok), or 'bytes' (default: DIR/vocab.tok)\n"
            "  --n N               number of tunes (default 8)\n"
            "  --seed S            tune i uses seed S+i (default 1)\n"
            "  --prompt TEXT       ABC header to start from ('\\n' in TEXT is a newline)\n"
            "  or build one (irishman style):\n"
            "  --meter M --key K   e.g. --meter 6/8 --key D (defaults 4/4, C)\n"
            "  --unit L            unit note length (default 1/8)\n"
            "  --sections S --bars B   control codes S: and B: for every section (default none)\n"
            "  --similarity E      control code E: for every pair of sections (default 4)\n"
            "  --temperature T --top-k K --top-p P   sampling (defaults 1, 0 = all, 1)\n"
            "  --max-tokens N      length cap in generated tokens (default 1024; GPT-2 also\n"
            "                      stops at its context length)\n"
            "  --backend cpu|cuda  (default cpu)\n"
            "  --out DIR           writes tune_001.abc ... and index.json\n");
}

// The prompt: --prompt with "\n" escapes made real, or a header built from
// the musical options. Always ends with a newline (the body starts there).
static char *build_prompt(const GenerateArgs *a) {
    char *p = tb_malloc(4096 + (a->prompt ? strlen(a->prompt) : 0));
    size_t n = 0;
    if (a->prompt) {
        for (const char *s = a->prompt; *s; s++) {
            if (s[0] == '\\' && s[1] == 'n') p[n++] = '\n', s++;
            else p[n++] = *s;
        }
        if (n == 0 || p[n - 1] != '\n') p[n++] = '\n';
        p[n] = '\0';
        return p;
    }
    n += (size_t)sprintf(p + n, "X:1\n");
    if (a->sections > 0) {
        n += (size_t)sprintf(p + n, "S:%d\n", a->sections);
        for (int i = 0; i < a->sections; i++) {
            for (int j = 0; j < i; j++) n += (size_t)sprintf(p + n, "E:%d\n", a->similarity);
            n += (size_t)sprintf(p + n, "B:%d\n", a->bars);
        }
    }
    sprintf(p + n, "L:%s\nM:%s\nK:%s\n", a->unit, a->meter, a->key);
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
    a->meter = "4/4", a->key = "C", a->unit = "1/8", a->backend = BACKEND_DEFAULT_NAME;
    sampler_config_default(&a->sampler);
    int musical = 0;
    static const char *const known[] = {"--ckpt", "--tokenizer", "--out", "--prompt", "--backend", "--meter",
                                        "--key", "--unit", "--n", "--seed", "--sections", "--bars",
                                        "--similarity", "--max-tokens", "--temperature", "--top-k", "--top-p"};
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (tb_streq(o, "--help") || tb_streq(o, "-h")) return 1;
        size_t k = 0;
        while (k < sizeof known / sizeof known[0] && !tb_streq(o, known[k])) k++;
        if (k == sizeof known / sizeof known[0])
            return tb_error("generate: unknown option '%s' (see tunebench generate --help)", o);
        if (!v) return tb_error("generate: option %s needs a value (see tunebench generate --help)", o);
        i++;
        char *end = NULL;
        if (tb_streq(o, "--ckpt")) a->ckpt = v;
        else if (tb_streq(o, "--tokenizer")) a->tokenizer = v;
        else if (tb_streq(o, "--out")) a->out = v;
        else if (tb_streq(o, "--prompt")) a->prompt = v;
        else if (tb_streq(o, "--backend")) a->backend = v;
        else if (tb_streq(o, "--meter")) a->meter = v, musical = 1;
        else if (tb_streq(o, "--key")) a->key = v, musical = 1;
        else if (tb_streq(o, "--unit")) a->unit = v, musical = 1;
        else if (tb_streq(o, "--n")) a->n = (int)strtol(v, &end, 10);
        else if (tb_streq(o, "--seed")) a->seed = strtoull(v, &end, 10);
        else if (tb_streq(o, "--sections")) a->sections = (int)strtol(v, &end, 10), musical = 1;
        else if (tb_streq(o, "--bars")) a->bars = (int)strtol(v, &end, 10), musical = 1;
        else if (tb_streq(o, "--similarity")) a->similarity = (int)strtol(v, &end, 10), musical = 1;
        else if (tb_streq(o, "--max-tokens")) a->max_tokens = (int)strtol(v, &end, 10);
        else if (tb_streq(o, "--temperature")) a->sampler.temperature = strtof(v, &end);
        else if (tb_streq(o, "--top-k")) a->sampler.top_k = (int)strtol(v, &end, 10);
        else if (tb_streq(o, "--top-p")) a->sampler.top_p = strtof(v, &end);
        else return tb_error("generate: unknown option '%s' (see tunebench generate --help)", o);
        if (end && *end) return tb_error("generate: %s %s: not a number", o, v);
    }
    if (!a->ckpt || !a->out) return tb_error("generate: --ckpt and --out are required");
    if (a->prompt && musical)
        return tb_error("generate: give either --prompt or --meter/--key/--unit/--sections/--bars/--similarity");
    if (a->n <= 0 || a->n > 100000) return tb_error("generate: --n %d: must be 1 to 100000", a->n);
    if (a->max_tokens <= 0) return tb_error("generate: --max-tokens must be positive");
    if (a->sections < 0 || a->sections > 8) return tb_error("generate: --sections must be 1 to 8 (TunesFormer's limit)");
    if (a->bars <= 0 || a->bars > 32) return tb_error("generate: --bars %d: must be 1 to 32 (bars per section)", a->bars);
    if (a->similarity < 0 || a->similarity > 10) return tb_error("generate: --similarity must be 0 to 10");
    if (strchr(a->meter, '\n') || strchr(a->key, '\n') || strchr(a->unit, '\n'))
        return tb_error("generate: --meter, --key and --unit are one line each");
    return check_header_fields(a);
}

int cmd_generate(int argc, char **argv) {
    GenerateArgs a;
    int rc = parse_args(argc, argv, &a);
    if (rc == 1) {
        usage(stdout);
        return 0;
    }
    if (rc) {
        tb_report();
        return 2;
    }
    const Backend *be = backend_by_name(a.backend);
    if (!be) {
        tb_report();
        return 1;
    }
    char tok_path[4096];
    if (a.tokenizer) snprintf(tok_path, sizeof tok_path, "%s", a.tokenizer);
    else snprintf(tok_path, sizeof tok_path, "%s/vocab.tok", a.ckpt);
    Tokenizer *tok = tb_streq(tok_path, "bytes") ? tok_new_bytes() : tok_load(tok_path);
    if (!tok) {
        tb_report();
        if (!a.tokenizer) fprintf(stderr, "tunebench: hint: pass --tokenizer data/corpus/<style>/vocab.tok (or 'bytes')\n");
        return 1;
    }
    Model *m = checkpoint_load(a.ckpt, be, NULL);
    if (!m) {
        tb_report();
        tok_free(tok);
        return 1;
    }
    int status = 1;
    char *prompt = build_prompt(&a);
    int V = m->spec.vocab_size;
    int32_t *ids = NULL;
    float *logits = tb_malloc((size_t)V * sizeof *logits);
    char *text = NULL;
    Sampler sampler = {0};
    cJSON *index = NULL;
    if (V != tok_vocab_size(tok)) {
        tb_error("generate: the checkpoint %s has a vocabulary of %d but the tokenizer %s has %d; "
                 "pass the tokenizer it was trained with (--tokenizer)",
                 a.ckpt, V, tok_path, tok_vocab_size(tok));
        goto done;
    }
    if (m->vt->alloc_decode(m)) goto done;
    if (sampler_init(&sampler, &a.sampler, V, a.seed)) goto done;
    if (tb_mkdirs(a.out)) goto done;

    // The prompt's tokens, after end-of-tune.
    size_t plen = strlen(prompt);
    uint16_t *ptok = tb_malloc((plen + 1) * sizeof *ptok);
    size_t np = tok_encode(tok, prompt, plen, ptok, plen + 1);
    // A model with a bounded context (learned positions) stops at its end;
    // a recurrent one runs on.
    int cap = a.max_tokens;
    if (m->arch->context_bounded && (int)np + 1 + cap > m->spec.max_seq_len)
        cap = m->spec.max_seq_len - (int)np - 1;
    if (cap <= 0) {
        free(ptok);
        tb_error("generate: the prompt is %zu tokens, too long for %s's context of %d", np, m->spec.name,
                 m->spec.max_seq_len);
        goto done;
    }
    ids = tb_malloc((np + 1 + (size_t)cap) * sizeof *ids);
    ids[0] = tok_eot_id(tok);
    for (size_t i = 0; i < np; i++) ids[1 + i] = ptok[i];
    free(ptok);
    int nprompt = (int)np + 1;

    index = cJSON_CreateObject();
    cJSON_AddStringToObject(index, "schema", "tunebench.generate.v1");
    cJSON_AddStringToObject(index, "checkpoint", a.ckpt);
    cJSON_AddStringToObject(index, "model", m->spec.name);
    cJSON_AddStringToObject(index, "tokenizer", tok_path);
    cJSON_AddStringToObject(index, "prompt", prompt);
    cJSON_AddNumberToObject(index, "prompt_tokens", (double)np);
    cJSON_AddNumberToObject(index, "seed", (double)a.seed);
    cJSON_AddNumberToObject(index, "temperature", a.sampler.temperature);
    cJSON_AddNumberToObject(index, "top_k", a.sampler.top_k);
    cJSON_AddNumberToObject(index, "top_p", a.sampler.top_p);
    cJSON_AddNumberToObject(index, "max_tokens", cap);
    cJSON_AddStringToObject(index, "backend", a.backend);
    cJSON *tunes = cJSON_AddArrayToObject(index, "tunes");
    size_t text_cap = plen + 64 + (size_t)cap * 64;
    text = tb_malloc(text_cap);
    double t_all = tb_now_seconds();
    for (int t = 0; t < a.n; t++) {
        rng_seed(&sampler.rng, a.seed + (uint64_t)t);
        double t0 = tb_now_seconds();
        m->vt->decode_reset(m);
        m->vt->prefill(m, ids, nprompt, logits);
        int n = 0;
        const char *stop = "length";
        for (;;) {
            int32_t next = sampler_sample(&sampler, logits);
            if (next == tok_eot_id(tok)) {
                stop = "end_of_tune";
                break;
            }
            ids[nprompt + n++] = next;
            if (n >= cap) break;
            m->vt->decode_step(m, next, logits);
        }
        double secs = tb_now_seconds() - t0;
        // The tune: the prompt, then what the model wrote, ending in a newline.
        size_t len = tok_decode(tok, ids + 1, (size_t)(nprompt - 1 + n), text, text_cap - 2);
        if (len == (size_t)-1 || len > text_cap - 2) {
            tb_error("generate: could not decode tune %d", t + 1);
            goto done;
        }
        if (len == 0 || text[len - 1] != '\n') text[len++] = '\n';
        char name[64], path[4200];
        snprintf(name, sizeof name, "tune_%03d.abc", t + 1);
        snprintf(path, sizeof path, "%s/%s", a.out, name);
        if (tb_write_file_atomic(path, text, len)) goto done;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "file", name);
        cJSON_AddNumberToObject(o, "seed", (double)(a.seed + (uint64_t)t));
        cJSON_AddNumberToObject(o, "generated_tokens", n);
        cJSON_AddNumberToObject(o, "bytes", (double)len);
        cJSON_AddStringToObject(o, "stop", stop);
        cJSON_AddNumberToObject(o, "seconds", secs);
        cJSON_AddItemToArray(tunes, o);
    }
    cJSON_AddNumberToObject(index, "seconds", tb_now_seconds() - t_all);
    char path[4200];
    snprintf(path, sizeof path, "%s/index.json", a.out);
    rc = tb_json_write(path, index);
    if (rc) goto done;
    printf("generate: %d tunes from %s -> %s\n", a.n, a.ckpt, a.out);
    status = 0;
done:
    if (status) tb_report();
    cJSON_Delete(index);
    sampler_free(&sampler);
    free(text);
    free(ids);
    free(logits);
    free(prompt);
    model_destroy(m);
    tok_free(tok);
    return status;
}
