// test_registry.c: the architecture registry (models/architectures.def) and
// what every entry promises the code around the models. Each check runs over
// every registered architecture, so a new one is held to the same contract
// without editing this file: its configs resolve, its config.json reads back
// as the same shapes and is claimed by it alone, its tied embedding exists,
// its FLOPs and description are stated, and its spec survives a run record.
#include <cjson/cJSON.h>

#include "lib/common.h"
#include "models/model.h"
#include "test.h"

// The named config whose name starts with prefix ("tiny-"), or NULL.
static const ModelSpec *config_with_prefix(const ModelArch *arch, const char *prefix) {
    for (int c = 0; c < arch->num_configs; c++)
        if (strncmp(arch->configs[c].name, prefix, strlen(prefix)) == 0) return &arch->configs[c];
    return NULL;
}

static void test_entries(void) {
    CHECK(model_arch_count() >= 2, "the registry holds %d architectures; a seam needs two sides",
          model_arch_count());
    for (int a = 0; a < model_arch_count(); a++) {
        const ModelArch *arch = model_arch_at(a);
        CHECK(arch->name && arch->name[0] && arch->title && arch->title[0] && arch->vtbl &&
                  arch->embedding_tensor && arch->claims_config && arch->config_kind &&
                  arch->spec_from_config && arch->flops_per_token && arch->describe,
              "architecture %d (%s): a required field is missing", a, arch->name);
        CHECK(strlen(arch->name) < sizeof(((ModelSpec *)0)->arch), "%s: name too long for ModelSpec.arch",
              arch->name);
        CHECK(model_arch_index(arch->name) == a && model_arch_find(arch->name) == arch,
              "%s: not found at its own index", arch->name);
        char tiny[48];
        snprintf(tiny, sizeof tiny, "tiny-%s", arch->name);
        const ModelSpec *t = config_with_prefix(arch, "tiny-");
        CHECK(arch->num_configs > 0 && t && tb_streq(t->name, tiny),
              "%s: needs named configs, and %s for the tests", arch->name, tiny);
        for (int c = 0; c < arch->num_configs; c++) {
            ModelSpec s;
            const char *name = arch->configs[c].name;
            CHECK(model_spec_by_name(&s, name, 1024) == 0 && tb_streq(s.arch, arch->name) &&
                      s.vocab_size == 1024 && s.d_model > 0 && s.n_layer > 0 && s.max_seq_len > 0,
                  "%s: config %s does not resolve to a %s spec: %s", arch->name, name, arch->name,
                  tb_last_error());
        }
        // The optional scan shape (what `tunebench bench` times alone): the
        // batch and length asked for, a shape the backends accept, one scan
        // per layer at most.
        ModelSpec ts;
        SelectiveScanParams shape = {0};
        if (arch->scan_shape && t && model_spec_by_name(&ts, t->name, 1024) == 0) {
            int layers = arch->scan_shape(&ts, 3, 7, &shape);
            CHECK(layers > 0 && layers <= ts.n_layer && shape.batch == 3 && shape.seqlen == 7 &&
                      shape.dim > 0 && shape.chunk > 0 && shape.dstate > 0 &&
                      shape.dstate <= backend_cpu()->selective_scan_max_dstate && !shape.u,
                  "%s: scan_shape gives %d layers of (%d, %d, %d, %d, chunk %d)", arch->name, layers,
                  shape.batch, shape.seqlen, shape.dim, shape.dstate, shape.chunk);
        }
    }
    CHECK(model_arch_find("transformer-xl") == NULL && strstr(tb_last_error(), "transformer-xl") &&
              strstr(tb_last_error(), model_arch_at(0)->name),
          "an unknown architecture's error names it and the known ones: %s", tb_last_error());
    ModelSpec s;
    CHECK(model_spec_by_name(&s, "gpt5-6m", 1024) != 0 && strstr(tb_last_error(), "gpt5-6m") &&
              strstr(tb_last_error(), model_arch_at(model_arch_count() - 1)->configs[0].name),
          "an unknown config's error lists every architecture's configs: %s", tb_last_error());
    // The study configs: every config of every architecture but the tiny ones.
    char study[512];
    model_study_configs(study, sizeof study);
    for (int a = 0; a < model_arch_count(); a++)
        for (int c = 0; c < model_arch_at(a)->num_configs; c++) {
            const char *name = model_arch_at(a)->configs[c].name;
            int tiny = strncmp(name, "tiny-", 5) == 0;
            CHECK((strstr(study, name) != NULL) == !tiny, "study configs '%s' and %s", study, name);
        }
}

// config.json written by a model of each architecture: read back to the same
// shapes, claimed by its own architecture only; a spec through a record too.
static void test_round_trips(void) {
    for (int a = 0; a < model_arch_count(); a++) {
        const ModelArch *arch = model_arch_at(a);
        ModelSpec spec;
        if (model_spec_by_name(&spec, config_with_prefix(arch, "tiny-")->name, 64)) continue;
        Model *m = model_create(&spec, backend_cpu());
        CHECK(m != NULL, "%s: cannot create its tiny model: %s", arch->name, tb_last_error());
        if (!m) continue;
        CHECK(m->arch == arch && m->vt == arch->vtbl, "%s: the model does not point at its entry",
              arch->name);
        CHECK(model_find_tensor(m, arch->embedding_tensor) != NULL, "%s: no tensor '%s'", arch->name,
              arch->embedding_tensor);

        cJSON *cfg = m->vt->config_json(m);
        int claimed = 0;
        for (int b = 0; b < model_arch_count(); b++) claimed += model_arch_at(b)->claims_config(cfg) ? 1 << b : 0;
        CHECK(claimed == 1 << a, "%s: its config.json is claimed by the set %#x of architectures",
              arch->name, claimed);
        ModelSpec back;
        CHECK(model_spec_from_config_json(&back, cfg, "test/config.json") == 0 &&
                  tb_streq(back.arch, arch->name),
              "%s: its config.json does not read back: %s", arch->name, tb_last_error());
        // The context travels in the "tunebench" object; without it the
        // reader's default stands, so compare with the context set.
        back.max_seq_len = spec.max_seq_len;
        CHECK(model_spec_same_shapes(&back, &spec), "%s: config.json read back with other shapes",
              arch->name);
        cJSON_Delete(cfg);
        // The other format, where there is one: its config.json is claimed by
        // this architecture and reads back, and its names rename tensors that exist.
        CHECK(!arch->other_format == !arch->other_config_json && (!arch->other_names || arch->other_format),
              "%s: other_format, other_config_json and other_names go together", arch->name);
        if (arch->other_config_json) {
            cfg = arch->other_config_json(&spec);
            CHECK(arch->claims_config(cfg) && model_spec_from_config_json(&back, cfg, "test/config.json") == 0 &&
                      tb_streq(back.arch, arch->name),
                  "%s: its %s config.json does not read back: %s", arch->name, arch->other_format, tb_last_error());
            back.max_seq_len = spec.max_seq_len;
            CHECK(model_spec_same_shapes(&back, &spec), "%s: the %s config.json read back with other shapes",
                  arch->name, arch->other_format);
            cJSON_Delete(cfg);
        }
        for (const char *const *p = arch->other_names; p && p[0]; p += 2)
            CHECK(model_find_tensor(m, p[0]) && p[1] && !model_find_tensor(m, p[1]),
                  "%s: other_names renames '%s', which is not a tensor, to '%s', which is", arch->name, p[0],
                  p[1] ? p[1] : "(null)");

        cJSON *rec = cJSON_CreateObject();
        cJSON_AddStringToObject(rec, "name", spec.name);
        cJSON_AddStringToObject(rec, "arch", spec.arch);
        cJSON_AddItemToObject(rec, "spec", model_spec_json(&spec));
        ModelSpec from_record;
        CHECK(model_spec_from_record(&from_record, rec) == 0 &&
                  memcmp(&from_record, &spec, sizeof spec) == 0,
              "%s: the spec does not survive a run record", arch->name);
        cJSON_Delete(rec);

        char formula[256] = "", summary[64] = "", described[256];
        double flops = arch->flops_per_token(&spec, m->params.num_params, spec.max_seq_len, formula,
                                             sizeof formula);
        CHECK(flops >= 6.0 * (double)m->params.num_params && flops < 100.0 * (double)m->params.num_params &&
                  formula[0],
              "%s: %g FLOPs per token for %zu parameters ('%s')", arch->name, flops, m->params.num_params,
              formula);
        model_spec_summary(&spec, summary, sizeof summary);
        model_spec_describe(&spec, described, sizeof described);
        CHECK(summary[0] && strstr(described, spec.name) && strstr(described, arch->name),
              "%s: summary '%s', description '%s'", arch->name, summary, described);
        model_destroy(m);
    }
}

// Shapes that differ in any field are told apart; the context only where it
// is a shape (learned positions).
static void test_same_shapes(void) {
    for (int a = 0; a < model_arch_count(); a++) {
        const ModelArch *arch = model_arch_at(a);
        ModelSpec x, y;
        model_spec_by_name(&x, config_with_prefix(arch, "tiny-")->name, 64);
        y = x;
        CHECK(model_spec_same_shapes(&x, &y), "%s: a spec differs from itself", arch->name);
        y.n_layer++;
        CHECK(!model_spec_same_shapes(&x, &y), "%s: another n_layer fits", arch->name);
        y = x;
        y.vocab_size++;
        CHECK(!model_spec_same_shapes(&x, &y), "%s: another vocabulary fits", arch->name);
        y = x;
        y.max_seq_len *= 2;
        CHECK(model_spec_same_shapes(&x, &y) == !arch->context_bounded,
              "%s: a longer context %s", arch->name, arch->context_bounded ? "fits" : "does not fit");
        y = x;
        snprintf(y.arch, sizeof y.arch, "%s", model_arch_at((a + 1) % model_arch_count())->name);
        CHECK(!model_spec_same_shapes(&x, &y), "%s: another architecture fits", arch->name);
    }
}

int main(void) {
    test_entries();
    test_round_trips();
    test_same_shapes();
    return test_summary("test_registry");
}
