// test_music_generate.c: `tunebench generate` on a tiny GPT-2 checkpoint.
//
// Random weights make random bytes, which is all these checks need: the
// prompt starts every tune, the length cap holds, a seed reproduces its tunes
// bit for bit and another seed does not, the JSON index lists every file, and
// a model that always prefers end-of-tune stops at once. Refusals: a meter,
// key or bar count that no ABC reader takes, an unknown option, a checkpoint
// with a flipped byte or a NaN weight. A prompt that is not UTF-8 still gives
// an index.json that is JSON. --prompts-from gives each tune a real tune's
// header, reproducibly; a run folder's best/ is read unless --checkpoint latest.
// --batch B runs the tunes in groups of B, reproducibly, and is recorded.
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../data/tokenizer.h"
#include "../models/checkpoint.h"
#include "lib/common.h"
#include "test.h"

static char *read_text(const char *dir, const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return tb_read_file(path, NULL);
}

// The tunebench beside this test (<build>/tunebench for
// <build>/tests/test_music_generate), so that the sanitizer build tests its own.
static char tunebench[512] = "build/tunebench";

static int run(const char *args) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s generate %s > /dev/null 2>&1", tunebench, args);
    return system(cmd);
}

// Runs build/tunebench generate with these arguments (raw bytes allowed);
// stderr goes to err_path. The exit status.
static int run_argv(char *const args[], const char *err_path) {
    pid_t pid = fork();
    if (pid == 0) {
        int out = open("/dev/null", O_WRONLY), err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(out, 1), dup2(err, 2);
        execv(tunebench, args);
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static int file_has(const char *path, const char *needle) {
    char *text = tb_read_file(path, NULL);
    int found = text && strstr(text, needle);
    if (!found) fprintf(stderr, "%s lacks '%s': %s\n", path, needle, text ? text : "(none)");
    free(text);
    return found;
}

// Valid UTF-8 throughout: tb_utf8_clean changes nothing.
static int is_utf8(const char *text) {
    char *copy = tb_strdup(text);
    tb_utf8_clean(copy);
    int same = strcmp(copy, text) == 0;
    free(copy);
    return same;
}

static int save_tiny(const char *dir, int eot_always) {
    ModelSpec spec;
    if (model_spec_by_name(&spec, "tiny-gpt2", TOK_VOCAB_BYTES)) return -1;
    spec.max_seq_len = 256;
    Model *m = model_create(&spec, backend_cpu());
    if (!m) return -1;
    m->vt->init_weights(m, 7);
    if (eot_always) {
        // ln_f's weight 0 and bias b make the final state b for every input;
        // with wte[EOT] = 10 b and the other rows 0, EOT has the top logit.
        const ParamTensor *wte = model_find_tensor(m, "transformer.wte.weight");
        float *w = model_param(m, "transformer.wte.weight");
        float *g = model_param(m, "transformer.ln_f.weight");
        float *b = model_param(m, "transformer.ln_f.bias");
        int C = m->spec.d_model;
        memset(w, 0, wte->numel * sizeof *w);
        for (int c = 0; c < C; c++) {
            g[c] = 0, b[c] = 1;
            w[(size_t)TOK_EOT_ID * C + c] = 10;
        }
    }
    int rc = checkpoint_save(dir, m, NULL, NULL);
    model_destroy(m);
    return rc;
}

int main(int argc, char **argv) {
    (void)argc;
    const char *tests_dir = strstr(argv[0], "/tests/");
    if (tests_dir) snprintf(tunebench, sizeof tunebench, "%.*s/tunebench", (int)(tests_dir - argv[0]), argv[0]);
    char root[] = "/tmp/tb_test_generate_XXXXXX";
    CHECK(mkdtemp(root) != NULL, "mkdtemp");
    char ckpt[300], eot_ckpt[300], out1[300], out2[300], out3[300], args[1500], cmd_rm[400];
    snprintf(ckpt, sizeof ckpt, "%s/ckpt", root);
    snprintf(eot_ckpt, sizeof eot_ckpt, "%s/ckpt_eot", root);
    snprintf(out1, sizeof out1, "%s/out1", root);
    snprintf(out2, sizeof out2, "%s/out2", root);
    snprintf(out3, sizeof out3, "%s/out3", root);
    CHECK(save_tiny(ckpt, 0) == 0, "saving the tiny checkpoint: %s", tb_last_error());
    CHECK(save_tiny(eot_ckpt, 1) == 0, "saving the end-of-tune checkpoint: %s", tb_last_error());

    const char *musical = "--meter 6/8 --key D --sections 2 --bars 8 --similarity 3";
    const char *prompt = "X:1\nS:2\nB:8\nE:3\nB:8\nL:1/8\nM:6/8\nK:D\n";
    snprintf(args, sizeof args, "--ckpt %s --tokenizer bytes --n 3 --seed 5 %s --max-tokens 40 --out %s", ckpt,
             musical, out1);
    CHECK(run(args) == 0, "generate failed: %s", args);
    snprintf(args, sizeof args, "--ckpt %s --tokenizer bytes --n 3 --seed 5 %s --max-tokens 40 --out %s", ckpt,
             musical, out2);
    CHECK(run(args) == 0, "generate (again) failed");
    snprintf(args, sizeof args, "--ckpt %s --tokenizer bytes --n 1 --seed 6 %s --max-tokens 40 --out %s", ckpt,
             musical, out3);
    CHECK(run(args) == 0, "generate (seed 6) failed");

    const char *names[] = {"tune_001.abc", "tune_002.abc", "tune_003.abc"};
    for (int i = 0; i < 3; i++) {
        char *a = read_text(out1, names[i]), *b = read_text(out2, names[i]);
        CHECK(a && b && strcmp(a, b) == 0, "%s differs between two runs with one seed", names[i]);
        CHECK(a && strncmp(a, prompt, strlen(prompt)) == 0, "%s does not start with the prompt", names[i]);
        // Bytes tokenizer: at most 40 generated bytes after the prompt, plus the final newline.
        CHECK(a && strlen(a) <= strlen(prompt) + 41, "%s is longer than the cap", names[i]);
        free(a), free(b);
    }
    // Tune 2 uses seed 6, like the single tune of the seed-6 run; tune 1 (seed 5) differs.
    // (Both decoded one tune at a time: in a batch a tune's logits may differ
    // in the last bits, test_decode_batch bounds by how much.)
    char out1b[320];
    snprintf(out1b, sizeof out1b, "%s/out1b", root);
    snprintf(args, sizeof args, "--ckpt %s --tokenizer bytes --n 3 --seed 5 %s --max-tokens 40 --batch 1 --out %s",
             ckpt, musical, out1b);
    CHECK(run(args) == 0, "generate --batch 1 failed: %s", args);
    char *t1 = read_text(out1b, names[0]), *t2 = read_text(out1b, names[1]), *s6 = read_text(out3, names[0]);
    CHECK(t1 && t2 && s6 && strcmp(t2, s6) == 0 && strcmp(t1, s6) != 0, "tune i is drawn with seed + i");
    free(t1), free(t2), free(s6);

    // --batch 2: three tunes in two slots (the third takes the slot of the
    // first one done), the same tunes again with the same seed and batch;
    // index.json records the batch, each tune's slot (group) and each slot's
    // seconds.
    char outb[2][320];
    for (int k = 0; k < 2; k++) {
        snprintf(outb[k], sizeof outb[k], "%s/outb%d", root, k);
        snprintf(args, sizeof args, "--ckpt %s --tokenizer bytes --n 3 --seed 5 %s --max-tokens 40 --batch 2 --out %s",
                 ckpt, musical, outb[k]);
        CHECK(run(args) == 0, "generate --batch 2 failed: %s", args);
    }
    int same_b = 1;
    for (int i = 0; i < 3; i++) {
        char *a = read_text(outb[0], names[i]), *b = read_text(outb[1], names[i]);
        same_b &= a && b && strcmp(a, b) == 0 && strncmp(a, prompt, strlen(prompt)) == 0;
        free(a), free(b);
    }
    CHECK(same_b, "--batch 2 with one seed gives different tunes (or tunes without the prompt)");
    char *bidx = read_text(outb[0], "index.json");
    cJSON *bj = bidx ? cJSON_Parse(bidx) : NULL;
    const cJSON *btunes = cJSON_GetObjectItem(bj, "tunes");
    // A tune is done at the draw of its last token, or of end-of-tune (one
    // more draw); the third takes the slot done first (slot 0 on a tie).
    double done_at[2];
    for (int k = 0; k < 2; k++) {
        const cJSON *bt = cJSON_GetArrayItem(btunes, k);
        done_at[k] = cJSON_GetNumberValue(cJSON_GetObjectItem(bt, "generated_tokens")) +
                     tb_streq(cJSON_GetStringValue(cJSON_GetObjectItem(bt, "stop")), "end_of_tune");
    }
    double third = cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetArrayItem(btunes, 2), "group"));
    const cJSON *slot_seconds = cJSON_GetObjectItem(bj, "group_seconds");
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(bj, "batch")) == 2 && cJSON_GetArraySize(slot_seconds) == 2 &&
              cJSON_GetNumberValue(cJSON_GetArrayItem(slot_seconds, 0)) > 0 &&
              cJSON_GetNumberValue(cJSON_GetArrayItem(slot_seconds, 1)) > 0 &&
              cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetArrayItem(btunes, 0), "group")) == 0 &&
              cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetArrayItem(btunes, 1), "group")) == 1 &&
              third == (done_at[1] < done_at[0] ? 1 : 0),
          "index.json of --batch 2: %s", bidx ? bidx : "(none)");
    cJSON_Delete(bj);
    free(bidx);
    char errb[400];
    snprintf(errb, sizeof errb, "%s/errb.txt", root);
    char *argv_b0[] = {"tunebench", "generate", "--ckpt", ckpt, "--tokenizer", "bytes", "--out", out3,
                       "--batch", "0", NULL};
    CHECK(run_argv(argv_b0, errb) == 2 && file_has(errb, "--batch 0: must be 1 to"), "--batch 0 is accepted");

    char *idx = read_text(out1, "index.json");
    cJSON *j = idx ? cJSON_Parse(idx) : NULL;
    const cJSON *tunes = cJSON_GetObjectItem(j, "tunes");
    CHECK(cJSON_GetArraySize(tunes) == 3, "index.json lists 3 tunes");
    const cJSON *t;
    int ok = 1;
    cJSON_ArrayForEach(t, tunes) {
        int n = cJSON_GetObjectItem(t, "generated_tokens")->valueint;
        const char *stop = cJSON_GetObjectItem(t, "stop")->valuestring;
        ok &= n <= 40 && (tb_streq(stop, "length") ? n == 40 : tb_streq(stop, "end_of_tune"));
    }
    CHECK(ok, "index.json: token counts and stop reasons");
    CHECK(tb_streq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "prompt")), prompt), "index.json keeps the prompt");
    // The sampling settings in force are recorded (defaults: 1, 0, 1).
    float got[3] = {(float)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "temperature")),
                    (float)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "top_k")),
                    (float)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "top_p"))};
    float want[3] = {1, 0, 1};
    check_close("index.json sampling settings", got, want, 3, 0, 0);
    cJSON_Delete(j);
    free(idx);

    // A model that always prefers end-of-tune: greedy decoding stops at once.
    snprintf(args, sizeof args, "--ckpt %s --tokenizer bytes --n 2 --temperature 0 --prompt 'X:1\\nK:G\\n' --out %s",
             eot_ckpt, out3);
    CHECK(run(args) == 0, "generate from the end-of-tune model failed");
    char *e = read_text(out3, "tune_001.abc");
    CHECK(e && strcmp(e, "X:1\nK:G\n") == 0, "the tune is the prompt alone: '%s'", e ? e : "(none)");
    free(e);
    idx = read_text(out3, "index.json");
    CHECK(idx && strstr(idx, "\"end_of_tune\"") && strstr(idx, "\"generated_tokens\":\t0"),
          "index.json records the end-of-tune stop");
    free(idx);

    // --prompts-from: each tune starts with a real tune's header (X:1, then
    // S:/B:/E:/L:/M:/K: as written; T: and the body left out); a tune without
    // K: gives no prompt. Five tunes over two headers use both, and the same
    // seed gives the same prompts.
    char val[320], out5[320], out6[320];
    snprintf(val, sizeof val, "%s/val.abc", root);
    snprintf(out5, sizeof out5, "%s/out5", root);
    snprintf(out6, sizeof out6, "%s/out6", root);
    const char *val_text = "X:4\nT:First\nS:2\nB:8\nE:5\nB:8\nL:1/8\nM:6/8\nK:D\nABc|def|]\n\n"
                           "X:5\nT:No key\nM:3/4\nABc|\n\n"
                           "X:6\nT:Second\nM:3/4\nL:1/16\nK:Ador\nabc|]\n";
    const char *heads[2] = {"X:1\nS:2\nB:8\nE:5\nB:8\nL:1/8\nM:6/8\nK:D\n", "X:1\nM:3/4\nL:1/16\nK:Ador\n"};
    tb_write_file_atomic(val, val_text, strlen(val_text));
    for (int k = 0; k < 2; k++) {
        snprintf(args, sizeof args, "--ckpt %s --tokenizer bytes --n 5 --seed 3 --max-tokens 8 --prompts-from %s --out %s",
                 ckpt, val, k ? out6 : out5);
        CHECK(run(args) == 0, "generate --prompts-from failed: %s", args);
    }
    int used[2] = {0, 0}, same = 1;
    for (int i = 1; i <= 5; i++) {
        char name[32];
        snprintf(name, sizeof name, "tune_%03d.abc", i);
        char *a = read_text(out5, name), *b = read_text(out6, name);
        int which = -1;
        for (int k = 0; k < 2; k++)
            if (a && strncmp(a, heads[k], strlen(heads[k])) == 0) which = k;
        CHECK(which >= 0, "%s starts with no validation header: %s", name, a ? a : "(none)");
        if (which >= 0) used[which]++;
        same &= a && b && strcmp(a, b) == 0;
        free(a), free(b);
    }
    CHECK(used[0] && used[1] && used[0] + used[1] == 5, "both headers are used (%d and %d)", used[0], used[1]);
    CHECK(same, "--prompts-from with one seed gives the same tunes");
    idx = read_text(out5, "index.json");
    j = idx ? cJSON_Parse(idx) : NULL;
    const cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "tunes"), 0);
    CHECK(tb_streq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "prompts_from")), val) &&
              cJSON_GetNumberValue(cJSON_GetObjectItem(j, "prompt_headers")) == 2 &&
              cJSON_IsString(cJSON_GetObjectItem(first, "prompt")) &&
              tb_streq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "checkpoint_kind")), "latest"),
          "index.json records the prompts' source, each tune's prompt and the checkpoint kind");
    cJSON_Delete(j);
    free(idx);
    snprintf(args, sizeof args, "--ckpt %s --tokenizer bytes --prompts-from %s --meter 3/4 --out %s", ckpt, val, out6);
    CHECK(WEXITSTATUS(run(args)) == 2, "--prompts-from with --meter is an error");
    snprintf(args, sizeof args, "--ckpt %s --tokenizer bytes --prompts-from %s/none.abc --out %s", ckpt, root, out6);
    CHECK(WEXITSTATUS(run(args)) == 1, "a missing --prompts-from file is an error");

    // The best checkpoint: a run folder RUN/ with RUN.best/ beside it (here
    // the end-of-tune model) is read from RUN.best/ unless --checkpoint latest.
    char best[330], out7[320];
    snprintf(best, sizeof best, "%s.best", ckpt);
    snprintf(out7, sizeof out7, "%s/out7", root);
    CHECK(save_tiny(best, 1) == 0, "saving RUN.best/: %s", tb_last_error());
    snprintf(args, sizeof args, "--ckpt %s --tokenizer bytes --n 1 --temperature 0 --prompt 'X:1\\nK:G\\n' --out %s", ckpt,
             out7);
    CHECK(run(args) == 0, "generate from a run folder with RUN.best/ beside it");
    e = read_text(out7, "tune_001.abc");
    idx = read_text(out7, "index.json");
    CHECK(e && strcmp(e, "X:1\nK:G\n") == 0 && idx && strstr(idx, "\"checkpoint_kind\":\t\"best\""),
          "RUN.best/ is the default: %s", e ? e : "(none)");
    free(e), free(idx);
    snprintf(args, sizeof args,
             "--ckpt %s --tokenizer bytes --n 1 --temperature 0 --checkpoint latest --prompt 'X:1\\nK:G\\n' --out %s",
             ckpt, out7);
    CHECK(run(args) == 0, "generate --checkpoint latest");
    e = read_text(out7, "tune_001.abc");
    idx = read_text(out7, "index.json");
    CHECK(e && strcmp(e, "X:1\nK:G\n") != 0 && idx && strstr(idx, "\"checkpoint_kind\":\t\"latest\""),
          "--checkpoint latest reads the folder itself");
    free(e), free(idx);
    snprintf(args, sizeof args, "--ckpt %s --tokenizer bytes --checkpoint newest --out %s", ckpt, out7);
    CHECK(WEXITSTATUS(run(args)) == 2, "--checkpoint newest is refused");
    snprintf(cmd_rm, sizeof cmd_rm, "rm -rf %s", best);
    CHECK(system(cmd_rm) == 0, "remove RUN.best/");

    // Bad input: a missing checkpoint, a vocabulary mismatch, conflicting options.
    snprintf(args, sizeof args, "--ckpt %s/none --tokenizer bytes --out %s", root, out3);
    CHECK(run(args) != 0, "a missing checkpoint is an error");
    snprintf(args, sizeof args, "--ckpt %s --tokenizer %s/none.tok --out %s", ckpt, root, out3);
    CHECK(run(args) != 0, "a missing tokenizer is an error");
    snprintf(args, sizeof args, "--ckpt %s --tokenizer bytes --prompt 'X:1' --meter 3/4 --out %s", ckpt, out3);
    CHECK(run(args) != 0, "--prompt with --meter is an error");

    // Header fields that no ABC reader takes, and an unknown option.
    char err[400];
    snprintf(err, sizeof err, "%s/err.txt", root);
    static const char *const bad[][3] = {{"--meter", "7/0", "--meter 7/0"}, {"--key", "Q#", "--key Q#"},
                                         {"--bars", "100000", "--bars 100000"}, {"--meter", "3/5", "--meter 3/5"},
                                         {"--unit", "1/0", "--unit 1/0"}};
    for (int i = 0; i < 5; i++) {
        char *argv_bad[] = {"tunebench", "generate", "--ckpt", ckpt, "--tokenizer", "bytes", "--out", out3,
                            (char *)bad[i][0], (char *)bad[i][1], NULL};
        CHECK(run_argv(argv_bad, err) == 2 && file_has(err, bad[i][2]), "%s is accepted", bad[i][2]);
    }
    // Header fields far longer than any header line, each one the ABC reader
    // would take (clef words after the key, spaces after the unit and meter):
    // refused with the option and its limit named, before any prompt is built.
    char *huge = tb_malloc(5001);
    static const char *const long_opts[] = {"--key", "--unit", "--meter"};
    static const char *const long_heads[] = {"D", "1/8", "6/8"};
    for (int i = 0; i < 3; i++) {
        memset(huge, ' ', 5000), huge[5000] = '\0';
        memcpy(huge, long_heads[i], strlen(long_heads[i]));
        for (int k = 8; i == 0 && k + 7 < 5000; k += 8) memcpy(huge + k, "treble", 6);
        char *argv_long[] = {"tunebench", "generate", "--ckpt", ckpt, "--tokenizer", "bytes", "--out", out3,
                             (char *)long_opts[i], huge, NULL};
        char want[64];
        snprintf(want, sizeof want, "%s is 5000 bytes long", long_opts[i]);
        CHECK(run_argv(argv_long, err) == 2 && file_has(err, want), "a 5000-byte %s is not refused", long_opts[i]);
    }
    // A 5000-byte --prompt is read whole; it is longer than the context.
    memset(huge, 'A', 5000), huge[0] = 'X', huge[1] = ':';
    char *argv_prompt[] = {"tunebench", "generate", "--ckpt", ckpt, "--tokenizer", "bytes", "--out", out3,
                           "--prompt", huge, NULL};
    CHECK(run_argv(argv_prompt, err) == 1 && file_has(err, "too long for"), "a 5000-byte --prompt");
    free(huge);
    char *bogus[] = {"tunebench", "generate", "--ckpt", ckpt, "--out", out3, "--bogus", NULL};
    CHECK(run_argv(bogus, err) != 0 && file_has(err, "unknown option '--bogus'"), "--bogus is not called unknown");

    // A prompt whose title is not UTF-8: index.json is still JSON.
    char out4[320];
    snprintf(out4, sizeof out4, "%s/out4", root);
    char *raw_prompt[] = {"tunebench", "generate", "--ckpt", ckpt, "--tokenizer", "bytes", "--n", "1",
                          "--max-tokens", "8", "--prompt", "X:1\\nT:Bad \xff\xfe title\\nK:G\\n", "--out", out4,
                          NULL};
    CHECK(run_argv(raw_prompt, err) == 0, "generate from a prompt with bytes \\xff\\xfe failed");
    idx = read_text(out4, "index.json");
    j = idx ? cJSON_Parse(idx) : NULL;
    CHECK(idx && is_utf8(idx) && j && strstr(cJSON_GetStringValue(cJSON_GetObjectItem(j, "prompt")), "T:Bad ?? title"),
          "index.json of a prompt with bytes \\xff\\xfe is not UTF-8 JSON: %s", idx ? idx : "(none)");
    cJSON_Delete(j);
    free(idx);

    // A flipped byte, then a NaN weight: generate refuses the checkpoint.
    char weights[400];
    snprintf(weights, sizeof weights, "%s/model.safetensors", ckpt);
    size_t len;
    char *raw = tb_read_file(weights, &len);
    if (raw) {
        raw[len / 2] ^= 0x01;
        tb_write_file_atomic(weights, raw, len);
        raw[len / 2] ^= 0x01;
    }
    char *from_ckpt[] = {"tunebench", "generate", "--ckpt", ckpt, "--tokenizer", "bytes", "--n", "1", "--out", out4,
                         NULL};
    CHECK(run_argv(from_ckpt, err) != 0 && file_has(err, "does not match the checksum"),
          "generate used a checkpoint with a flipped byte");
    if (raw) tb_write_file_atomic(weights, raw, len), free(raw);
    Model *m = checkpoint_load(ckpt, backend_cpu(), NULL);
    CHECK(m != NULL, "reload: %s", tb_last_error());
    if (m) {
        model_param(m, "transformer.ln_f.bias")[3] = NAN;
        CHECK(checkpoint_save(ckpt, m, NULL, NULL) == 0, "save with a NaN: %s", tb_last_error());
        model_destroy(m);
    }
    CHECK(run_argv(from_ckpt, err) != 0 && file_has(err, "non-finite") && file_has(err, "transformer.ln_f.bias"),
          "generate used a checkpoint with a NaN weight");

    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", root);
    return test_summary("test_music_generate");
}
