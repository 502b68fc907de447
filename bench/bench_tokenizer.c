// bench_tokenizer.c: tokenizer speed on one core, for results/bench/tokenizer.json.
//
// For each style of the prepared corpus, encodes the whole training text
// (train.abc) REPEATS times and reports the median throughput in MB/s
// (1 MB = 10^6 bytes of ABC), plus decode throughput and bytes per token.
// The first repeat is a warm-up and is not counted.
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "lib/common.h"
#include "data/corpus.h"
#include "data/tokenizer.h"

#define REPEATS 7

int main(int argc, char **argv) {
    const char *corpus = argc > 1 ? argv[1] : "data/corpus/music21";
    const char *out_path = argc > 2 ? argv[2] : "results/bench/tokenizer.json";
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "benchmark", "tokenizer");
    cJSON_AddNumberToObject(root, "threads", 1);
    cJSON_AddNumberToObject(root, "repeats", REPEATS);
    cJSON_AddStringToObject(root, "unit", "MB/s, 1 MB = 1e6 bytes of ABC text, median of repeats");
    cJSON *results = cJSON_AddObjectToObject(root, "styles");
    for (int s = 0; s < corpus_num_styles; s++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s/vocab.tok", corpus, corpus_styles[s].name);
        Tokenizer *tok = tok_load(path);
        snprintf(path, sizeof path, "%s/%s/train.abc", corpus, corpus_styles[s].name);
        size_t len;
        char *text = tb_read_file(path, &len);
        if (!tok || !text) {
            tb_report();
            return 1;
        }
        uint16_t *ids = tb_malloc(len * sizeof *ids);
        char *back = tb_malloc(len);
        double enc[REPEATS], dec[REPEATS];
        size_t n = 0;
        for (int r = 0; r <= REPEATS; r++) {
            double t0 = tb_now_seconds();
            n = tok_encode(tok, text, len, ids, len);
            double t1 = tb_now_seconds();
            size_t m = tok_decode_u16(tok, ids, n, back, len);
            double t2 = tb_now_seconds();
            if (m != len || memcmp(back, text, len) != 0) {
                fprintf(stderr, "bench_tokenizer: round trip failed on %s\n", path);
                return 1;
            }
            if (r > 0) enc[r - 1] = len / 1e6 / (t1 - t0), dec[r - 1] = len / 1e6 / (t2 - t1);
        }
        cJSON *o = cJSON_AddObjectToObject(results, corpus_styles[s].name);
        cJSON_AddNumberToObject(o, "bytes", (double)len);
        cJSON_AddNumberToObject(o, "tokens", (double)n);
        cJSON_AddNumberToObject(o, "bytes_per_token", (double)len / (double)n);
        cJSON_AddNumberToObject(o, "encode_mb_per_s", tb_median(enc, REPEATS));
        cJSON_AddNumberToObject(o, "decode_mb_per_s", tb_median(dec, REPEATS));
        printf("tokenizer %-8s encode %.1f MB/s  decode %.1f MB/s  %.3f bytes/token\n", corpus_styles[s].name,
               tb_median(enc, REPEATS), tb_median(dec, REPEATS), (double)len / (double)n);
        free(ids), free(back), free(text);
        tok_free(tok);
    }
    int rc = tb_json_write(out_path, root);
    cJSON_Delete(root);
    if (rc) tb_report();
    return rc ? 1 : 0;
}
