// test_eval_cli.c: `tunebench eval` and `tunebench score` end to end, on a
// byte-level shard and a tiny checkpoint, against evaluate_tokens in-process;
// and their refusals (a shard of another tokenizer, bad ids, a checkpoint
// with a flipped byte or a NaN weight).
#include <cjson/cJSON.h>
#include <unistd.h>

#include "lib/common.h"
#include "data/shards.h"
#include "data/tokenizer.h"
#include "src/evaluate.h"
#include "models/checkpoint.h"
#include "test.h"

static char root[256];

// Runs a command line and returns its stdout parsed as JSON (NULL on failure).
static cJSON *run_json(const char *cmd, int *status) {
    FILE *p = popen(cmd, "r");
    char buf[1 << 16];
    size_t n = p ? fread(buf, 1, sizeof buf - 1, p) : 0;
    buf[n] = '\0';
    *status = p ? pclose(p) : -1;
    return cJSON_Parse(buf);
}

static double num(const cJSON *o, const char *k) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(x) ? x->valuedouble : NAN;
}

int main(int argc, char **argv) {
    (void)argc;
    test_find_tunebench(argv[0]);
    snprintf(root, sizeof root, "/tmp/tb_test_evalcli.%d", (int)getpid());
    tb_mkdirs(root);
    Tokenizer *tok = tok_new_bytes();
    const int V = tok_vocab_size(tok), N = 16 * 5 + 3;
    uint16_t tokens[16 * 5 + 3];
    Rng r;
    rng_seed(&r, 4);
    for (int i = 0; i < N; i++) tokens[i] = (uint16_t)(i % 20 == 19 ? TOK_EOT_ID : 'a' + rng_below(&r, 26));
    ShardHeader h = {SHARD_VERSION, (uint32_t)V, (uint64_t)N, tok_hash(tok), TOK_EOT_ID, 4};
    char shard[512], other[512], ckpt[512], ids[512], cmd[4096];
    snprintf(shard, sizeof shard, "%s/val.bin", root);
    CHECK(shard_write(shard, &h, tokens) == 0, "shard_write: %s", tb_last_error());
    h.tokenizer_hash ^= 1;
    snprintf(other, sizeof other, "%s/other.bin", root);
    shard_write(other, &h, tokens);

    ModelSpec spec;
    model_spec_by_name(&spec, "tiny-gpt2", V);
    Model *m = model_create(&spec, backend_cpu());
    m->vt->init_weights(m, 21);
    snprintf(ckpt, sizeof ckpt, "%s/ck", root);
    checkpoint_save(ckpt, m, NULL, NULL);
    int bytes[TOK_VOCAB_BYTES];
    for (int v = 0; v < V; v++) bytes[v] = tok_token_bytes(tok, v);
    EvalOptions opt = {4, 16, 0};
    EvalResult ref;
    float nats[16 * 5 + 3];
    evaluate_tokens(m, tokens, N, bytes, &opt, &ref, nats);

    int status;
    snprintf(cmd, sizeof cmd, "%s eval --ckpt %s --data %s --batch 4", test_tunebench(), ckpt, shard);
    cJSON *o = run_json(cmd, &status);
    CHECK(status == 0 && o, "eval failed (status %d)", status);
    float got[3] = {(float)num(o, "loss"), (float)num(o, "bpb"), (float)num(o, "tokens")};
    float want[3] = {(float)ref.loss, (float)ref.bpb, (float)(N - 1)};
    check_close("eval JSON: loss, bpb, tokens", got, want, 3, 0, 1e-6f);
    cJSON_Delete(o);

    snprintf(ids, sizeof ids, "%s/ids.txt", root);
    FILE *f = fopen(ids, "w");
    for (int i = 0; i < N; i++) fprintf(f, i % 10 == 9 ? "%d\n" : "%d ", tokens[i]);
    fclose(f);
    snprintf(cmd, sizeof cmd, "%s score --ckpt %s --ids %s", test_tunebench(), ckpt, ids);
    o = run_json(cmd, &status);
    const cJSON *lp = cJSON_GetObjectItemCaseSensitive(o, "logprobs");
    CHECK(status == 0 && cJSON_GetArraySize(lp) == N - 1, "score: status %d, %d logprobs", status,
          cJSON_GetArraySize(lp));
    float lps[16 * 5 + 3], neg[16 * 5 + 3];
    int i = 0;
    for (const cJSON *x = lp ? lp->child : NULL; x && i < N - 1; x = x->next, i++)
        lps[i] = (float)x->valuedouble, neg[i] = -nats[i];
    if (i == N - 1) check_close("score logprobs vs evaluate_tokens", lps, neg, N - 1, 1e-6f, 1e-5f);
    float loss = (float)num(o, "loss"), ref_loss = (float)ref.loss;
    check_close("score loss", &loss, &ref_loss, 1, 0, 1e-5f);
    cJSON_Delete(o);

    // Refusals: a shard made by another tokenizer; an id out of the vocabulary; junk.
    snprintf(cmd, sizeof cmd, "%s eval --ckpt %s --data %s --vocab bytes 2>&1", test_tunebench(), ckpt, other);
    o = run_json(cmd, &status);
    CHECK(status != 0, "eval of a shard of another tokenizer succeeded");
    cJSON_Delete(o);
    f = fopen(ids, "w");
    fprintf(f, "1 2 3 999\n");
    fclose(f);
    snprintf(cmd, sizeof cmd, "%s score --ckpt %s --ids %s 2>/dev/null", test_tunebench(), ckpt, ids);
    run_json(cmd, &status);
    CHECK(status != 0, "score accepted an id outside the vocabulary");
    f = fopen(ids, "w");
    fprintf(f, "1 2 x3\n");
    fclose(f);
    run_json(cmd, &status);
    CHECK(status != 0, "score accepted a non-integer id");

    // A checkpoint that is corrupt (one flipped byte) or holds a NaN: both
    // commands refuse it with a line naming the file, instead of numbers.
    f = fopen(ids, "w");
    fprintf(f, "1 2 3 4 5\n");
    fclose(f);
    char weights[600], err[600];
    snprintf(weights, sizeof weights, "%s/model.safetensors", ckpt);
    snprintf(err, sizeof err, "%s/err.txt", root);
    size_t len;
    char *raw = tb_read_file(weights, &len);
    raw[len / 2] ^= 0x02;
    tb_write_file_atomic(weights, raw, len);
    free(raw);
    for (int pass = 0; pass < 2; pass++) {
        const char *needle = pass == 0 ? "does not match the checksum" : "non-finite";
        snprintf(cmd, sizeof cmd, "%s eval --ckpt %s --data %s --batch 4 2>%s", test_tunebench(), ckpt, shard, err);
        run_json(cmd, &status);
        char *text = tb_read_file(err, NULL);
        CHECK(status != 0 && text && strstr(text, needle) && strstr(text, weights), "eval of a checkpoint with %s: %s",
              pass == 0 ? "a flipped byte" : "a NaN weight", text ? text : "(no error)");
        free(text);
        snprintf(cmd, sizeof cmd, "%s score --ckpt %s --ids %s 2>%s", test_tunebench(), ckpt, ids, err);
        run_json(cmd, &status);
        text = tb_read_file(err, NULL);
        CHECK(status != 0 && text && strstr(text, needle) && strstr(text, weights), "score of a checkpoint with %s: %s",
              pass == 0 ? "a flipped byte" : "a NaN weight", text ? text : "(no error)");
        free(text);
        if (pass == 0) {
            model_param(m, "transformer.h.1.mlp.c_fc.weight")[17] = NAN;
            CHECK(checkpoint_save(ckpt, m, NULL, NULL) == 0, "save with a NaN: %s", tb_last_error());
        }
    }
    model_destroy(m);
    tok_free(tok);
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", root);
    return test_summary("test_eval_cli");
}
