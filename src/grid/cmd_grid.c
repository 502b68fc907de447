// cmd_grid.c: `tunebench grid`, a grid of runs on this machine or on Slurm.
//
//   grid list GRID                     the runs, one line each
//   grid status GRID [--slurm]         each run's state from its record (and the queue)
//   grid run GRID --task I [--threads T]
//                                      one run: skip it if finished, resume it if it has a
//                                      checkpoint, else start it (a Slurm array task runs this)
//   grid run GRID [--workers N] [--threads T] [--progress S]
//                                      every unfinished run, N at a time, T threads each
//                                      (default: the cores / N); progress every S seconds
//   grid sbatch GRID [--submit] [--bin DIR]
//                                      Slurm job-array scripts (slurm.h), submitted with --submit
//
// The local pool starts each run as a fresh `tunebench grid run --task`
// process (exec, not fork alone: OpenMP and OpenBLAS thread pools do not
// survive a fork), its output in <results>/logs/<run-id>.log. A SIGINT or
// SIGTERM stops starting runs and passes SIGTERM on: each run checkpoints and
// records "interrupted", and the next `grid run` resumes it. Each pool session
// appends its throughput (tokens trained per wall second, with the workers,
// threads and load average) to <results>/grid.json.
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "grid.h"
#include "lib/command.h"
#include "lib/common.h"
#include "slurm.h"
#include "../runner/record.h"

int cmd_train(int argc, char **argv);

// Seconds between progress lines of the local pool.
#define GRID_PROGRESS_SECONDS 30

static void usage(FILE *out) {
    fprintf(out,
            "usage: tunebench grid list GRID.json\n"
            "       tunebench grid status GRID.json [--slurm]\n"
            "       tunebench grid run GRID.json [--workers N] [--threads T] [--progress SECONDS]\n"
            "       tunebench grid run GRID.json --task I [--threads T]\n"
            "       tunebench grid sbatch GRID.json [--submit] [--bin DIR]\n\n"
            "A grid (grids/*.json) crosses experiments with seeds, learning rates and a precision;\n"
            "each run's record goes to <results>/<experiment>/<run-id>.json (results/grids/<name>\n"
            "by default), so `make plots tables RECORDS=<results>` read a grid like any records.\n"
            "run skips completed runs and resumes interrupted ones; T defaults to the cores / N.\n"
            "grid file keys: name, description, results, experiments, seeds, lrs, precision,\n"
            "steps, backend, set {config key: value}, slurm {partition, account,\n"
            "resources {default|<experiment>: {cpus, mem, time}}}; see README.md.\n");
}

// ---------------------------------------------------------------- one run

// Runs run i in this process (cmd_train), from its state on disk.
static int run_task(const Grid *g, int i, int threads) {
    const GridRun *r = &g->runs[i];
    RunStatus st;
    grid_run_status(g, r, &st);
    char record[1200], dir[1200], threads_text[16], steps[16], seed[32], lr[64], results[600];
    grid_run_paths(g, r, record, sizeof record, dir, sizeof dir);
    snprintf(threads_text, sizeof threads_text, "%d", threads);
    switch (st.state) {
    case RUN_COMPLETED:
    case RUN_DIVERGED:
        printf("grid %s: %s is %s already (%d steps); skipped\n", g->name, r->run_id, grid_state_name(st.state),
               st.steps_done);
        return 0;
    case RUN_RUNNING:
        return tb_error("grid %s: %s is running in another process (it holds %s.lock)", g->name, r->run_id, dir);
    case RUN_MISMATCH:
        return tb_error("grid %s: %s: %s", g->name, r->run_id, st.detail);
    case RUN_RESUMABLE: {
        printf("grid %s: resuming %s after step %d\n", g->name, r->run_id, st.steps_done);
        fflush(stdout);
        char *argv[] = {"train", "--resume", dir, "--threads", threads_text, NULL};
        int argc = threads > 0 ? 5 : 3;
        argv[argc] = NULL;
        return cmd_train(argc, argv);
    }
    case RUN_RESTART:
        // Killed before its first checkpoint: nothing to resume. Start again.
        printf("grid %s: %s has a record but no checkpoint; starting it again\n", g->name, r->run_id);
        if (remove(record) != 0) return tb_error("cannot remove %s to restart the run", record);
        if (tb_remove_flat_dir(dir)) return -1;
        break;
    case RUN_PENDING:
        break;
    }
    snprintf(steps, sizeof steps, "%d", r->steps);
    snprintf(seed, sizeof seed, "%lld", (long long)r->seed);
    snprintf(lr, sizeof lr, "optimizer.lr=%.17g", r->lr);
    snprintf(results, sizeof results, "%s", g->results);
    char *argv[24 + 2 * GRID_MAX_SETS];
    int argc = 0;
    argv[argc++] = "train";
    argv[argc++] = "--config", argv[argc++] = (char *)r->config_path;
    argv[argc++] = "--results", argv[argc++] = results;
    argv[argc++] = "--run-id", argv[argc++] = (char *)r->run_id;
    argv[argc++] = "--seed", argv[argc++] = seed;
    argv[argc++] = "--steps", argv[argc++] = steps;
    argv[argc++] = "--backend", argv[argc++] = (char *)r->backend;
    argv[argc++] = "--precision", argv[argc++] = (char *)r->precision;
    if (r->lr_swept) argv[argc++] = "--set", argv[argc++] = lr;
    for (int s = 0; s < g->n_sets; s++) argv[argc++] = "--set", argv[argc++] = (char *)g->sets[s];
    if (threads > 0) argv[argc++] = "--threads", argv[argc++] = threads_text;
    argv[argc] = NULL;
    printf("grid %s: starting %s (run %d of %d)\n", g->name, r->run_id, i + 1, g->n_runs);
    fflush(stdout);
    return cmd_train(argc, argv);
}

// ---------------------------------------------------------------- list and status

static void print_list(const Grid *g) {
    printf("grid %s: %d runs; records in %s\n", g->name, g->n_runs, g->results);
    for (int i = 0; i < g->n_runs; i++) {
        const GridRun *r = &g->runs[i];
        printf("%4d  %-36s %-6s seed %-6lld lr %-9g steps %-7d %s %s\n", i, r->run_id, r->backend,
               (long long)r->seed, r->lr, r->steps, r->precision, r->config_path);
    }
}

static int print_status(const Grid *g, int with_slurm) {
    char (*queue)[16] = tb_calloc((size_t)g->n_runs, sizeof *queue);
    int queued = 0;
    if (with_slurm && (queued = slurm_queue_states(g, queue)) < 0) {
        free(queue);
        return -1;
    }
    int count[RUN_MISMATCH + 1] = {0};
    printf("%4s  %-36s %-10s %15s %10s %8s%s\n", "run", "run id", "state", "steps", "loss", "val bpb",
           with_slurm ? "  slurm" : "");
    for (int i = 0; i < g->n_runs; i++) {
        RunStatus st;
        grid_run_status(g, &g->runs[i], &st);
        count[st.state]++;
        char steps[32];
        snprintf(steps, sizeof steps, "%d/%d", st.steps_done, g->runs[i].steps);
        char loss[32] = "-", bpb[32] = "-";
        if (isfinite(st.train_loss)) snprintf(loss, sizeof loss, "%.4f", st.train_loss);
        if (isfinite(st.val_bpb)) snprintf(bpb, sizeof bpb, "%.4f", st.val_bpb);
        printf("%4d  %-36s %-10s %15s %10s %8s%s%s\n", i, g->runs[i].run_id, grid_state_name(st.state), steps, loss,
               bpb, with_slurm ? "  " : "", with_slurm ? (queue[i][0] ? queue[i] : "-") : "");
        if (st.state == RUN_MISMATCH) printf("      %s\n", st.detail);
    }
    printf("grid %s: %d runs: %d completed, %d running, %d resumable, %d pending, %d diverged, %d to restart, "
           "%d mismatched", g->name, g->n_runs, count[RUN_COMPLETED], count[RUN_RUNNING], count[RUN_RESUMABLE],
           count[RUN_PENDING], count[RUN_DIVERGED], count[RUN_RESTART], count[RUN_MISMATCH]);
    if (with_slurm) printf("; %d in the Slurm queue", queued);
    printf("\n");
    free(queue);
    return 0;
}

// ---------------------------------------------------------------- the local pool

static volatile sig_atomic_t pool_signal;
static void on_signal(int sig) { pool_signal = sig; }

typedef struct {
    pid_t pid;
    int index;
} Worker;

static pid_t spawn(const Grid *g, int index, int threads) {
    char log[1300], logs[1100];
    snprintf(logs, sizeof logs, "%s/logs", g->results);
    snprintf(log, sizeof log, "%s/%s.log", logs, g->runs[index].run_id);
    if (tb_mkdirs(logs)) return -1;
    pid_t pid = fork();
    if (pid < 0) {
        tb_error("cannot start a worker: %s", strerror(errno));
        return -1;
    }
    if (pid > 0) return pid;
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) _exit(126);
    char idx[16], th[16];
    snprintf(idx, sizeof idx, "%d", index);
    snprintf(th, sizeof th, "%d", threads);
    char *argv[] = {"tunebench", "grid", "run", (char *)g->path, "--task", idx, "--threads", th, NULL};
    execv("/proc/self/exe", argv);
    fprintf(stderr, "tunebench: error: cannot exec /proc/self/exe: %s\n", strerror(errno));
    _exit(127);
}

static void print_progress(const Grid *g, const Worker *w, int n_workers, int done, int failed, int todo,
                           double elapsed) {
    printf("grid %s [%dm%02ds]: %d done, %d failed, %d waiting; running:", g->name, (int)elapsed / 60,
           (int)elapsed % 60, done, failed, todo);
    for (int k = 0; k < n_workers; k++) {
        if (!w[k].pid) continue;
        RunStatus st;
        grid_run_status(g, &g->runs[w[k].index], &st);
        printf(" %s %d/%d", g->runs[w[k].index].run_id, st.steps_done, g->runs[w[k].index].steps);
        if (isfinite(st.train_loss)) printf(" (loss %.3f)", st.train_loss);
    }
    printf("\n");
    fflush(stdout);
}

// Appends this session's measurements to <results>/grid.json.
static int write_session(const Grid *g, const char *started_at, int workers, int threads, int started, int completed,
                         int stopped, int failed, double wall_s, double steps, double tokens, const double load[2]) {
    char path[1100];
    snprintf(path, sizeof path, "%s/grid.json", g->results);
    cJSON *root = NULL;
    char *text = tb_file_exists(path) ? tb_read_file(path, NULL) : NULL;
    if (text) root = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsObject(root) || !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(root, "sessions"))) {
        cJSON_Delete(root);
        root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "grid", g->path);
        cJSON_AddStringToObject(root, "name", g->name);
        cJSON_AddItemToObject(root, "sessions", cJSON_CreateArray());
    }
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "started_at", started_at);
    cJSON_AddNumberToObject(s, "workers", workers);
    cJSON_AddNumberToObject(s, "threads_per_worker", threads);
    cJSON_AddNumberToObject(s, "cpu_cores", (double)sysconf(_SC_NPROCESSORS_ONLN));
    cJSON_AddNumberToObject(s, "load_average_start", load[0]);
    cJSON_AddNumberToObject(s, "load_average_end", load[1]);
    cJSON_AddNumberToObject(s, "runs_started", started);
    cJSON_AddNumberToObject(s, "runs_completed", completed);
    cJSON_AddNumberToObject(s, "runs_stopped", stopped);
    cJSON_AddNumberToObject(s, "runs_failed", failed);
    cJSON_AddNumberToObject(s, "wall_seconds", wall_s);
    cJSON_AddNumberToObject(s, "steps_trained", steps);
    cJSON_AddNumberToObject(s, "tokens_trained", tokens);
    cJSON_AddNumberToObject(s, "tokens_per_second", wall_s > 0 ? tokens / wall_s : 0);
    cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(root, "sessions"), s);
    int rc = tb_json_write(path, root);
    cJSON_Delete(root);
    return rc;
}

static int run_pool(const Grid *g, int workers, int threads, int progress_s) {
    int n = g->n_runs;
    int *todo = tb_malloc(sizeof(int) * (size_t)n), n_todo = 0, finished = 0;
    double *steps_before = tb_calloc((size_t)n, sizeof(double));
    for (int i = 0; i < n; i++) {
        RunStatus st;
        grid_run_status(g, &g->runs[i], &st);
        steps_before[i] = st.steps_done;
        if (st.state == RUN_MISMATCH) {
            free(todo), free(steps_before);
            return tb_error("grid %s: %s: %s", g->name, g->runs[i].run_id, st.detail);
        }
        if (st.state == RUN_COMPLETED || st.state == RUN_DIVERGED) finished++;
        else todo[n_todo++] = i;
    }
    if (threads <= 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cores / workers > 0 ? (int)(cores / workers) : 1;
    }
    printf("grid %s: %d runs, %d finished already, %d to run with %d worker%s of %d thread%s; logs in %s/logs\n",
           g->name, n, finished, n_todo, workers, workers == 1 ? "" : "s", threads, threads == 1 ? "" : "s",
           g->results);
    fflush(stdout);
    char started_at[32];
    record_utc_now(started_at);
    double load[2] = {0, 0};
    getloadavg(load, 1);
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    Worker *w = tb_calloc((size_t)workers, sizeof *w);
    int next = 0, running = 0, done = 0, failed = 0, stopped = 0, started = 0, forwarded = 0, rc = 0;
    double t0 = tb_now_seconds(), last_progress = t0;
    while (next < n_todo || running > 0) {
        if (pool_signal && !forwarded) {
            forwarded = 1;
            printf("grid %s: signal %d: no new runs; the running ones checkpoint and stop\n", g->name,
                   (int)pool_signal);
            fflush(stdout);
            for (int k = 0; k < workers; k++)
                if (w[k].pid) kill(w[k].pid, SIGTERM);
        }
        for (int k = 0; k < workers && next < n_todo && !pool_signal; k++) {
            if (w[k].pid) continue;
            pid_t pid = spawn(g, todo[next], threads);
            if (pid < 0) {
                rc = -1;
                pool_signal = SIGTERM;  // stop the others as a signal would
                break;
            }
            w[k].pid = pid, w[k].index = todo[next++];
            running++, started++;
        }
        if (pool_signal) next = n_todo;
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid > 0) {
            for (int k = 0; k < workers; k++) {
                if (w[k].pid != pid) continue;
                const GridRun *r = &g->runs[w[k].index];
                RunStatus st;
                grid_run_status(g, r, &st);
                int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0 && st.state == RUN_COMPLETED;
                if (ok) done++;
                else if (pool_signal && st.state == RUN_RESUMABLE) stopped++;
                else failed++;
                char how[64];
                if (WIFEXITED(status)) snprintf(how, sizeof how, "exit %d", WEXITSTATUS(status));
                else snprintf(how, sizeof how, "signal %d", WTERMSIG(status));
                printf("grid %s: %s %s (%s, %d/%d steps); log %s/logs/%s.log\n", g->name, r->run_id,
                       grid_state_name(st.state), how, st.steps_done, r->steps, g->results, r->run_id);
                fflush(stdout);
                w[k].pid = 0;
                running--;
            }
            continue;
        }
        double now = tb_now_seconds();
        if (progress_s > 0 && now - last_progress >= progress_s) {
            print_progress(g, w, workers, done, failed, n_todo - next, now - t0);
            last_progress = now;
        }
        struct timespec nap = {0, 100 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    double wall = tb_now_seconds() - t0, steps = 0, tokens = 0;
    getloadavg(load + 1, 1);
    for (int i = 0; i < n; i++) {
        RunStatus st;
        grid_run_status(g, &g->runs[i], &st);
        double d = st.steps_done - steps_before[i];
        if (d > 0 && isfinite(st.tokens_per_step)) steps += d, tokens += d * st.tokens_per_step;
    }
    printf("grid %s: %d of %d runs done in this session (%d stopped, %d failed) in %.1f s: %.0f steps, %.0f tokens/s "
           "over the grid\n", g->name, done, started, stopped, failed, wall, steps, wall > 0 ? tokens / wall : 0);
    if (stopped) printf("grid %s: the stopped runs resume from their checkpoints at the next grid run\n", g->name);
    if (started && write_session(g, started_at, workers, threads, started, done, stopped, failed, wall, steps, tokens, load))
        rc = -1;
    free(w), free(todo), free(steps_before);
    if (rc) return -1;
    if (pool_signal) return 128 + pool_signal;
    return failed ? 1 : 0;
}

// ---------------------------------------------------------------- the command

int cmd_grid(int argc, char **argv) {
    if (argc < 2 || tb_streq(argv[1], "--help") || tb_streq(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *verb = argv[1];
    if (!tb_streq(verb, "list") && !tb_streq(verb, "status") && !tb_streq(verb, "run") && !tb_streq(verb, "sbatch")) {
        fprintf(stderr, "tunebench: error: grid: unknown action '%s' (list, status, run or sbatch)\n", verb);
        return 2;
    }
    if (argc >= 3 && (tb_streq(argv[2], "--help") || tb_streq(argv[2], "-h"))) return tb_command_start(1, usage);
    if (argc < 3 || argv[2][0] == '-') {
        fprintf(stderr, "tunebench: error: grid %s: give the grid file, e.g. tunebench grid %s grids/study.json\n",
                verb, verb);
        return 2;
    }
    const char *path = argv[2];
    int task = -1, workers = 1, threads = 0, progress_s = GRID_PROGRESS_SECONDS, submit = 0, slurm = 0;
    const char *bin = "build";
    // Each action's options.
    const TbOption run_opts[] = {
        TB_OPT_IN("--task", TB_OPT_INT, &task, 0, 1 << 20), TB_OPT_IN("--workers", TB_OPT_INT, &workers, 1, 1 << 20),
        TB_OPT_IN("--threads", TB_OPT_INT, &threads, 0, 1 << 20),
        TB_OPT_IN("--progress", TB_OPT_INT, &progress_s, 0, 1 << 20)};
    const TbOption sbatch_opts[] = {TB_OPT("--bin", TB_OPT_STRING, &bin), TB_OPT("--submit", TB_OPT_TRUE, &submit)};
    const TbOption status_opts[] = {TB_OPT("--slurm", TB_OPT_TRUE, &slurm)};
    const TbOption *opts = tb_streq(verb, "run")      ? run_opts
                           : tb_streq(verb, "sbatch") ? sbatch_opts
                           : tb_streq(verb, "status") ? status_opts
                                                      : NULL;
    int nopts = opts == run_opts ? TB_OPTIONS(run_opts) : opts == sbatch_opts ? TB_OPTIONS(sbatch_opts)
                : opts ? TB_OPTIONS(status_opts) : 0;
    char command[32];
    snprintf(command, sizeof command, "grid %s", verb);
    int parsed = tb_command_start(tb_parse_options(command, argc - 2, argv + 2, opts, nopts), usage);
    if (parsed != TB_COMMAND_GO_ON) return parsed;
    Grid g;
    if (grid_load(&g, path)) {
        tb_report();
        return 2;
    }
    int rc = 0;
    if (tb_streq(verb, "list")) {
        print_list(&g);
    } else if (tb_streq(verb, "status")) {
        rc = print_status(&g, slurm) ? 1 : 0;
    } else if (tb_streq(verb, "sbatch")) {
        rc = slurm_write_and_submit(&g, bin, submit) ? 1 : 0;
    } else if (task >= g.n_runs) {
        tb_error("grid %s: --task %d: the grid has runs 0 to %d", g.path, task, g.n_runs - 1);
        rc = 2;
    } else {
        // cmd_train reports its own errors and returns its exit status; -1 is ours.
        rc = task >= 0 ? run_task(&g, task, threads) : run_pool(&g, workers, threads, progress_s);
        if (rc < 0) rc = 1;
        else goto out;
    }
    if (rc) tb_report();
out:
    grid_free(&g);
    return rc;
}
