// export_cmd.c: `tunebench export`, a checkpoint in another ecosystem's layout.
#include <stdio.h>

#include "lib/command.h"
#include "lib/common.h"
#include "models/checkpoint.h"

static void export_usage(FILE *out) {
    fputs(
        "usage: tunebench export --ckpt DIR --format FORMAT --out DIR\n"
        "  Writes the checkpoint's weights in another ecosystem's layout: FORMAT mamba_ssm (a Mamba\n"
        "  checkpoint) writes mamba_ssm's config.json and tensor names, for\n"
        "  MambaLMHeadModel(MambaConfig(**config)).load_state_dict(load_file(model.safetensors)).\n"
        "  tunebench eval, score and generate read the result too (with the tokenizer given).\n",
        out);
}

int cmd_export(int argc, char **argv) {
    const char *ckpt = NULL, *format = NULL, *out = NULL;
    const TbOption opts[] = {TB_OPT("--ckpt", TB_OPT_STRING, &ckpt), TB_OPT("--format", TB_OPT_STRING, &format),
                             TB_OPT("--out", TB_OPT_STRING, &out)};
    int rc = tb_command_start(tb_parse_options("export", argc, argv, opts, TB_OPTIONS(opts)), export_usage);
    if (rc != TB_COMMAND_GO_ON) return rc;
    if (!ckpt || !format || !out) return tb_error("export needs --ckpt, --format and --out"), tb_exit_usage();
    Model *m = checkpoint_load(ckpt, backend_cpu(), NULL);
    if (!m) return tb_report(), 1;
    rc = checkpoint_export(out, m, format);
    if (rc == 0) printf("wrote %s (%s, %s)\n", out, m->spec.name, format);
    else tb_report();
    model_destroy(m);
    return rc ? 1 : 0;
}
