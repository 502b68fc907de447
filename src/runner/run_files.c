// run_files.c: see run_files.h.
#include "run_files.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/common.h"

int run_id_check(const char *id, const char *origin) {
    size_t n = strlen(id);
    if (n == 0 || n >= CHECKPOINT_RUN_ID_BYTES)
        return tb_error("%s '%s': a run id has 1 to %d characters", origin, id, CHECKPOINT_RUN_ID_BYTES - 1);
    if (id[0] == '.')
        return tb_error("%s '%s': a run id may not start with '.' (it names a file and a folder)", origin, id);
    for (const char *c = id; *c; c++)
        if (!(('a' <= *c && *c <= 'z') || ('A' <= *c && *c <= 'Z') || ('0' <= *c && *c <= '9') || *c == '.' ||
              *c == '_' || *c == '-'))
            return tb_error("%s '%s': a run id may hold only A-Z, a-z, 0-9, '.', '_' and '-' (it names a file "
                            "and a folder under the results folder)", origin, id);
    if (strstr(id, ".tmp.") || strstr(id, ".old.") || (n > 5 && strcmp(id + n - 5, ".best") == 0))
        return tb_error("%s '%s': a run id may not contain '.tmp.' or '.old.' nor end in '.best' (those name "
                        "another run's temporary or best checkpoint folders)", origin, id);
    return 0;
}

// "<name>.<kind>.<digits>": the process id, or 0 if name is not of that form.
static long temp_owner(const char *entry, const char *base, const char *kind) {
    size_t n = strlen(base), k = strlen(kind);
    if (strncmp(entry, base, n) != 0 || strncmp(entry + n, kind, k) != 0) return 0;
    const char *digits = entry + n + k;
    if (*digits < '1' || *digits > '9') return 0;
    char *end = NULL;
    long pid = strtol(digits, &end, 10);
    return *end == '\0' ? pid : 0;
}

// Whether the process pid may still be writing a temporary folder of this
// run. The caller holds the run's lock, and every tunebench process takes it
// before writing the run's checkpoint or record, so no live tunebench should
// be writing here: a folder whose process is gone (kill -9 during a
// checkpoint write) is stale, and so is one whose process id now belongs to
// a program that is not tunebench (the id was reused). A live tunebench with
// that id is left alone: it could be a run whose lock file was deleted and
// re-created under it (two processes, two lock files), and removing its
// folder mid-write would break its checkpoint; the next resume after it
// ends removes it.
static int temp_owner_alive(long pid) {
    if (pid == (long)getpid()) return 0;  // an earlier process with our id: ours are made later
    if (kill((pid_t)pid, 0) != 0 && errno == ESRCH) return 0;
    char path[64], comm[64] = "";
    snprintf(path, sizeof path, "/proc/%ld/comm", pid);
    FILE *fp = fopen(path, "r");
    if (!fp) return 1;  // alive, and we cannot tell what it is: keep its folder
    if (!fgets(comm, sizeof comm, fp)) comm[0] = '\0';
    fclose(fp);
    comm[strcspn(comm, "\n")] = '\0';
    return strcmp(comm, "tunebench") == 0;
}

// Removes what killed processes left beside the run: <run>.tmp.PID and
// <run>.best.tmp.PID (a checkpoint being written), <run>.json.tmp.PID (a
// record being written) and, when the checkpoint folder itself is in place,
// <run>.old.PID and <run>.best.old.PID (the previous checkpoint moved aside
// where the filesystem has no atomic exchange; without the folder it is the
// only copy and is kept). Links of those names are removed as links, never
// followed.
static void remove_stale_temps(const char *run_dir) {
    char parent[1024], base[1024], names[3][1100];
    snprintf(parent, sizeof parent, "%s", run_dir);
    char *slash = strrchr(parent, '/');
    if (slash) {
        snprintf(base, sizeof base, "%s", slash + 1);
        if (slash == parent) parent[1] = '\0';
        else *slash = '\0';
    } else {
        snprintf(base, sizeof base, "%s", parent);
        snprintf(parent, sizeof parent, ".");
    }
    // The run's folders (the checkpoint and the best one) and its record.
    snprintf(names[0], sizeof names[0], "%s", base);
    snprintf(names[1], sizeof names[1], "%s.best", base);
    snprintf(names[2], sizeof names[2], "%s.json", base);
    int in_place[3];
    for (int k = 0; k < 3; k++) {
        char path[2400];
        struct stat st;
        snprintf(path, sizeof path, "%.1023s/%.1099s", parent, names[k]);
        in_place[k] = k < 2 && lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
    }
    DIR *d = opendir(parent);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        long pid = 0;
        for (int k = 0; k < 3 && !pid; k++) {
            pid = temp_owner(e->d_name, names[k], ".tmp.");
            if (!pid && in_place[k]) pid = temp_owner(e->d_name, names[k], ".old.");
        }
        if (!pid || temp_owner_alive(pid)) continue;
        char path[2400];
        struct stat st;
        snprintf(path, sizeof path, "%.1023s/%.255s", parent, e->d_name);
        if (lstat(path, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) tb_remove_flat_dir(path);
        else unlink(path);
    }
    closedir(d);
}

int run_lock(const char *run_dir) {
    char path[1100], record[1100], best[1100];
    snprintf(path, sizeof path, "%s.lock", run_dir);
    snprintf(record, sizeof record, "%s.json", run_dir);
    snprintf(best, sizeof best, "%s.best", run_dir);
    if (tb_refuse_symlink(run_dir, "the run folder") || tb_refuse_symlink(record, "the run record") ||
        tb_refuse_symlink(best, "the run's best checkpoint folder"))
        return -1;
    // Never deleted: removing a lock file lets two processes lock two files.
    // O_NOFOLLOW: a link here would have the PID written into its target.
    int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0 && errno == ELOOP) return tb_refuse_symlink(path, "the run's lock file");
    if (fd < 0) return tb_error("cannot create the run's lock file %s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        char holder[32] = "";
        ssize_t got = pread(fd, holder, sizeof holder - 1, 0);  // the PID its holder wrote
        long pid = got > 0 ? strtol(holder, NULL, 10) : 0;
        close(fd);
        if (e == EWOULDBLOCK && pid > 0)
            return tb_error("run %s is in use by tunebench process %ld (it holds %s): wait for it to end, or stop "
                            "it (Ctrl-C in its terminal, or kill %ld)", run_dir, pid, path, pid);
        if (e == EWOULDBLOCK)
            return tb_error("run %s is in use by another tunebench process (it holds %s): wait for it to end, "
                            "or stop it", run_dir, path);
        return tb_error("cannot lock %s: %s", path, strerror(e));
    }
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());  // for humans: who holds it
    if (ftruncate(fd, 0) == 0 && write(fd, pid, (size_t)len) != len) { /* informative only */ }
    remove_stale_temps(run_dir);
    return 0;  // fd stays open (and locked) until the process exits
}

int run_check_resume(const RunRecord *rec, const TrainState *ts, const char *run_dir) {
    const cJSON *id = record_section(rec, "identity");
    const cJSON *run_id = cJSON_GetObjectItemCaseSensitive(id, "run_id");
    const cJSON *ckpt = cJSON_GetObjectItemCaseSensitive(id, "checkpoint_step");
    const char *record_id = cJSON_IsString(run_id) ? run_id->valuestring : "";
    if (strcmp(ts->run_id, record_id) != 0)
        return tb_error("--resume %s: the checkpoint belongs to run '%s', but the record is run '%s' (a checkpoint "
                        "copied from another run?); resume each run from its own checkpoint",
                        run_dir, ts->run_id, record_id);
    long long recorded = cJSON_IsNumber(ckpt) ? (long long)ckpt->valuedouble : -1;
    if ((long long)ts->step > recorded) {
        if (recorded < 0)
            return tb_error("--resume %s: the checkpoint is at step %lld but the record %s names no checkpoint: "
                            "resuming would lose the curve rows 1-%lld; the two do not belong together",
                            run_dir, (long long)ts->step, rec->path, (long long)ts->step);
        return tb_error("--resume %s: the checkpoint is at step %lld but the record %s was last written with the "
                        "checkpoint of step %lld: resuming would lose the curve rows %lld-%lld (an older copy "
                        "of the record?)", run_dir, (long long)ts->step, rec->path, recorded, recorded + 1,
                        (long long)ts->step);
    }
    return 0;
}

void run_set_oom_hint(int batch_size) {
    char hint[160];
    snprintf(hint, sizeof hint,
             "the memory a run needs grows with its batch: try a smaller --batch (this run's is %d)", batch_size);
    tb_set_oom_hint(hint);
}
