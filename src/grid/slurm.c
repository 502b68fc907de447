// slurm.c: see slurm.h.
#include "slurm.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/backend.h"
#include "lib/common.h"

// An absolute form of path (which must exist), into out.
static int absolute(const char *path, char *out) {
    if (!realpath(path, out)) return tb_error("cannot resolve %s to an absolute path (does it exist?)", path);
    return 0;
}

// The runs of one experiment that still have work: the array's indices.
static int array_indices(const Grid *g, const char *experiment, char *out, size_t cap) {
    int n = 0;
    out[0] = '\0';
    for (int i = 0; i < g->n_runs; i++) {
        const GridRun *r = &g->runs[i];
        if (!tb_streq(r->experiment, experiment)) continue;
        RunStatus st;
        grid_run_status(g, r, &st);
        if (st.state == RUN_COMPLETED || st.state == RUN_DIVERGED) continue;
        if (st.state == RUN_MISMATCH) return tb_error("grid %s: %s: %s", g->name, r->run_id, st.detail);
        size_t used = strlen(out);
        if (used + 16 >= cap) return tb_error("grid %s: too many array tasks for one script", g->path);
        snprintf(out + used, cap - used, "%s%d", n ? "," : "", i);
        n++;
    }
    return n;
}

static int write_script(const Grid *g, const GridRun *first, const char *indices, const char *path,
                        const char *repo, const char *grid_abs, const char *results_abs, const char *binary_dir) {
    const BackendKind *kind = backend_kind(first->backend);
    if (!kind) return -1;
    char binary[PATH_MAX + 32];
    snprintf(binary, sizeof binary, "%s/%s", binary_dir, kind->binary);
    AtomicFile af;
    FILE *f = atomic_open(&af, path);
    if (!f) return -1;
    fprintf(f, "#!/bin/bash\n");
    fprintf(f, "# %s of the grid %s: one array task per run (its index in the grid).\n", first->experiment, g->path);
    fprintf(f, "# Written by `tunebench grid sbatch`; submit with: sbatch %s\n", path);
    fprintf(f, "#SBATCH --job-name=tb-%s-%s\n", g->name, first->experiment);
    fprintf(f, "#SBATCH --array=%s\n", indices);
    fprintf(f, "#SBATCH --ntasks=1\n");
    fprintf(f, "#SBATCH --cpus-per-task=%d\n", first->res.cpus);
    fprintf(f, "#SBATCH --mem=%s\n", first->res.mem);
    fprintf(f, "#SBATCH --time=%s\n", first->res.time);
    if (kind->on_device) fprintf(f, "#SBATCH --gres=gpu:1\n");
    if (g->partition[0]) fprintf(f, "#SBATCH --partition=%s\n", g->partition);
    if (g->account[0]) fprintf(f, "#SBATCH --account=%s\n", g->account);
    fprintf(f, "#SBATCH --output=%s/logs/slurm-%%A_%%a.out\n", results_abs);
    fprintf(f, "#SBATCH --chdir=%s\n", repo);
    // SIGTERM 120 s before the time limit, to the batch shell (B:), which
    // exec has made tunebench: the run checkpoints, and a later submission
    // resumes it.
    fprintf(f, "#SBATCH --signal=B:TERM@120\n");
    fprintf(f, "exec '%s' grid run '%s' --task \"$SLURM_ARRAY_TASK_ID\" --threads \"${SLURM_CPUS_PER_TASK:-1}\"\n",
            binary, grid_abs);
    return atomic_commit(&af);
}

int slurm_write_and_submit(const Grid *g, const char *binary_dir, int submit) {
    char dir[1100], logs[1100];
    snprintf(dir, sizeof dir, "%s/slurm", g->results);
    snprintf(logs, sizeof logs, "%s/logs", g->results);
    if (tb_mkdirs(dir) || tb_mkdirs(logs)) return -1;
    char repo[PATH_MAX], grid_abs[PATH_MAX], results_abs[PATH_MAX], bin_abs[PATH_MAX];
    if (!getcwd(repo, sizeof repo)) return tb_error("cannot read the working directory");
    if (absolute(g->path, grid_abs) || absolute(g->results, results_abs) || absolute(binary_dir, bin_abs)) return -1;
    int scripts = 0, tasks = 0;
    for (int i = 0; i < g->n_runs; i++) {
        const GridRun *r = &g->runs[i];
        int seen = 0;  // one script per experiment, at its first run
        for (int j = 0; j < i && !seen; j++) seen = tb_streq(g->runs[j].experiment, r->experiment);
        if (seen) continue;
        char indices[16384];
        int n = array_indices(g, r->experiment, indices, sizeof indices);
        if (n < 0) return -1;
        if (n == 0) {
            printf("grid %s: %s: every run is finished; no job\n", g->name, r->experiment);
            continue;
        }
        char path[1300];
        snprintf(path, sizeof path, "%s/%s.sbatch", dir, r->experiment);
        if (write_script(g, r, indices, path, repo, grid_abs, results_abs, bin_abs)) return -1;
        scripts++, tasks += n;
        if (!submit) {
            printf("grid %s: wrote %s (%d array tasks)\n", g->name, path, n);
            continue;
        }
        char cmd[1500], out[256] = "";
        snprintf(cmd, sizeof cmd, "sbatch --parsable '%s' 2>&1", path);
        FILE *p = popen(cmd, "r");
        if (!p) return tb_error("cannot run sbatch (is Slurm installed? scripts/deps.sh slurm)");
        size_t got = fread(out, 1, sizeof out - 1, p);
        out[got] = '\0';
        int rc = pclose(p);
        out[strcspn(out, "\n")] = '\0';
        if (rc != 0) return tb_error("sbatch %s failed: %s", path, out[0] ? out : "(no output)");
        char *semi = strchr(out, ';');  // "<job id>;<cluster>" on a federation
        if (semi) *semi = '\0';
        char jobs[1200];
        snprintf(jobs, sizeof jobs, "%s/jobs.txt", dir);
        FILE *j = fopen(jobs, "a");
        if (!j || fprintf(j, "%s %s\n", out, r->experiment) < 0 || fclose(j) != 0)
            return tb_error("cannot append to %s", jobs);
        printf("grid %s: submitted %s as job %s (%d array tasks; logs %s/logs/slurm-%s_<task>.out)\n", g->name, path,
               out, n, g->results, out);
    }
    if (scripts == 0) printf("grid %s: all %d runs are finished; nothing to submit\n", g->name, g->n_runs);
    else printf("grid %s: %d runs in %d script%s%s\n", g->name, tasks, scripts, scripts == 1 ? "" : "s",
                submit ? "; follow them with make grid-status SCHEDULER=slurm" : "");
    return 0;
}

int slurm_queue_states(const Grid *g, char (*state)[16]) {
    for (int i = 0; i < g->n_runs; i++) state[i][0] = '\0';
    char jobs_path[1200];
    snprintf(jobs_path, sizeof jobs_path, "%s/slurm/jobs.txt", g->results);
    FILE *jf = fopen(jobs_path, "r");
    if (!jf) return 0;  // nothing submitted
    char ids[4096] = "", line[256];
    while (fgets(line, sizeof line, jf)) {
        char id[64];
        if (sscanf(line, "%63[0-9]", id) != 1) continue;
        size_t used = strlen(ids);
        if (used + strlen(id) + 2 < sizeof ids) snprintf(ids + used, sizeof ids - used, "%s%s", used ? "," : "", id);
    }
    fclose(jf);
    if (!ids[0]) return 0;
    char cmd[4300];
    // One line per array task (-r): "<job>_<task> <state>".
    snprintf(cmd, sizeof cmd, "squeue -h -r -j %s -o '%%i %%T' 2>&1", ids);
    FILE *p = popen(cmd, "r");
    if (!p) return tb_error("cannot run squeue");
    int held = 0;
    char first[256] = "";
    while (fgets(line, sizeof line, p)) {
        if (!first[0]) snprintf(first, sizeof first, "%s", line);
        int task;
        char st[32];
        if (sscanf(line, "%*[0-9]_%d %31s", &task, st) == 2 && task >= 0 && task < g->n_runs) {
            snprintf(state[task], sizeof state[0], "%.15s", st);
            held++;
        }
    }
    int rc = pclose(p);
    // squeue fails on job ids it no longer knows (all finished long ago): not an error for the grid.
    if (rc != 0 && !strstr(first, "Invalid job id")) {
        first[strcspn(first, "\n")] = '\0';
        return tb_error("squeue failed: %s", first[0] ? first : "(no output)");
    }
    return held;
}
