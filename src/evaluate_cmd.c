// evaluate_cmd.c: `tunebench eval` and `tunebench score`.
#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/command.h"
#include "lib/common.h"
#include "data/shards.h"
#include "data/tokenizer.h"
#include "checkpoint_tokenizer.h"
#include "evaluate.h"
#include "models/checkpoint.h"

static void print_json(cJSON *o) {
    char *text = tb_json_print(o, 0);
    fputs(text, stdout);
    free(text);
    cJSON_Delete(o);
}

// The vocabulary for a shard: the one given, else bytes for a 257-token
// shard, else vocab.tok beside the shard (where `make data` puts it).
static Tokenizer *tokenizer_for_shard(const char *vocab, const char *shard) {
    if (vocab && tb_streq(vocab, "bytes")) return tok_new_bytes();
    if (vocab) return tok_load(vocab);
    ShardHeader h;
    if (shard_read_header(shard, &h) != 0) return NULL;
    if (h.vocab_size == TOK_VOCAB_BYTES) return tok_new_bytes();
    char path[4096];
    snprintf(path, sizeof path, "%s", shard);
    char *slash = strrchr(path, '/');
    if (slash) snprintf(slash + 1, sizeof path - (size_t)(slash + 1 - path), "vocab.tok");
    else snprintf(path, sizeof path, "vocab.tok");
    if (!tb_file_exists(path)) {
        tb_error("no vocabulary for %s: %s does not exist; pass --vocab FILE", shard, path);
        return NULL;
    }
    return tok_load(path);
}

// The vocabulary for a checkpoint and a shard: the checkpoint's own (a --vocab
// given must be it); for a checkpoint that carries none, tokenizer_for_shard.
static Tokenizer *tokenizer_for_eval(const char *ckpt, const char *vocab, const char *shard) {
    CheckpointTokenizer ct;
    if (checkpoint_tokenizer(ckpt, &ct) != 0) return NULL;
    if (ct.kind == CHECKPOINT_TOKENIZER_NONE) return tokenizer_for_shard(vocab, shard);
    char used[4200];
    return tokenizer_for_checkpoint(ckpt, vocab, "--vocab", used, sizeof used);
}

static void eval_usage(FILE *out) {
    fputs(
        "usage: tunebench eval --ckpt DIR --data SHARD [--vocab FILE|bytes] [--batch B] [--seq T]\n"
        "                      [--max-windows N] [--backend cpu|cuda] [--no-verify-corpus]\n"
        "  Mean loss (nats per token) and bits per byte of a checkpoint over a whole token shard,\n"
        "  in sequential windows of T tokens (default: the model's context), B windows per\n"
        "  forward (default 8). Prints one JSON object. The vocabulary defaults to the\n"
        "  checkpoint's own (a --vocab given must be it); for a checkpoint without one, to\n"
        "  vocab.tok beside the shard (bytes for a byte-level shard). A shard listed in the\n"
        "  manifest.json beside it must match it (size and hash); --no-verify-corpus skips that check.\n",
        out);
}

int cmd_eval(int argc, char **argv) {
    const char *ckpt = NULL, *data = NULL, *vocab = NULL, *backend = BACKEND_DEFAULT_NAME;
    int B = 8, T = 0, max_windows = 0, verify = 1;
    const TbOption opts[] = {
        TB_OPT("--ckpt", TB_OPT_STRING, &ckpt), TB_OPT("--data", TB_OPT_STRING, &data),
        TB_OPT("--vocab", TB_OPT_STRING, &vocab), TB_OPT("--backend", TB_OPT_STRING, &backend),
        TB_OPT("--no-verify-corpus", TB_OPT_FALSE, &verify), TB_OPT_IN("--batch", TB_OPT_INT, &B, 1, 1e9),
        TB_OPT_IN("--seq", TB_OPT_INT, &T, 0, 1e9), TB_OPT_IN("--max-windows", TB_OPT_INT, &max_windows, 0, 1e9)};
    int rc = tb_command_start(tb_parse_options("eval", argc, argv, opts, TB_OPTIONS(opts)), eval_usage);
    if (rc != TB_COMMAND_GO_ON) return rc;
    if (!ckpt || !data) return tb_error("eval needs --ckpt and --data (see tunebench eval --help)"), tb_exit_usage();
    const Backend *be = backend_by_name(backend);
    if (!be) return tb_report(), 1;
    if (verify && corpus_verify_file(data) < 0) return tb_report(), 1;
    Tokenizer *tok = tokenizer_for_eval(ckpt, vocab, data);
    if (!tok) return tb_report(), 1;
    Model *m = checkpoint_load(ckpt, be, NULL);
    if (!m) {
        tok_free(tok);
        return tb_report(), 1;
    }
    EvalOptions opt = {B, T ? T : m->spec.max_seq_len, (uint64_t)max_windows};
    EvalResult r;
    rc = evaluate_shard(m, data, tok, &opt, &r);
    if (rc == 0) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "ckpt", ckpt);
        cJSON_AddStringToObject(o, "data", data);
        cJSON_AddStringToObject(o, "model", m->spec.name);
        cJSON_AddStringToObject(o, "arch", m->spec.arch);
        cJSON_AddNumberToObject(o, "params", (double)m->params.num_params);
        cJSON_AddNumberToObject(o, "loss", r.loss);
        cJSON_AddNumberToObject(o, "bpb", r.bpb);
        cJSON_AddNumberToObject(o, "tokens", (double)r.tokens);
        cJSON_AddNumberToObject(o, "bytes", r.sum_bytes);
        cJSON_AddNumberToObject(o, "windows", (double)r.windows);
        cJSON_AddNumberToObject(o, "window", opt.T);
        cJSON_AddNumberToObject(o, "batch", opt.B);
        cJSON_AddStringToObject(o, "backend", be->name);
        cJSON_AddNumberToObject(o, "seconds", r.seconds);
        cJSON_AddNumberToObject(o, "tokens_per_second", r.seconds > 0 ? (double)r.tokens / r.seconds : 0);
        print_json(o);
    } else {
        tb_report();
    }
    model_destroy(m);
    tok_free(tok);
    return rc ? 1 : 0;
}

// A whole file, or stdin for "-"; NUL-terminated, *len_out its length.
static char *read_input(const char *path, size_t *len_out) {
    size_t len;
    char *text = tb_streq(path, "-") ? NULL : tb_read_file(path, &len);
    if (tb_streq(path, "-")) {
        size_t cap = 1 << 16;
        len = 0;
        text = tb_malloc(cap + 1);
        size_t got;
        while ((got = fread(text + len, 1, cap - len, stdin)) > 0)
            if ((len += got) == cap) {
                text = realloc(text, (cap *= 2) + 1);
                if (!text) tb_die("out of memory reading stdin");
            }
        text[len] = '\0';
    }
    if (text) *len_out = len;
    return text;
}

// Whitespace-separated decimal ids; errors name the file and the position.
static int32_t *read_ids(const char *path, size_t *n_out) {
    size_t len;
    char *text = read_input(path, &len);
    if (!text) return NULL;
    size_t cap = 1024, n = 0;
    int32_t *ids = tb_malloc(cap * sizeof *ids);
    const char *p = text;
    for (;;) {
        while (isspace((unsigned char)*p)) p++;
        if (!*p) break;
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v > INT32_MAX || (*end && !isspace((unsigned char)*end))) {
            tb_error("%s: id %zu ('%.20s') is not a non-negative integer", path, n + 1, p);
            free(ids);
            free(text);
            return NULL;
        }
        if (n == cap) {
            ids = realloc(ids, (cap *= 2) * sizeof *ids);
            if (!ids) tb_die("out of memory reading %s", path);
        }
        ids[n++] = (int32_t)v;
        p = end;
    }
    free(text);
    *n_out = n;
    return ids;
}

// The ids of a text: end-of-tune (what precedes a tune in the shards) then
// its tokens under the checkpoint's tokenizer; *bytes_out receives each
// token's byte length, for bits per byte.
static int32_t *ids_of_text(const char *ckpt, const char *vocab, const char *path, size_t *n_out,
                            int **bytes_out) {
    char used[4200];
    Tokenizer *tok = tokenizer_for_checkpoint(ckpt, vocab, "--vocab", used, sizeof used);
    if (!tok) return NULL;
    size_t len;
    char *text = read_input(path, &len);
    int32_t *ids = NULL;
    if (text) {
        uint16_t *t = tb_malloc((len + 1) * sizeof *t);
        size_t n = tok_encode(tok, text, len, t, len + 1);
        ids = tb_malloc((n + 1) * sizeof *ids);
        ids[0] = tok_eot_id(tok);
        for (size_t i = 0; i < n; i++) ids[1 + i] = t[i];
        *n_out = n + 1;
        free(t);
        int V = tok_vocab_size(tok);
        *bytes_out = tb_malloc((size_t)V * sizeof **bytes_out);
        for (int v = 0; v < V; v++) (*bytes_out)[v] = tok_token_bytes(tok, v);
    }
    free(text);
    tok_free(tok);
    return ids;
}

static void score_usage(FILE *out) {
    fputs(
        "usage: tunebench score --ckpt DIR (--ids FILE | --text FILE [--vocab FILE|bytes]) [--seq T]\n"
        "                       [--backend cpu|cuda]\n"
        "  Reads whitespace-separated token ids, or a text that the checkpoint's tokenizer\n"
        "  encodes after an end-of-tune token (--vocab given must be that tokenizer; FILE '-'\n"
        "  reads stdin), and prints {\"loss\": mean nats per predicted token, \"logprobs\": [...],\n"
        "  \"tokens\": N} (with --text also \"bpb\"): one natural-log probability for each id after\n"
        "  the first. Sequences longer than T (default: the model's context) are scored in\n"
        "  sequential windows of T, as `tunebench eval` does.\n",
        out);
}

int cmd_score(int argc, char **argv) {
    const char *ckpt = NULL, *ids_path = NULL, *text_path = NULL, *vocab = NULL, *backend = BACKEND_DEFAULT_NAME;
    int T = 0;
    const TbOption opts[] = {
        TB_OPT("--ckpt", TB_OPT_STRING, &ckpt), TB_OPT("--ids", TB_OPT_STRING, &ids_path),
        TB_OPT("--text", TB_OPT_STRING, &text_path), TB_OPT("--vocab", TB_OPT_STRING, &vocab),
        TB_OPT("--backend", TB_OPT_STRING, &backend), TB_OPT_IN("--seq", TB_OPT_INT, &T, 0, 1e9)};
    int rc = tb_command_start(tb_parse_options("score", argc, argv, opts, TB_OPTIONS(opts)), score_usage);
    if (rc != TB_COMMAND_GO_ON) return rc;
    if (!ckpt || !ids_path == !text_path || (vocab && !text_path))
        return tb_error("score needs --ckpt and one of --ids and --text (--vocab goes with --text)"), tb_exit_usage();
    const Backend *be = backend_by_name(backend);
    if (!be) return tb_report(), 1;
    size_t n;
    int *token_bytes = NULL;
    if (text_path) ids_path = text_path;
    int32_t *ids = text_path ? ids_of_text(ckpt, vocab, text_path, &n, &token_bytes) : read_ids(ids_path, &n);
    if (!ids) return tb_report(), 1;
    if (n < 2) {
        free(ids);
        free(token_bytes);
        tb_error("%s: %zu ids; at least 2 are needed to score one", ids_path, n);
        return tb_report(), 1;
    }
    Model *m = checkpoint_load(ckpt, be, NULL);
    if (!m) {
        free(ids);
        free(token_bytes);
        return tb_report(), 1;
    }
    for (size_t i = 0; i < n; i++)
        if (ids[i] >= m->spec.vocab_size) {
            tb_error("%s: id %zu is %d, outside the model's vocabulary 0..%d", ids_path, i + 1,
                     (int)ids[i], m->spec.vocab_size - 1);
            free(ids);
            free(token_bytes);
            model_destroy(m);
            return tb_report(), 1;
        }
    EvalOptions opt = {1, T ? T : m->spec.max_seq_len, 0};
    EvalResult r;
    float *nats = tb_malloc((n - 1) * sizeof(float));
    rc = evaluate_ids(m, ids, n, token_bytes, &opt, &r, nats);
    if (rc == 0) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "loss", r.loss);
        if (token_bytes) cJSON_AddNumberToObject(o, "bpb", r.bpb);
        cJSON *lp = cJSON_AddArrayToObject(o, "logprobs");
        for (size_t i = 0; i + 1 < n; i++) cJSON_AddItemToArray(lp, cJSON_CreateNumber(-(double)nats[i]));
        cJSON_AddNumberToObject(o, "tokens", (double)r.tokens);
        print_json(o);
    } else {
        tb_report();
    }
    free(nats);
    free(ids);
    free(token_bytes);
    model_destroy(m);
    return rc ? 1 : 0;
}
