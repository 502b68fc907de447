// test_command_options.c: lib/command.h's option parser, the one every
// command reads its arguments with: each kind of value, ranges, flags,
// counted and collected options, arguments that are not options, --help,
// and the one-line errors (unknown option, missing value, not a number,
// out of range, given too often).
#include <stdint.h>

#include "lib/command.h"
#include "lib/common.h"
#include "test.h"

typedef struct {
    const char *name, *files[3];
    int count, verbose, color, nfiles, nlabels;
    uint64_t seed;
    float rate;
    double scale;
    const char *labels[2];
} Args;

// Parses the words of line (split at spaces; argv[0] is "demo") into a.
static int parse(char *line, Args *a, int with_files) {
    char *argv[32];
    int argc = 0;
    argv[argc++] = "demo";
    for (char *w = strtok(line, " "); w && argc < 32; w = strtok(NULL, " ")) argv[argc++] = w;
    *a = (Args){.count = 3, .color = 1, .seed = 7};
    const TbOption opts[] = {
        TB_OPT("--name", TB_OPT_STRING, &a->name), TB_OPT_IN("--count", TB_OPT_INT, &a->count, 1, 10),
        TB_OPT("--seed", TB_OPT_U64, &a->seed), TB_OPT("--rate", TB_OPT_FLOAT, &a->rate),
        TB_OPT_IN("--scale", TB_OPT_DOUBLE, &a->scale, 0, 1), TB_OPT("--verbose", TB_OPT_TRUE, &a->verbose),
        TB_OPT("--no-color", TB_OPT_FALSE, &a->color),
        {.name = "--label", .kind = TB_OPT_LIST, .dest = a->labels, .seen = &a->nlabels, .max = 2},
        {.name = NULL, .kind = TB_OPT_LIST, .dest = a->files, .seen = &a->nfiles, .max = 3}};
    tb_clear_error();
    return tb_parse_options("demo", argc, argv, opts, TB_OPTIONS(opts) - (with_files ? 0 : 1));
}

// parse() of line refuses it with an error that holds want.
static int refused(const char *text, const char *want, int with_files) {
    char line[256];
    snprintf(line, sizeof line, "%s", text);
    Args a;
    int rc = parse(line, &a, with_files);
    if (rc == -1 && strstr(tb_last_error(), want) && strncmp(tb_last_error(), "demo: ", 6) == 0) return 1;
    fprintf(stderr, "'%s': rc %d, error '%s' (wanted '%s')\n", text, rc, tb_last_error(), want);
    return 0;
}

int main(void) {
    Args a;
    char line[256];
    snprintf(line, sizeof line, "--name x --count 10 --seed 18446744073709551615 --rate 0.25 --scale 1 "
                                "--verbose --no-color --label p --label q in.abc - out.abc");
    CHECK(parse(line, &a, 1) == 0, "a full line: %s", tb_last_error());
    CHECK(tb_streq(a.name, "x") && a.count == 10 && a.seed == UINT64_MAX && a.rate == 0.25f && a.scale == 1.0,
          "values: name %s count %d seed %llu rate %g scale %g", a.name, a.count, (unsigned long long)a.seed,
          a.rate, a.scale);
    CHECK(a.verbose == 1 && a.color == 0, "flags: verbose %d color %d", a.verbose, a.color);
    CHECK(a.nlabels == 2 && tb_streq(a.labels[0], "p") && tb_streq(a.labels[1], "q"), "a repeated option");
    CHECK(a.nfiles == 3 && tb_streq(a.files[0], "in.abc") && tb_streq(a.files[1], "-") &&
              tb_streq(a.files[2], "out.abc"),
          "arguments that are not options, '-' among them: %d", a.nfiles);

    snprintf(line, sizeof line, "in.abc");
    CHECK(parse(line, &a, 1) == 0 && a.count == 3 && a.seed == 7 && a.color == 1 && !a.name && a.nlabels == 0,
          "defaults stay when an option is not given");
    snprintf(line, sizeof line, "--bogus --help");
    CHECK(parse(line, &a, 1) == 1, "--help anywhere asks for help, before any error");
    snprintf(line, sizeof line, "-h");
    CHECK(parse(line, &a, 0) == 1, "-h asks for help");

    CHECK(refused("--bogus", "unknown option '--bogus' (see tunebench demo --help)", 1), "an unknown option");
    CHECK(refused("-x", "unknown option '-x'", 1), "a short unknown option");
    CHECK(refused("--name", "option --name needs a value", 1), "a missing value");
    CHECK(refused("--count 3x", "--count 3x: not a whole number", 1), "trailing letters");
    CHECK(refused("--count 2.5", "not a whole number", 1), "a fraction for a whole number");
    CHECK(refused("--count 11", "--count 11: must be 1 to 10", 1), "above the range");
    CHECK(refused("--count 0", "must be 1 to 10", 1), "below the range");
    CHECK(refused("--seed -1", "--seed -1: not a whole number", 1), "a negative seed (strtoull would wrap it)");
    CHECK(refused("--seed 18446744073709551616", "not a whole number", 1), "a seed past 64 bits");
    CHECK(refused("--rate fast", "--rate fast: not a number", 1), "a word for a number");
    CHECK(refused("--scale nan", "must be 0 to 1", 1), "NaN is outside every range");
    CHECK(refused("--label a --label b --label c", "at most 2 --label", 1), "an option given too often");
    CHECK(refused("a b c d", "at most 3 arguments", 1), "too many arguments");
    CHECK(refused("in.abc", "unexpected argument 'in.abc'", 0), "an argument where none is taken");
    return test_summary("test_command_options");
}
