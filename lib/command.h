// command.h: the one preamble and exit-code convention of every command
// (tunebench CMD, the bench, make_tables, plot_data).
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

#endif
