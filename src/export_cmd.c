// export_cmd.c: `tunebench export`, a checkpoint in another ecosystem's layout.
#include <stdio.h>

#include "lib/common.h"
#include "models/checkpoint.h"

static const char *export_usage =
    "usage: tunebench export --ckpt DIR --format FORMAT --out DIR\n"
    "  Writes the checkpoint's weights in another ecosystem's layout: FORMAT mamba_ssm (a Mamba\n"
    "  checkpoint) writes mamba_ssm's config.json and tensor names, for\n"
    "  MambaLMHeadModel(MambaConfig(**config)).load_state_dict(load_file(model.safetensors)).\n"
    "  tunebench eval, score and generate read the result too (with the tokenizer given).\n";

int cmd_export(int argc, char **argv) {
    const char *ckpt = NULL, *format = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (tb_streq(a, "--help") || tb_streq(a, "-h")) {
            fputs(export_usage, stdout);
            return 0;
        } else if (tb_streq(a, "--ckpt") && has) ckpt = argv[++i];
        else if (tb_streq(a, "--format") && has) format = argv[++i];
        else if (tb_streq(a, "--out") && has) out = argv[++i];
        else {
            fprintf(stderr, "tunebench: error: export: unknown or incomplete option '%s'\n%s", a, export_usage);
            return 2;
        }
    }
    if (!ckpt || !format || !out) {
        fprintf(stderr, "tunebench: error: export needs --ckpt, --format and --out\n%s", export_usage);
        return 2;
    }
    Model *m = checkpoint_load(ckpt, backend_cpu(), NULL);
    if (!m) return tb_report(), 1;
    int rc = checkpoint_export(out, m, format);
    if (rc == 0) printf("wrote %s (%s, %s)\n", out, m->spec.name, format);
    else tb_report();
    model_destroy(m);
    return rc ? 1 : 0;
}
