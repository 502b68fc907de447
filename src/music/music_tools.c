// music_tools.c: posix_spawn with the child's output sent to a temporary
// file, read back when it exits. No shell is involved, so file names with
// spaces or quotes need no escaping.
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/common.h"
#include "music_metrics.h"
#include "music_tools.h"

extern char **environ;

int music_tool_available(const char *program) {
    const char *path = getenv("PATH");
    if (!path) path = "/usr/bin:/bin";
    char dir[4096];
    while (*path) {
        size_t n = strcspn(path, ":");
        snprintf(dir, sizeof dir, "%.*s/%s", (int)n, path, program);
        if (access(dir, X_OK) == 0) return 1;
        path += n + (path[n] == ':');
    }
    return 0;
}

int music_run_tool(const char *const *argv, const char *debian_package, char **output,
                   int *exit_status) {
    if (output) *output = NULL;
    if (!music_tool_available(argv[0]))
        return tb_error("%s is not installed: install the Debian package %s "
                        "(bash scripts/deps.sh samples, or apt-get install %s)",
                        argv[0], debian_package, debian_package);
    char log_path[] = "/tmp/tunebench_tool_XXXXXX";
    int fd = mkstemp(log_path);
    if (fd < 0) return tb_error("cannot create a temporary file in /tmp: %s", strerror(errno));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fd, 1);
    posix_spawn_file_actions_adddup2(&fa, fd, 2);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fd);
    if (rc != 0) {
        unlink(log_path);
        return tb_error("cannot run %s: %s (Debian package %s)", argv[0], strerror(rc), debian_package);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            unlink(log_path);
            return tb_error("waiting for %s failed: %s", argv[0], strerror(errno));
        }
    }
    *exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (output) {
        size_t len;
        *output = tb_read_file(log_path, &len);
        if (!*output) *output = tb_strdup("");
    }
    unlink(log_path);
    return 0;
}

int music_count_lines_starting(const char *text, const char *prefix) {
    int count = 0;
    size_t n = strlen(prefix);
    for (const char *line = text; line && *line;) {
        if (strncmp(line, prefix, n) == 0) count++;
        line = strchr(line, '\n');
        if (line) line++;
    }
    return count;
}

int music_run_abc2midi(const char *text, size_t len, const char *tmp_dir, TuneMetrics *m) {
    char abc_path[4096], midi_path[4096];
    snprintf(abc_path, sizeof abc_path, "%s/tune_%d.abc", tmp_dir, (int)getpid());
    snprintf(midi_path, sizeof midi_path, "%s/tune_%d.mid", tmp_dir, (int)getpid());
    // abc2midi only reads tunes that start with X:; give it one if the text lacks it,
    // so that its verdict is on the music (the checker already counts the missing X:).
    FILE *f = fopen(abc_path, "wb");
    if (!f) return tb_error("cannot write %s: %s", abc_path, strerror(errno));
    if (len < 2 || text[0] != 'X' || text[1] != ':') fputs("X:1\n", f);
    fwrite(text, 1, len, f);
    fputc('\n', f);
    if (fclose(f)) return tb_error("cannot write %s: %s", abc_path, strerror(errno));
    unlink(midi_path);
    const char *argv[] = {"abc2midi", abc_path, "-o", midi_path, "-silent", NULL};
    char *out = NULL;
    int status = 0;
    int rc = music_run_tool(argv, "abcmidi", &out, &status);
    unlink(abc_path);
    if (rc) return -1;
    struct stat st;
    int wrote_midi = stat(midi_path, &st) == 0 && st.st_size > 0;
    unlink(midi_path);
    m->abc2midi_run = 1;
    m->abc2midi_exit = status;
    m->abc2midi_errors = music_count_lines_starting(out, "Error");
    m->abc2midi_warnings = music_count_lines_starting(out, "Warning");
    m->abc2midi_valid = status == 0 && m->abc2midi_errors == 0 && wrote_midi;
    free(out);
    return 0;
}
