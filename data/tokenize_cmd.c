// tokenize_cmd.c: `tunebench tokenize` and `tunebench detokenize`.
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/command.h"
#include "lib/common.h"
#include "tokenizer.h"

#define DEFAULT_VOCAB "data/corpus/music21/control/vocab.tok"

// "--vocab bytes" selects the byte-level tokenizer, which has no file.
static Tokenizer *load_vocab(const char *path) {
    if (tb_streq(path, "bytes")) return tok_new_bytes();
    if (!tb_file_exists(path)) {
        tb_error("vocabulary %s not found: run 'make data' first, or pass --vocab FILE (or --vocab bytes)",
                 path);
        return NULL;
    }
    return tok_load(path);
}

static char *read_input(const char *path, size_t *len) {
    if (!tb_streq(path, "-")) return tb_read_file(path, len);
    size_t cap = 1 << 16, n = 0;
    char *buf = tb_malloc(cap + 1);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, stdin)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
            if (!buf) tb_die("out of memory reading stdin");
        }
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static void tokenize_usage(FILE *out) {
    fprintf(out,
            "usage: tunebench tokenize [--vocab FILE|bytes] [--ids] FILE...\n"
            "  Prints one JSON object per file: {\"file\", \"bytes\", \"tokens\",\n"
            "  \"bytes_per_token\", \"roundtrip_ok\"}; with --ids, the token ids instead (one\n"
            "  line per file). FILE '-' reads stdin. Default vocabulary: %s\n",
            DEFAULT_VOCAB);
}

int cmd_tokenize(int argc, char **argv) {
    const char *vocab = DEFAULT_VOCAB;
    int ids = 0, nfiles = 0;
    const char **files = tb_calloc((size_t)argc + 1, sizeof *files);
    const TbOption opts[] = {TB_OPT("--vocab", TB_OPT_STRING, &vocab), TB_OPT("--ids", TB_OPT_TRUE, &ids),
                             {.name = NULL, .kind = TB_OPT_LIST, .dest = files, .seen = &nfiles, .max = argc}};
    int rc = tb_command_start(tb_parse_options("tokenize", argc, argv, opts, TB_OPTIONS(opts)), tokenize_usage);
    if (rc == TB_COMMAND_GO_ON && nfiles == 0) rc = (tb_error("tokenize needs at least one FILE"), tb_exit_usage());
    if (rc != TB_COMMAND_GO_ON) {
        free(files);
        return rc;
    }
    Tokenizer *tok = load_vocab(vocab);
    if (!tok) {
        tb_report();
        free(files);
        return 1;
    }
    rc = 0;
    for (int f = 0; f < nfiles; f++) {
        size_t len;
        char *text = read_input(files[f], &len);
        if (!text) {
            tb_report();
            rc = 1;
            continue;
        }
        uint16_t *tokens = tb_malloc((len + 1) * sizeof *tokens);
        size_t n = tok_encode(tok, text, len, tokens, len);
        if (ids) {
            for (size_t i = 0; i < n; i++) printf(i ? " %u" : "%u", tokens[i]);
            putchar('\n');
        } else {
            char *back = tb_malloc(len + 1);
            size_t m = tok_decode_u16(tok, tokens, n, back, len);
            int ok = m == len && memcmp(back, text, len) == 0;
            free(back);
            if (!ok) rc = 1;
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "file", files[f]);
            cJSON_AddNumberToObject(o, "bytes", (double)len);
            cJSON_AddNumberToObject(o, "tokens", (double)n);
            cJSON_AddNumberToObject(o, "bytes_per_token", n ? (double)len / (double)n : 0.0);
            cJSON_AddBoolToObject(o, "roundtrip_ok", ok);
            char *line = tb_json_print(o, 0);
            fputs(line, stdout);
            free(line);
            cJSON_Delete(o);
        }
        free(tokens);
        free(text);
    }
    tok_free(tok);
    free(files);
    return rc;
}

static void detokenize_usage(FILE *out) {
    fprintf(out,
            "usage: tunebench detokenize [--vocab FILE|bytes] [FILE]\n"
            "  Reads token ids (whitespace-separated integers) from FILE or stdin and\n"
            "  writes the text they decode to. The end-of-tune token decodes to a\n"
            "  newline. Default vocabulary: %s\n",
            DEFAULT_VOCAB);
}

int cmd_detokenize(int argc, char **argv) {
    const char *vocab = DEFAULT_VOCAB, *file = "-";
    int nfiles = 0;
    const TbOption opts[] = {TB_OPT("--vocab", TB_OPT_STRING, &vocab),
                             {.name = NULL, .kind = TB_OPT_STRING, .dest = &file, .seen = &nfiles, .max = 1}};
    int rc = tb_command_start(tb_parse_options("detokenize", argc, argv, opts, TB_OPTIONS(opts)), detokenize_usage);
    if (rc != TB_COMMAND_GO_ON) return rc;
    Tokenizer *tok = load_vocab(vocab);
    if (!tok) {
        tb_report();
        return 1;
    }
    size_t len;
    char *text = read_input(file, &len);
    if (!text) {
        tb_report();
        tok_free(tok);
        return 1;
    }
    rc = 0;
    char *p = text;
    size_t index = 0;
    for (;;) {
        while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r' || *p == ',') p++;
        if (!*p) break;
        char *end;
        errno = 0;
        long id = strtol(p, &end, 10);
        if (end == p || errno || id < 0 || id >= tok_vocab_size(tok)) {
            int n = 0;
            while (p[n] && p[n] != ' ' && p[n] != '\n' && n < 20) n++;
            fprintf(stderr,
                    "tunebench: error: detokenize: item %zu ('%.*s') is not a token id in [0, %d)\n",
                    index, n, p, tok_vocab_size(tok));
            rc = 1;
            break;
        }
        int tlen;
        const char *bytes = tok_token_text(tok, (int)id, &tlen);
        fwrite(bytes, 1, (size_t)tlen, stdout);
        p = end;
        index++;
    }
    free(text);
    tok_free(tok);
    return rc;
}
