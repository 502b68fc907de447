// test_config.c: experiment configs: the committed ones load, and every kind
// of mistake is a clear error naming the key and the file.
#include <cjson/cJSON.h>
#include <unistd.h>

#include "lib/common.h"
#include "../src/runner/config.h"
#include "test.h"

static char dir[] = "/tmp/tb_test_config_XXXXXX";

// Writes text to a file in the temporary folder and loads it over the defaults.
static int load_text(const char *name, const char *text, ExperimentConfig *cfg) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (tb_write_file_atomic(path, text, strlen(text))) return -2;
    config_defaults(cfg);
    tb_clear_error();
    return config_load(cfg, path);
}

// Loading must fail with an error that holds every one of the given words.
static void expect_error(const char *name, const char *text, const char *word1, const char *word2) {
    ExperimentConfig cfg;
    int rc = load_text(name, text, &cfg);
    CHECK(rc == -1, "%s: loaded without error", name);
    const char *err = tb_last_error();
    CHECK(strstr(err, name) != NULL, "%s: the error does not name the file: %s", name, err);
    CHECK(strstr(err, word1) != NULL, "%s: the error lacks '%s': %s", name, word1, err);
    if (word2) CHECK(strstr(err, word2) != NULL, "%s: the error lacks '%s': %s", name, word2, err);
}

// A config is one JSON object of UTF-8 text: bytes after it, and bytes that
// are not UTF-8 (in a value, in a key, an overlong form, a surrogate, a
// truncated sequence), are refused with the file and the byte named, never
// ignored or cleaned; so is such a value through --set.
static void test_strict_text(void) {
    const char *ok = "{\"experiment\": \"x\", \"model\": \"m\"}";
    char text[256];
    snprintf(text, sizeof text, "%s\n{\"steps\": 5}\n", ok);
    expect_error("trailing_object.json", text, "unexpected text after the JSON value at byte 34", "line 2");
    snprintf(text, sizeof text, "%s x", ok);
    expect_error("trailing_word.json", text, "at byte 34", "line 1");
    snprintf(text, sizeof text, "%s}", ok);
    expect_error("trailing_brace.json", text, "unexpected text", NULL);
    ExperimentConfig cfg;
    snprintf(text, sizeof text, "%s \n\t\r\n", ok);
    CHECK(load_text("trailing_space.json", text, &cfg) == 0, "whitespace after the object: %s", tb_last_error());

    static const char *const bad[][2] = {
        {"{\"experiment\": \"x\", \"model\": \"m\", \"samples\": {\"prompt\": \"X:1\xff\"}}", "byte 60"},
        {"{\"experiment\": \"x\", \"model\": \"m\", \"st\xe9ps\": 5}", "byte 37"},
        {"{\"experiment\": \"x\xc0\xaf\", \"model\": \"m\"}", "byte 17"},        // overlong '/'
        {"{\"experiment\": \"x\xed\xa0\x80\", \"model\": \"m\"}", "byte 17"},    // a surrogate
        {"{\"experiment\": \"x\", \"model\": \"m\xe2\x82\"}", "byte 31"},         // cut short
    };
    for (int i = 0; i < 5; i++) {
        char name[32];
        snprintf(name, sizeof name, "utf8_%d.json", i);
        expect_error(name, bad[i][0], "is not UTF-8 text", bad[i][1]);
    }
    snprintf(text, sizeof text, "{\"experiment\": \"x\", \"model\": \"m\", \"samples\": {\"prompt\": \"X:1 \xc3\xa9\"}}");
    CHECK(load_text("utf8_ok.json", text, &cfg) == 0 && strcmp(cfg.sample_prompt, "X:1 \xc3\xa9") == 0,
          "a UTF-8 prompt: %s", tb_last_error());

    config_defaults(&cfg);
    CHECK(config_set(&cfg, "samples.prompt", "X:1\n\xfe", "--set") != 0 &&
              strstr(tb_last_error(), "--set: key 'samples.prompt': byte 4 of its value (0xfe) is not UTF-8"),
          "--set with a byte that is not UTF-8: %s", tb_last_error());

    // The parser reads exactly len bytes: the text need not end in a NUL.
    char exact[64];
    memcpy(exact, ok, strlen(ok));
    memset(exact + strlen(ok), 'x', sizeof exact - strlen(ok));
    config_defaults(&cfg);
    CHECK(config_parse(&cfg, exact, strlen(ok), "memory") == 0, "config_parse of exactly the object: %s",
          tb_last_error());
}

int main(void) {
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");

    // The committed experiments load and pass the checks, with the protocol's
    // steps and one batch, context, schedule shape and seed for all four.
    const char *names[] = {"gpt2-6m", "gpt2-60m", "mamba-6m", "mamba-60m"};
    ExperimentConfig first = {0};
    for (int i = 0; i < 4; i++) {
        char path[128];
        snprintf(path, sizeof path, "experiments/%s.json", names[i]);
        ExperimentConfig cfg;
        config_defaults(&cfg);
        int rc = config_load(&cfg, path);
        CHECK(rc == 0, "%s: %s", path, tb_last_error());
        CHECK(rc == 0 && config_check(&cfg) == 0, "%s: %s", path, tb_last_error());
        CHECK(strcmp(cfg.experiment, names[i]) == 0 && strcmp(cfg.model, names[i]) == 0,
              "%s names experiment '%s', model '%s'", path, cfg.experiment, cfg.model);
        CHECK(cfg.steps == PROTOCOL_STEPS, "%s: %d steps, the protocol is %d", path, cfg.steps, PROTOCOL_STEPS);
        CHECK(cfg.seq_len >= 256, "%s: context %d < 256", path, cfg.seq_len);
        if (i == 0) first = cfg;
        CHECK(cfg.batch_size == first.batch_size && cfg.seq_len == first.seq_len && cfg.seed == first.seed &&
                  cfg.warmup_steps == first.warmup_steps && cfg.min_lr_ratio == first.min_lr_ratio &&
                  cfg.eval_interval == first.eval_interval && cfg.eval_batches == first.eval_batches &&
                  strcmp(cfg.data_dir, first.data_dir) == 0,
              "%s differs from %s in batch, context, seed, schedule shape, evaluation or data", path, names[0]);
    }

    // A minimal config takes the defaults for everything else.
    ExperimentConfig cfg;
    CHECK(load_text("minimal.json", "{\"experiment\": \"x\", \"model\": \"tiny-gpt2\"}", &cfg) == 0,
          "minimal: %s", tb_last_error());
    ExperimentConfig d;
    config_defaults(&d);
    CHECK(cfg.steps == PROTOCOL_STEPS && cfg.batch_size == d.batch_size && cfg.lr == d.lr &&
              cfg.warmup_steps == d.warmup_steps && cfg.seed == d.seed,
          "minimal: defaults not applied");

    // The run's optimizer defaults are the optimizer's own (models/model.h):
    // a run of the default config trains with optim_config_default().
    OptimConfig from_run, own;
    config_optim(&d, &from_run);
    optim_config_default(&own);
    CHECK(from_run.lr == own.lr && from_run.min_lr == own.min_lr && from_run.warmup_steps == own.warmup_steps &&
              from_run.total_steps == own.total_steps && from_run.beta1 == own.beta1 &&
              from_run.beta2 == own.beta2 && from_run.eps == own.eps && from_run.weight_decay == own.weight_decay &&
              from_run.grad_clip == own.grad_clip,
          "the default config's optimizer (lr %g warmup %d of %d) differs from optim_config_default (lr %g warmup %d of %d)",
          from_run.lr, from_run.warmup_steps, from_run.total_steps, own.lr, own.warmup_steps, own.total_steps);

    // Mistakes, each named.
    expect_error("unknown.json", "{\"experiment\": \"x\", \"model\": \"m\", \"stpes\": 5}", "stpes", "unknown");
    expect_error("nested_unknown.json", "{\"experiment\": \"x\", \"model\": \"m\", \"optimizer\": {\"lrr\": 1}}",
                 "optimizer.lrr", "unknown");
    expect_error("unknown_section.json", "{\"experiment\": \"x\", \"model\": \"m\", \"optimiser\": {\"lr\": 1}}",
                 "optimiser", "unknown");
    expect_error("wrong_type.json", "{\"experiment\": \"x\", \"model\": \"m\", \"steps\": \"100\"}", "steps",
                 "expected a number");
    expect_error("wrong_type_str.json", "{\"experiment\": 3, \"model\": \"m\"}", "experiment", "expected a string");
    expect_error("fraction.json", "{\"experiment\": \"x\", \"model\": \"m\", \"batch_size\": 8.5}", "batch_size",
                 "integer");
    expect_error("negative.json", "{\"experiment\": \"x\", \"model\": \"m\", \"steps\": -1}", "steps", "out of range");
    expect_error("zero_lr.json", "{\"experiment\": \"x\", \"model\": \"m\", \"optimizer\": {\"lr\": 0}}",
                 "optimizer.lr", "out of range");
    expect_error("beta.json", "{\"experiment\": \"x\", \"model\": \"m\", \"optimizer\": {\"beta2\": 1.5}}",
                 "optimizer.beta2", "out of range");
    expect_error("backend.json", "{\"experiment\": \"x\", \"model\": \"m\", \"backend\": \"tpu\"}", "backend", "cpu|cuda");
    expect_error("object_value.json", "{\"experiment\": \"x\", \"model\": \"m\", \"steps\": {\"n\": 1}}", "steps",
                 "object");
    expect_error("missing_model.json", "{\"experiment\": \"x\"}", "model", "required");
    expect_error("not_json.json", "{\"experiment\": \"x\",\n \"model\": }", "invalid JSON", "line 2");
    expect_error("array.json", "[1, 2]", "object", NULL);
    ExperimentConfig c2;
    config_defaults(&c2);
    CHECK(config_load(&c2, "/nonexistent/exp.json") == -1 && strstr(tb_last_error(), "/nonexistent/exp.json"),
          "a missing config file: %s", tb_last_error());

    // Relations between keys.
    CHECK(load_text("warmup.json",
                    "{\"experiment\": \"x\", \"model\": \"m\", \"steps\": 10, \"optimizer\": {\"warmup_steps\": 20}}",
                    &cfg) == 0,
          "warmup.json: %s", tb_last_error());
    CHECK(config_check(&cfg) == -1 && strstr(tb_last_error(), "optimizer.warmup_steps"),
          "warmup longer than the run passed the check: %s", tb_last_error());
    CHECK(load_text("badname.json", "{\"experiment\": \"../x\", \"model\": \"m\"}", &cfg) == 0, "badname: load");
    CHECK(config_check(&cfg) == -1 && strstr(tb_last_error(), "experiment"), "a path as experiment name passed");

    // Command-line overrides go through the same checks.
    config_defaults(&cfg);
    CHECK(config_set(&cfg, "steps", "20", "--steps") == 0 && cfg.steps == 20, "--steps 20");
    CHECK(config_set(&cfg, "optimizer.lr", "3e-4", "--set") == 0 && fabs(cfg.lr - 3e-4) < 1e-12, "--set lr");
    CHECK(config_set(&cfg, "backend", "cuda", "--backend") == 0 && strcmp(cfg.backend, "cuda") == 0, "--backend");
    CHECK(config_set(&cfg, "steps", "twenty", "--steps") == -1 && strstr(tb_last_error(), "--steps") &&
              strstr(tb_last_error(), "steps"),
          "a non-number override: %s", tb_last_error());
    CHECK(config_set(&cfg, "batch_size", "0", "BATCH") == -1 && strstr(tb_last_error(), "out of range"),
          "BATCH=0: %s", tb_last_error());
    CHECK(config_set(&cfg, "backend", "gpu", "BACKEND") == -1 && strstr(tb_last_error(), "cpu|cuda"),
          "BACKEND=gpu: %s", tb_last_error());
    CHECK(config_set(&cfg, "threads", "2x", "THREADS") == -1, "THREADS=2x accepted");
    CHECK(config_set(&cfg, "no.such", "1", "--set") == -1 && strstr(tb_last_error(), "no.such"), "unknown --set key");

    // A short run resolves to a complete one; the protocol run is unchanged.
    config_defaults(&cfg);
    snprintf(cfg.experiment, sizeof cfg.experiment, "x");
    snprintf(cfg.model, sizeof cfg.model, "m");
    cfg.steps = 20;
    cJSON *notes = cJSON_CreateArray();
    config_resolve(&cfg, notes);
    CHECK(cfg.warmup_steps == 2 && cfg.eval_interval == 2 && cfg.checkpoint_interval == 20 && cfg.log_interval == 2,
          "20 steps resolved to warmup %d eval %d ckpt %d log %d", cfg.warmup_steps, cfg.eval_interval,
          cfg.checkpoint_interval, cfg.log_interval);
    CHECK(cJSON_GetArraySize(notes) == 4, "%d resolution notes, expected 4", cJSON_GetArraySize(notes));
    cJSON_Delete(notes);
    config_defaults(&cfg);
    ExperimentConfig before = cfg;
    notes = cJSON_CreateArray();
    config_resolve(&cfg, notes);
    CHECK(cJSON_GetArraySize(notes) == 0 && cfg.warmup_steps == before.warmup_steps &&
              cfg.eval_interval == before.eval_interval,
          "the protocol run was changed by config_resolve");
    cJSON_Delete(notes);

    // The resolved config round-trips through JSON exactly (what --resume reads).
    config_defaults(&cfg);
    snprintf(cfg.experiment, sizeof cfg.experiment, "round-trip");
    snprintf(cfg.model, sizeof cfg.model, "tiny-mamba");
    cfg.lr = 1.2345e-3, cfg.seed = 123456789012LL, cfg.batch_size = 3;
    cJSON *json = config_to_json(&cfg);
    ExperimentConfig back;
    config_defaults(&back);
    CHECK(config_from_json(&back, json, "round trip") == 0, "round trip: %s", tb_last_error());
    snprintf(back.source, sizeof back.source, "%s", cfg.source);
    CHECK(back.lr == cfg.lr && back.seed == cfg.seed && back.batch_size == cfg.batch_size &&
              strcmp(back.model, cfg.model) == 0 && strcmp(back.sample_prompt, cfg.sample_prompt) == 0,
          "fields changed through JSON");
    cJSON_Delete(json);

    test_strict_text();

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0, "cleanup");
    return test_summary("test_config");
}
