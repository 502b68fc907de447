// test_configs.c: the named configs' shapes and parameter counts (counted
// from the models themselves, against the documented figures), and reading
// config.json in both ecosystems' formats, and the bounds on every shape
// field.
#include <cjson/cJSON.h>
#include <unistd.h>

#include "lib/common.h"
#include "models/checkpoint.h"
#include "models/model.h"
#include "test.h"

// The documented counts at V = 1024 (models/configs.c).
static void check_count(const char *name, size_t documented) {
    ModelSpec s;
    CHECK(model_spec_by_name(&s, name, 1024) == 0, "%s: %s", name, tb_last_error());
    Model *m = model_create(&s, backend_cpu());
    if (!m) {
        // An architecture not yet in this build cannot be counted; that is a failure.
        CHECK(0, "%s: cannot create: %s", name, tb_last_error());
        return;
    }
    CHECK(m->params.num_params == documented, "%s has %zu parameters, documented %zu", name,
          m->params.num_params, documented);
    model_destroy(m);
}

static void test_counts(void) {
    check_count("gpt2-6m", 5856512);
    check_count("gpt2-60m", 59902720);
    // Within +-5% of 6M and 60M.
    float ratio[2] = {5856512 / 6e6f, 59902720 / 60e6f}, one[2] = {1, 1};
    check_close("GPT-2 counts within 5% of 6M and 60M", ratio, one, 2, 0.05f, 0);
}

static void test_specs(void) {
    ModelSpec s;
    CHECK(model_spec_by_name(&s, "gpt2-6m", 1024) == 0 && s.d_model == 256 && s.n_layer == 7 &&
              s.n_head == 8 && s.max_seq_len == 256 && s.vocab_size == 1024 &&
              tb_streq(s.arch, "gpt2"),
          "gpt2-6m shape");
    CHECK(model_spec_by_name(&s, "gpt2-60m", 1024) == 0 && s.d_model == 640 && s.n_layer == 12 &&
              s.n_head == 10 && s.max_seq_len == 256,
          "gpt2-60m shape");
    CHECK(model_spec_by_name(&s, "mamba-6m", 1024) == 0 && s.d_model == 256 && s.n_layer == 13 &&
              s.d_state == 16 && s.d_conv == 4 && s.expand == 2 && s.dt_rank == 16 &&
              tb_streq(s.a_init, "s4d_real") && tb_streq(s.arch, "mamba"),
          "mamba-6m shape");
    CHECK(model_spec_by_name(&s, "mamba-60m", 1024) == 0 && s.d_model == 640 && s.n_layer == 23 &&
              s.dt_rank == 40,
          "mamba-60m shape");
    // The Mamba counts by the formula in configs.c: within 5% of the GPT-2 ones.
    double m6 = 1024.0 * 256 + 256 + 13 * (6.0 * 256 * 256 + 4.0 * 256 * 16 + 111.0 * 256);
    double m60 = 1024.0 * 640 + 640 + 23 * (6.0 * 640 * 640 + 4.0 * 640 * 40 + 111.0 * 640);
    double got[2] = {m6, m60}, want[2] = {5956608, 61169920};
    for (int i = 0; i < 2; i++) CHECK(got[i] == want[i], "Mamba formula %.0f, documented %.0f", got[i], want[i]);
    CHECK(fabs(m6 / 5856512 - 1) < 0.05 && fabs(m60 / 59902720 - 1) < 0.05,
          "Mamba counts not within 5%% of GPT-2's");
    CHECK(model_spec_by_name(&s, "gpt2-7m", 1024) != 0 && strstr(tb_last_error(), "gpt2-7m"),
          "unknown config accepted");
}

static int spec_from_text(ModelSpec *s, const char *text) {
    cJSON *c = cJSON_Parse(text);
    int rc = model_spec_from_config_json(s, c, "test/config.json");
    cJSON_Delete(c);
    return rc;
}

static void test_config_json(void) {
    ModelSpec s;
    CHECK(spec_from_text(&s, "{\"model_type\": \"gpt2\", \"vocab_size\": 1024, \"n_positions\": 256,"
                             " \"n_embd\": 256, \"n_layer\": 7, \"n_head\": 8, \"layer_norm_epsilon\": 1e-05,"
                             " \"activation_function\": \"gelu_new\", \"tunebench\": {\"name\": \"gpt2-6m\"}}") == 0 &&
              tb_streq(s.name, "gpt2-6m") && s.n_layer == 7 && s.max_seq_len == 256,
          "GPT2Config: %s", tb_last_error());
    CHECK(spec_from_text(&s, "{\"model_type\": \"gpt2\", \"vocab_size\": 1024, \"n_positions\": 256,"
                             " \"n_embd\": 256, \"n_layer\": 7, \"n_head\": 8, \"activation_function\": \"relu\"}") != 0 &&
              strstr(tb_last_error(), "activation_function"),
          "relu GPT-2 accepted");
    CHECK(spec_from_text(&s, "{\"model_type\": \"gpt2\", \"vocab_size\": 1024, \"n_embd\": 256,"
                             " \"n_layer\": 7, \"n_head\": 8}") != 0 && strstr(tb_last_error(), "n_positions"),
          "missing n_positions accepted");
    CHECK(spec_from_text(&s, "{\"model_type\": \"gpt2\", \"vocab_size\": 1024, \"n_positions\": 256,"
                             " \"n_embd\": 250, \"n_layer\": 7, \"n_head\": 8}") != 0,
          "n_embd not divisible by n_head accepted");
    // mamba_ssm's MambaConfig (no model_type), with its defaults.
    CHECK(spec_from_text(&s, "{\"d_model\": 256, \"n_layer\": 13, \"vocab_size\": 1024, \"ssm_cfg\": {},"
                             " \"rms_norm\": true, \"residual_in_fp32\": true, \"fused_add_norm\": true,"
                             " \"pad_vocab_size_multiple\": 8, \"tie_embeddings\": true}") == 0 &&
              tb_streq(s.arch, "mamba") && s.d_state == 16 && s.d_conv == 4 && s.expand == 2 &&
              s.dt_rank == 16,
          "MambaConfig: %s", tb_last_error());
    CHECK(spec_from_text(&s, "{\"d_model\": 64, \"n_layer\": 2, \"vocab_size\": 1024,"
                             " \"ssm_cfg\": {\"d_state\": 8, \"dt_rank\": 5, \"layer\": \"Mamba1\"},"
                             " \"tunebench\": {\"a_init\": \"constant\", \"scan_chunk\": 32, \"max_seq_len\": 512}}") == 0 &&
              s.d_state == 8 && s.dt_rank == 5 && tb_streq(s.a_init, "constant") && s.scan_chunk == 32 &&
              s.max_seq_len == 512,
          "MambaConfig with ssm_cfg and extras: %s", tb_last_error());
    CHECK(spec_from_text(&s, "{\"d_model\": 64, \"n_layer\": 2, \"vocab_size\": 1001}") != 0 &&
              strstr(tb_last_error(), "pad_vocab_size_multiple"),
          "padded Mamba vocabulary accepted");
    CHECK(spec_from_text(&s, "{\"model_type\": \"llama\"}") != 0 && strstr(tb_last_error(), "test/config.json"),
          "unknown model type accepted");
}

// Every shape field is bounded: a config.json with n_layer 100000 (which
// made the loaders register 1.2 million tensors) is refused before a tensor
// is registered, naming the file and the field; so is a checkpoint folder
// holding one, and a spec that reaches model_create another way.
static void test_shape_bounds(void) {
    ModelSpec s;
    static const char *const huge[][2] = {
        {"{\"model_type\": \"gpt2\", \"vocab_size\": 1024, \"n_positions\": 256, \"n_embd\": 256,"
         " \"n_layer\": 100000, \"n_head\": 8}", "n_layer is 100000"},
        {"{\"model_type\": \"gpt2\", \"vocab_size\": 100000000, \"n_positions\": 256, \"n_embd\": 256,"
         " \"n_layer\": 2, \"n_head\": 8}", "vocab_size is 100000000"},
        {"{\"model_type\": \"gpt2\", \"vocab_size\": 1024, \"n_positions\": 256, \"n_embd\": 262144,"
         " \"n_layer\": 2, \"n_head\": 8}", "d_model is 262144"},
        {"{\"d_model\": 64, \"n_layer\": 100000, \"vocab_size\": 1024}", "n_layer is 100000"},
        {"{\"d_model\": 64, \"n_layer\": 2, \"vocab_size\": 1024, \"ssm_cfg\": {\"d_state\": 5000}}",
         "d_state is 5000"},
        {"{\"model_type\": \"lstm\", \"vocab_size\": 1024, \"hidden_size\": 64, \"num_layers\": 100000}",
         "n_layer is 100000"},
    };
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        int rc = spec_from_text(&s, huge[i][0]);
        CHECK(rc != 0 && strstr(tb_last_error(), "test/config.json") && strstr(tb_last_error(), huge[i][1]),
              "config %zu: expected an error with '%s', got %s", i, huge[i][1], rc ? tb_last_error() : "success");
    }

    char dir[64], path[128];
    snprintf(dir, sizeof dir, "/tmp/tb_test_configs.%d", (int)getpid());
    snprintf(path, sizeof path, "%s/config.json", dir);
    tb_mkdirs(dir);
    tb_write_file_atomic(path, huge[0][0], strlen(huge[0][0]));
    TrainState ts;
    Model *m = checkpoint_load(dir, backend_cpu(), &ts);
    CHECK(!m && strstr(tb_last_error(), path) && strstr(tb_last_error(), "n_layer is 100000"),
          "a checkpoint whose config.json has n_layer 100000: %s", m ? "loaded" : tb_last_error());
    model_destroy(m);
    // A checkpoint's config.json is read strictly too: text after the
    // object, or a byte that is not UTF-8, is refused naming the file.
    const char *gpt2 = "{\"model_type\": \"gpt2\", \"vocab_size\": 64, \"n_positions\": 16, \"n_embd\": 16,"
                       " \"n_layer\": 1, \"n_head\": 2}";
    char text[512];
    snprintf(text, sizeof text, "%s\n{\"n_layer\": 2}", gpt2);
    tb_write_file_atomic(path, text, strlen(text));
    m = checkpoint_load(dir, backend_cpu(), &ts);
    CHECK(!m && strstr(tb_last_error(), path) && strstr(tb_last_error(), "unexpected text after the JSON value"),
          "a checkpoint config.json with a second object after it: %s", m ? "loaded" : tb_last_error());
    model_destroy(m);
    snprintf(text, sizeof text, "%s", gpt2);
    text[3] = (char)0xff;
    tb_write_file_atomic(path, text, strlen(text));
    m = checkpoint_load(dir, backend_cpu(), &ts);
    CHECK(!m && strstr(tb_last_error(), path) && strstr(tb_last_error(), "byte 3 (line 1) is not UTF-8"),
          "a checkpoint config.json with a byte that is not UTF-8: %s", m ? "loaded" : tb_last_error());
    model_destroy(m);
    unlink(path);
    rmdir(dir);

    CHECK(model_spec_by_name(&s, "tiny-gpt2", 64) == 0, "tiny-gpt2: %s", tb_last_error());
    s.n_layer = 5000;
    CHECK(model_create(&s, backend_cpu()) == NULL && strstr(tb_last_error(), "model 'tiny-gpt2': n_layer is 5000"),
          "model_create with n_layer 5000: %s", tb_last_error());

    // At the bound the table is built (by name, through its hash index):
    // every tensor is found under its own name, and a name not in it is not.
    s.n_layer = 1024;
    m = model_create(&s, backend_cpu());
    CHECK(m != NULL, "tiny-gpt2 with 1024 layers: %s", tb_last_error());
    if (m) {
        int found = 0;
        for (int i = 0; i < m->params.num_tensors; i++) found += model_find_tensor(m, m->params.tensors[i].name) == &m->params.tensors[i];
        CHECK(found == m->params.num_tensors && m->params.num_tensors > 1024 * 10, "%d of %d tensors found by name", found,
              m->params.num_tensors);
        CHECK(model_find_tensor(m, "transformer.h.1024.ln_1.weight") == NULL, "a tensor past the last layer found");
        model_destroy(m);
    }
}

int main(void) {
    test_shape_bounds();
    test_specs();
    test_config_json();
    test_counts();
    return test_summary("test_configs");
}
