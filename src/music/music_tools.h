// music_tools.h: running the external music tools (abc2midi, abcm2ps,
// fluidsynth, lame) from C, with their output captured.
#ifndef TB_MUSIC_TOOLS_H
#define TB_MUSIC_TOOLS_H

#include <stddef.h>

// Runs argv (argv[0] looked up on PATH) with stdout and stderr captured into
// a malloc'ed NUL-terminated buffer (*output, may be NULL to discard).
// Returns 0 with *exit_status set (128 + signal if it was killed), or -1 with
// the error set when the program cannot be started: a missing program is
// reported with the Debian package that provides it.
int music_run_tool(const char *const *argv, const char *debian_package, char **output,
                   int *exit_status);

// 1 if the program is on PATH.
int music_tool_available(const char *program);

// Counts the lines of text that start with prefix ("Error", "Warning").
int music_count_lines_starting(const char *text, const char *prefix);

// The number of events in a standard MIDI file's tracks (every delta-time
// event, meta and sysex included); -1 if the bytes are not a MIDI file.
long music_midi_event_count(const unsigned char *data, size_t len);

#endif
