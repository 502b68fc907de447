// tunebench: one CLI for the whole harness. `tunebench help` lists commands;
// `tunebench CMD --help` prints the usage of one.
#include <stdio.h>
#include <string.h>

#include "lib/common.h"
#include "../kernels/cpu/cpu_ops.h"

#include <cblas.h>

#define COMMAND(name, summary) int cmd_##name(int argc, char **argv);
#include "commands.def"
#undef COMMAND

typedef struct {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} Command;

static const Command commands[] = {
#define COMMAND(name, summary) {#name, summary, cmd_##name},
#include "commands.def"
#undef COMMAND
};

// Commands are C identifiers in commands.def (evaluate_music) and typed with
// dashes (evaluate-music); both spellings are accepted.
static int command_matches(const char *name, const char *typed) {
    for (; *name && *typed; name++, typed++)
        if (*name != *typed && !(*name == '_' && *typed == '-')) return 0;
    return *name == *typed;
}

static void print_help(FILE *out) {
    fprintf(out, "usage: tunebench COMMAND [options]   (tunebench COMMAND --help for its options)\n\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    {
        char name[64];
        snprintf(name, sizeof name, "%s", commands[i].name);
        for (char *c = name; *c; c++)
            if (*c == '_') *c = '-';
        fprintf(out, "  %-16s %s\n", name, commands[i].summary);
    }
}

int cmd_version(int argc, char **argv) {
    (void)argc, (void)argv;
    printf("tunebench %s (built %s, threads %d, OpenBLAS kernels %s)\n", TB_VERSION, __DATE__,
           tb_num_threads(), openblas_get_corename());
    return 0;
}

int main(int argc, char **argv) {
    cpu_runtime_reexec(argv);  // before any BLAS call or parallel region
    if (argc < 2 || tb_streq(argv[1], "help") || tb_streq(argv[1], "--help") ||
        tb_streq(argv[1], "-h")) {
        if (argc >= 3 && tb_streq(argv[1], "help")) {
            char *help_argv[] = {argv[2], "--help", NULL};
            for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
                if (command_matches(commands[i].name, argv[2])) return commands[i].run(2, help_argv);
        }
        print_help(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (command_matches(commands[i].name, argv[1])) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "tunebench: error: unknown command '%s' (run 'tunebench help' for the list)\n",
            argv[1]);
    return 2;
}
