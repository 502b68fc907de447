// command.c: see command.h.
#include "lib/command.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

// ---------------------------------------------------------------- options
static int is_option(const char *arg) { return arg[0] == '-' && arg[1] != '\0'; }

static const TbOption *find_option(const TbOption *opts, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (name ? tb_streq(opts[i].name, name) : !opts[i].name) return &opts[i];
    return NULL;
}

// Parses v as o's kind of number into o->dest, or -1 with the error set.
static int store_number(const char *command, const TbOption *o, const char *v) {
    const char *name = o->name ? o->name : "argument";
    int whole = o->kind == TB_OPT_INT || o->kind == TB_OPT_U64;
    char *end = NULL;
    errno = 0;
    unsigned long long u = 0;
    double x;
    if (o->kind == TB_OPT_U64) x = (double)(u = strtoull(v, &end, 10));
    else if (whole) x = (double)strtoll(v, &end, 10);
    else x = strtod(v, &end);
    int bad = end == v || *end || errno || (o->kind == TB_OPT_U64 && strchr(v, '-')) ||
              (o->kind == TB_OPT_INT && (x < INT_MIN || x > INT_MAX));
    if (bad) return tb_error("%s: %s %s: not a %snumber", command, name, v, whole ? "whole " : "");
    if (o->lo < o->hi && !(x >= o->lo && x <= o->hi))
        return tb_error("%s: %s %s: must be %.17g to %.17g", command, name, v, o->lo, o->hi);
    switch (o->kind) {
        case TB_OPT_INT: *(int *)o->dest = (int)x; break;
        case TB_OPT_U64: *(uint64_t *)o->dest = (uint64_t)u; break;
        case TB_OPT_FLOAT: *(float *)o->dest = (float)x; break;
        default: *(double *)o->dest = x; break;
    }
    return 0;
}

// Stores v (the argument after the option; for a flag, the option itself)
// where o points, and counts it.
static int store(const char *command, const TbOption *o, const char *v) {
    if (o->max > 0 && o->seen && *o->seen >= o->max)
        return tb_error("%s: at most %d %s (see tunebench %s --help)", command, o->max,
                        o->name ? o->name : "arguments", command);
    switch (o->kind) {
        case TB_OPT_STRING: *(const char **)o->dest = v; break;
        case TB_OPT_LIST: ((const char **)o->dest)[o->seen ? *o->seen : 0] = v; break;
        case TB_OPT_TRUE: *(int *)o->dest = 1; break;
        case TB_OPT_FALSE: *(int *)o->dest = 0; break;
        default:
            if (store_number(command, o, v)) return -1;
    }
    if (o->seen) (*o->seen)++;
    return 0;
}

int tb_parse_options(const char *command, int argc, char **argv, const TbOption *opts, int n) {
    for (int i = 1; i < argc; i++)
        if (tb_streq(argv[i], "--help") || tb_streq(argv[i], "-h")) return 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const TbOption *o = find_option(opts, n, is_option(a) ? a : NULL);
        if (!o && is_option(a)) return tb_error("%s: unknown option '%s' (see tunebench %s --help)", command, a, command);
        if (!o) return tb_error("%s: unexpected argument '%s' (see tunebench %s --help)", command, a, command);
        const char *v = a;
        if (o->name && o->kind != TB_OPT_TRUE && o->kind != TB_OPT_FALSE) {
            if (i + 1 >= argc)
                return tb_error("%s: option %s needs a value (see tunebench %s --help)", command, a, command);
            v = argv[++i];
        }
        if (store(command, o, v)) return -1;
    }
    return 0;
}
