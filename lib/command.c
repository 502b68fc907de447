// command.c: see command.h.
#include "lib/command.h"

#include "lib/common.h"

int tb_command_start(int parse_rc, void (*usage)(FILE *fp)) {
    if (parse_rc == 0) return TB_COMMAND_GO_ON;
    if (parse_rc == 1) {
        usage(stdout);
        return TB_EXIT_OK;
    }
    return tb_exit_usage();
}

int tb_exit_runtime(void) {
    tb_report();
    return TB_EXIT_RUNTIME;
}

int tb_exit_usage(void) {
    tb_report();
    return TB_EXIT_USAGE;
}
