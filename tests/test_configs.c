// test_configs.c: the named configs' shapes and parameter counts (counted
// from the models themselves, against the documented figures), and reading
// config.json in both ecosystems' formats.
#include <cjson/cJSON.h>

#include "lib/common.h"
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
    CHECK(m->num_params == documented, "%s has %zu parameters, documented %zu", name,
          m->num_params, documented);
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

int main(void) {
    test_specs();
    test_config_json();
    test_counts();
    return test_summary("test_configs");
}
