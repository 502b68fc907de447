// run_files.c: see run_files.h.
#include "run_files.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
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
    return 0;
}

int run_lock(const char *run_dir) {
    char path[1100];
    snprintf(path, sizeof path, "%s.lock", run_dir);
    // Never deleted: removing a lock file lets two processes lock two files.
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
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
