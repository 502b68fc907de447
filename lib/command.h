// command.h: the one preamble, option parser and exit-code convention of
// every command (tunebench CMD, the bench, make_tables, plot_data).
//
// Exit codes:
//   0  success, or --help
//   2  a usage error: the argument parser refuses what was typed (an unknown
//      flag, a malformed or missing value, a wrong number of arguments)
//   1  a runtime error: the arguments parse but the work fails, including a
//      name or size checked against what exists (an unknown backend or model,
//      a length past a model's context, a missing or bad file, a failed write)
// Either error prints one line on stderr first (tb_report or the caller's).
#ifndef TB_COMMAND_H
#define TB_COMMAND_H

#include <stdio.h>

enum { TB_EXIT_OK = 0, TB_EXIT_RUNTIME = 1, TB_EXIT_USAGE = 2 };

// Goes on after a command's argument parser, which returns 0 (parsed), 1
// (--help asked) or anything else (error set). Returns TB_COMMAND_GO_ON to go
// on, else the exit code: --help prints usage on stdout and gives 0; an error
// is reported and gives TB_EXIT_USAGE.
#define TB_COMMAND_GO_ON (-1)
int tb_command_start(int parse_rc, void (*usage)(FILE *fp));

// Report the error set and return TB_EXIT_RUNTIME or TB_EXIT_USAGE.
int tb_exit_runtime(void);
int tb_exit_usage(void);

// ---------------------------------------------------------------- options
// A command's options as a table: each entry names an option and where its
// value goes. What dest points to, by kind:
typedef enum {
    TB_OPT_STRING,  // const char *: the next argument
    TB_OPT_LIST,    // const char *[max]: the next argument, at index *seen
    TB_OPT_INT,     // int: the next argument, a whole number
    TB_OPT_U64,     // uint64_t: the next argument, a whole number >= 0
    TB_OPT_FLOAT,   // float: the next argument, a number
    TB_OPT_DOUBLE,  // double: the next argument, a number
    TB_OPT_TRUE,    // int: set to 1; takes no argument
    TB_OPT_FALSE,   // int: set to 0; takes no argument
} TbOptionKind;

typedef struct {
    const char *name;  // "--ckpt"; NULL: the arguments that are not options
    TbOptionKind kind;
    void *dest;
    double lo, hi;  // a number's range, lo to hi inclusive, when lo < hi
    int *seen;      // when not NULL, counts the times it was given
    int max;        // when > 0, how many times it may be given (TB_OPT_LIST: its length)
} TbOption;

// Table entries: TB_OPT("--ckpt", TB_OPT_STRING, &ckpt); with a range,
// TB_OPT_IN("--batch", TB_OPT_INT, &batch, 1, 1e9). Entries that count or
// collect name the fields: {.name = ..., .seen = &n, .max = 8}.
#define TB_OPT(option, kind_, dest_) {.name = (option), .kind = (kind_), .dest = (dest_)}
#define TB_OPT_IN(option, kind_, dest_, lo_, hi_) \
    {.name = (option), .kind = (kind_), .dest = (dest_), .lo = (lo_), .hi = (hi_)}
#define TB_OPTIONS(table) (int)(sizeof(table) / sizeof(table)[0])

// Reads argv[1..argc) against the table of n options of command (the name
// its errors start with). An argument that starts with '-' (but is not "-"
// alone) is an option; any other goes to the entry named NULL, and without
// one is refused. Returns 0 when every argument was read, 1 when --help or
// -h was given (anywhere), or -1 with the error set: an unknown option, a
// missing value, a value that is not a number or outside its range, an
// option given more often than its max. Fits tb_command_start.
int tb_parse_options(const char *command, int argc, char **argv, const TbOption *opts, int n);

#endif
