// test_run_files.c: a run's files are its own. `tunebench train` on a tiny
// model and a synthetic corpus, as a user runs it:
//   - a run folder, a record or a lock file that is a symbolic link is
//     refused with a line naming it, and what the link points to is left
//     untouched (an empty folder, a folder holding a config.json, a file);
//   - the library under it refuses links too: a checkpoint saved into a
//     linked folder, a linked temporary file, a linked folder to remove;
//   - resuming removes the temporary folders and files that killed
//     processes left beside the run (<run>.tmp.PID of a dead process, or of
//     a live one that is not tunebench), and only the run's own: another
//     run's, a live tunebench's, and a link's target are kept;
//   - a run id that names a temporary or best checkpoint folder (".tmp.",
//     ".old.", a ".best" ending) is refused.
#include <sys/prctl.h>
#include <sys/stat.h>

#include "../models/checkpoint.h"
#include "train_cli.h"

static char run_path[600];

static const char *run_dir_of(const char *run_id) {
    snprintf(run_path, sizeof run_path, "%s/%s/%s", results, experiment, run_id);
    return run_path;
}

static int train(const char *log, const char *run_id) {
    char *args[] = {"tunebench", "train", "--config", config_path, "--run-id", (char *)run_id, NULL};
    return run_train(log, NULL, args);
}

static int resume(const char *log, const char *run_id) {
    char d[600];
    snprintf(d, sizeof d, "%s", run_dir_of(run_id));
    char *args[] = {"tunebench", "train", "--resume", d, NULL};
    return run_train(log, NULL, args);
}

static int is_link(const char *path) {
    struct stat st;
    return lstat(path, &st) == 0 && S_ISLNK(st.st_mode);
}

static int exists(const char *path) {
    struct stat st;
    return lstat(path, &st) == 0;
}

static void write_text(const char *path, const char *text) {
    CHECK(tb_write_file_atomic(path, text, strlen(text)) == 0, "write %s: %s", path, tb_last_error());
}

static int file_is(const char *path, const char *text) {
    char *got = tb_read_file(path, NULL);
    int same = got && strcmp(got, text) == 0;
    free(got);
    return same;
}

// A folder holding two files, one of them a checkpoint's config.json.
static void make_victim(const char *folder, int with_config) {
    char path[700];
    CHECK(tb_mkdirs(folder) == 0, "mkdir %s", folder);
    snprintf(path, sizeof path, "%s/keep.txt", folder);
    write_text(path, "precious\n");
    if (with_config) {
        snprintf(path, sizeof path, "%s/config.json", folder);
        write_text(path, "{}\n");
    }
}

static int victim_intact(const char *folder, int with_config) {
    char path[700];
    snprintf(path, sizeof path, "%s/keep.txt", folder);
    int ok = file_is(path, "precious\n");
    snprintf(path, sizeof path, "%s/config.json", folder);
    return ok && (!with_config || file_is(path, "{}\n"));
}

static void test_linked_run_folder(void) {
    char victim[600], link_path[700];
    for (int with_config = 0; with_config < 2; with_config++) {
        snprintf(victim, sizeof victim, "%s/victim%d", dir, with_config);
        make_victim(victim, with_config);
        const char *id = with_config ? "linked-ckpt" : "linked-empty";
        snprintf(link_path, sizeof link_path, "%s", run_dir_of(id));
        CHECK(symlink(victim, link_path) == 0, "symlink %s", link_path);
        char log[64];
        snprintf(log, sizeof log, "%s.log", id);
        int rc = train(log, id);
        CHECK(rc != 0 && log_contains(log, "the run folder") && log_contains(log, "is a symbolic link") &&
                  log_contains(log, link_path),
              "a run folder linked to a folder%s: exit %d", with_config ? " with a config.json" : "", rc);
        CHECK(victim_intact(victim, with_config), "the folder behind the link %s lost its files", link_path);
        // Resuming through a linked folder is refused too.
        rc = resume(log, id);
        CHECK(rc != 0, "--resume through a linked run folder: exit %d", rc);
        CHECK(victim_intact(victim, with_config), "resume: the folder behind %s lost its files", link_path);
    }
}

static void test_linked_record_and_lock(void) {
    char target[600], link_path[700];
    snprintf(target, sizeof target, "%s/some-file", dir);
    write_text(target, "precious\n");

    // A record linked to a file is a record that exists; one linked to
    // nothing (where the next write would go) is refused as a link.
    snprintf(link_path, sizeof link_path, "%s.json", run_dir_of("linked-record"));
    CHECK(symlink(target, link_path) == 0, "symlink %s", link_path);
    int rc = train("linked-record.log", "linked-record");
    CHECK(rc != 0 && log_contains("linked-record.log", link_path), "a record linked to a file: exit %d", rc);
    char nowhere[700];
    snprintf(nowhere, sizeof nowhere, "%s/nowhere.json", dir);
    snprintf(link_path, sizeof link_path, "%s.json", run_dir_of("dangling-record"));
    CHECK(symlink(nowhere, link_path) == 0, "symlink %s", link_path);
    rc = train("dangling-record.log", "dangling-record");
    CHECK(rc != 0 && log_contains("dangling-record.log", "the run record") &&
              log_contains("dangling-record.log", "is a symbolic link") &&
              log_contains("dangling-record.log", link_path),
          "a record linked to nothing: exit %d", rc);
    CHECK(!exists(nowhere), "the run wrote its record through a link, to %s", nowhere);

    snprintf(link_path, sizeof link_path, "%s.lock", run_dir_of("linked-lock"));
    CHECK(symlink(target, link_path) == 0, "symlink %s", link_path);
    rc = train("linked-lock.log", "linked-lock");
    CHECK(rc != 0 && log_contains("linked-lock.log", "lock file") &&
              log_contains("linked-lock.log", "is a symbolic link") && log_contains("linked-lock.log", link_path),
          "a lock file that is a link: exit %d", rc);
    CHECK(file_is(target, "precious\n"), "the file behind the linked record or lock was changed");

    char victim[600];
    snprintf(victim, sizeof victim, "%s/victim-best", dir);
    make_victim(victim, 1);
    snprintf(link_path, sizeof link_path, "%s.best", run_dir_of("linked-best"));
    CHECK(symlink(victim, link_path) == 0, "symlink %s", link_path);
    rc = train("linked-best.log", "linked-best");
    CHECK(rc != 0 && log_contains("linked-best.log", "best checkpoint folder") &&
              log_contains("linked-best.log", link_path),
          "a best checkpoint folder that is a link: exit %d", rc);
    CHECK(victim_intact(victim, 1), "the folder behind the linked best checkpoint lost its files");
    CHECK(is_link(link_path), "the linked lock file was replaced");
}

static void test_library_refuses_links(void) {
    char victim[600], link_path[700];
    snprintf(victim, sizeof victim, "%s/victim-lib", dir);
    make_victim(victim, 1);
    snprintf(link_path, sizeof link_path, "%s/linked-dir", dir);
    CHECK(symlink(victim, link_path) == 0, "symlink %s", link_path);
    CHECK(tb_remove_flat_dir(link_path) != 0 && strstr(tb_last_error(), "is a symbolic link"),
          "tb_remove_flat_dir through a link: %s", tb_last_error());
    CHECK(victim_intact(victim, 1), "tb_remove_flat_dir emptied the folder behind a link");

    ModelSpec spec;
    CHECK(model_spec_by_name(&spec, "tiny-gpt2", 64) == 0, "tiny-gpt2: %s", tb_last_error());
    Model *m = model_create(&spec, backend_cpu());
    CHECK(m != NULL, "model_create: %s", tb_last_error());
    if (m) {
        CHECK(checkpoint_save(link_path, m, NULL, NULL) != 0 && strstr(tb_last_error(), "checkpoint folder") &&
                  strstr(tb_last_error(), "is a symbolic link"),
              "checkpoint_save into a linked folder: %s", tb_last_error());
        model_destroy(m);
    }
    CHECK(victim_intact(victim, 1), "checkpoint_save replaced the folder behind a link");

    // The temporary file of an atomic write is <path>.tmp.<pid>: a link
    // planted there is refused and the target keeps its content.
    char target[600], out[600], tmp_link[700];
    snprintf(target, sizeof target, "%s/some-file", dir);
    snprintf(out, sizeof out, "%s/out.json", dir);
    snprintf(tmp_link, sizeof tmp_link, "%s.tmp.%ld", out, (long)getpid());
    CHECK(symlink(target, tmp_link) == 0, "symlink %s", tmp_link);
    CHECK(tb_write_file_atomic(out, "x\n", 2) != 0 && strstr(tb_last_error(), "is a symbolic link"),
          "an atomic write through a linked temporary file: %s", tb_last_error());
    CHECK(file_is(target, "precious\n") && is_link(tmp_link) && !exists(out),
          "the atomic write followed a linked temporary file");
}

// A process id that no process has: a child that has exited and been reaped.
static long dead_pid(void) {
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    waitpid(pid, NULL, 0);
    return (long)pid;
}

static void test_stale_temps(void) {
    setenv("TUNEBENCH_FAULT_KILL_STEP", "10", 1);
    int rc = train("stale-kill.log", "stale");
    unsetenv("TUNEBENCH_FAULT_KILL_STEP");
    CHECK(rc == 128 + SIGKILL, "the run killed after its checkpoint of step 10 exited %d", rc);

    // What kill -9 during checkpoint writes leaves: copies of the checkpoint
    // under <run>.tmp.<pid> of processes now gone, a record's temporary file,
    // and one whose process id a program other than tunebench now has (this
    // test). Beside them, what must stay: another run's temporary folder, a
    // live tunebench's, and a link (removed as a link, its target kept).
    char run[600];
    snprintf(run, sizeof run, "%s", run_dir_of("stale"));
    char stale1[700], stale2[700], stale_rec[700], stale_best[700], reused[700], other[700], live[700], linked[700],
        victim[600];
    long dead = dead_pid();
    snprintf(stale1, sizeof stale1, "%s.tmp.%ld", run, dead);
    snprintf(stale2, sizeof stale2, "%s.tmp.%ld", run, dead_pid());
    snprintf(stale_rec, sizeof stale_rec, "%s.json.tmp.%ld", run, dead);
    snprintf(stale_best, sizeof stale_best, "%s.best.tmp.%ld", run, dead);
    snprintf(reused, sizeof reused, "%s.tmp.%ld", run, (long)getpid());
    snprintf(other, sizeof other, "%s.tmp.%ld", run_dir_of("stale-other"), dead);
    snprintf(linked, sizeof linked, "%s.tmp.%ld", run, dead_pid());
    snprintf(victim, sizeof victim, "%s/victim-stale", dir);
    char cmd[8000];
    snprintf(cmd, sizeof cmd, "cp -r '%s' '%s' && cp -r '%s' '%s' && cp -r '%s' '%s' && cp -r '%s' '%s' && cp -r '%s' '%s'",
             run, stale1, run, stale2, run, reused, run, other, run, stale_best);
    CHECK(system(cmd) == 0, "copy the checkpoint: %s", cmd);
    write_text(stale_rec, "{\"half\": ");
    make_victim(victim, 1);
    CHECK(symlink(victim, linked) == 0, "symlink %s", linked);

    // A live tunebench: a child named so (/proc/PID/comm reads "tunebench").
    // Its folder is kept: it could be writing it.
    pid_t named = fork();
    if (named == 0) {
        prctl(PR_SET_NAME, "tunebench", 0, 0, 0);
        pause();
        _exit(0);
    }
    snprintf(live, sizeof live, "%s.tmp.%ld", run, (long)named);
    snprintf(cmd, sizeof cmd, "cp -r '%s' '%s'", run, live);
    CHECK(system(cmd) == 0, "copy the checkpoint: %s", cmd);
    for (int i = 0; i < 100; i++) {  // until the child has renamed itself
        char path[64], comm[32] = "";
        snprintf(path, sizeof path, "/proc/%ld/comm", (long)named);
        FILE *fp = fopen(path, "r");
        if (fp && fgets(comm, sizeof comm, fp) && strncmp(comm, "tunebench", 9) == 0) i = 100;
        if (fp) fclose(fp);
        if (i < 100) usleep(10000);
    }

    rc = resume("stale-resume.log", "stale");
    CHECK(rc == 0, "the resume after the kill exited %d", rc);
    CHECK(!exists(stale1) && !exists(stale2), "the temporary folders of dead processes are still there");
    CHECK(!exists(stale_best), "the best checkpoint's temporary folder of a dead process is still there");
    CHECK(!exists(stale_rec), "the record's temporary file of a dead process is still there");
    CHECK(!exists(reused), "the temporary folder of an id now held by another program is still there");
    CHECK(exists(live), "the temporary folder of a live tunebench process %s was removed", live);
    CHECK(!exists(linked) && victim_intact(victim, 1), "the linked temporary folder: link %s, target %s",
          exists(linked) ? "kept" : "removed", victim_intact(victim, 1) ? "intact" : "emptied");
    CHECK(exists(other), "another run's temporary folder %s was removed", other);
    kill(named, SIGKILL);
    waitpid(named, NULL, 0);
}

static void test_reserved_ids(void) {
    static const char *ids[] = {"x.tmp.5", "x.old.7", "x.best"};
    for (int i = 0; i < 3; i++) {
        int rc = train("reserved.log", ids[i]);
        CHECK(rc != 0 && log_contains("reserved.log", "may not contain '.tmp.' or '.old.' nor end in '.best'"),
              "--run-id %s: exit %d", ids[i], rc);
    }
}

int main(int argc, char **argv) {
    (void)argc;
    const char *tests = strstr(argv[0], "/tests/");
    if (tests) snprintf(tunebench, sizeof tunebench, "%.*s/tunebench", (int)(tests - argv[0]), argv[0]);
    snprintf(experiment, sizeof experiment, "files");
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    CHECK(write_corpus() == 0, "corpus: %s", tb_last_error());
    snprintf(results, sizeof results, "%s/results", dir);
    snprintf(config_path, sizeof config_path, "%s/files.json", dir);
    char cfg[2048];
    snprintf(cfg, sizeof cfg,
             "{\"experiment\": \"files\", \"model\": \"tiny-gpt2\", \"data\": \"%s\", \"results\": \"%s\",\n"
             " \"threads\": 1, \"seed\": 3, \"steps\": 20, \"batch_size\": 4, \"seq_len\": 16, \"log_interval\": 1,\n"
             " \"optimizer\": {\"lr\": 0.003, \"warmup_steps\": 2},\n"
             " \"eval\": {\"interval\": 10, \"batches\": 1}, \"checkpoint\": {\"interval\": 10},\n"
             " \"inference\": {\"repeats\": 1}, \"samples\": {\"count\": 1, \"max_tokens\": 4}}\n",
             corpus, results);
    CHECK(tb_write_file_atomic(config_path, cfg, strlen(cfg)) == 0, "config: %s", tb_last_error());
    char folder[600];
    snprintf(folder, sizeof folder, "%s/%s", results, experiment);
    CHECK(tb_mkdirs(folder) == 0, "mkdir %s", folder);

    test_linked_run_folder();
    test_linked_record_and_lock();
    test_library_refuses_links();
    test_stale_temps();
    test_reserved_ids();

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (test_failed == 0 && !getenv("KEEP")) CHECK(system(cmd) == 0, "cleanup");
    else fprintf(stderr, "kept %s for inspection\n", dir);
    return test_summary("test_run_files");
}
