// environment.c: collects the facts about the machine and the build that a
// reader needs to trust (or reproduce) a measurement.
#include "environment.h"

#include <cblas.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "kernels/backend.h"
#include "lib/common.h"

// mk/runner.mk passes the flags this file was compiled with.
#ifndef TB_BUILD_CFLAGS
#define TB_BUILD_CFLAGS "unknown"
#endif

// First line of a command's output, without the newline; 0 on success.
static int command_line(const char *cmd, char *out, size_t cap) {
    out[0] = '\0';
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    int got = fgets(out, (int)cap, p) != NULL;
    int rc = pclose(p);
    out[strcspn(out, "\n")] = '\0';
    return got && rc == 0 ? 0 : -1;
}

static void cpu_model(char *out, size_t cap) {
    snprintf(out, cap, "unknown");
    FILE *fp = fopen("/proc/cpuinfo", "r");
    if (!fp) return;
    char line[512];
    while (fgets(line, sizeof line, fp)) {
        if (strncmp(line, "model name", 10) == 0) {
            const char *colon = strchr(line, ':');
            if (colon) {
                colon++;
                while (*colon == ' ' || *colon == '\t') colon++;
                snprintf(out, cap, "%s", colon);
                out[strcspn(out, "\n")] = '\0';
            }
            break;
        }
    }
    fclose(fp);
}

cJSON *environment_json(const char *backend_name) {
    cJSON *env = cJSON_CreateObject();
    char buf[512];
    if (command_line("git rev-parse HEAD 2>/dev/null", buf, sizeof buf) == 0) {
        cJSON_AddStringToObject(env, "git_commit", buf);
        // Dirty = tracked files outside results/ differ from the commit: the
        // source, configs and corpus lists. Untracked files and the run
        // outputs under results/ don't count (make reference replaces the
        // committed records of the set it reruns).
        FILE *p = popen("git status --porcelain --untracked-files=no -- . ':(exclude)results' 2>/dev/null", "r");
        int dirty = p && fgetc(p) != EOF;
        if (p) pclose(p);
        cJSON_AddBoolToObject(env, "git_dirty", dirty);
    } else {
        cJSON_AddNullToObject(env, "git_commit");
        cJSON_AddNullToObject(env, "git_dirty");
    }
#if defined(__clang__)
    cJSON_AddStringToObject(env, "compiler", "clang " __clang_version__);
#elif defined(__GNUC__)
    cJSON_AddStringToObject(env, "compiler", "gcc " __VERSION__);
#else
    cJSON_AddStringToObject(env, "compiler", "unknown");
#endif
    cJSON_AddStringToObject(env, "cflags", TB_BUILD_CFLAGS);
    cpu_model(buf, sizeof buf);
    cJSON_AddStringToObject(env, "cpu_model", buf);
    cJSON_AddNumberToObject(env, "cpu_cores", (double)sysconf(_SC_NPROCESSORS_ONLN));
    cJSON_AddNumberToObject(env, "threads", tb_num_threads());
    const char *blas = openblas_get_config();
    snprintf(buf, sizeof buf, "%s (threads %d)", blas ? blas : "OpenBLAS", openblas_get_num_threads());
    cJSON_AddStringToObject(env, "blas", buf);
    const char *wait = getenv("OMP_WAIT_POLICY"), *spin = getenv("GOMP_SPINCOUNT");
    cJSON_AddStringToObject(env, "omp_wait_policy", wait ? wait : "default");
    cJSON_AddItemToObject(env, "gomp_spincount", spin ? cJSON_CreateString(spin) : cJSON_CreateNull());
    cJSON_AddStringToObject(env, "backend", backend_name);
    const Backend *be = backend_by_name(backend_name);
    BackendInfo info;
    if (be) be->describe(&info);
    if (be && !be->on_host) cJSON_AddStringToObject(env, "gpu", info.device);
    else
        cJSON_AddNullToObject(env, "gpu");
    // What the linear layers computed in, as the backend says (set_precision),
    // and how: its description names the bf16 GEMM on the CPU.
    if (be) {
        cJSON_AddStringToObject(env, "precision", info.precision);
        cJSON_AddStringToObject(env, "backend_device", info.device);
    }
    struct utsname u;
    if (uname(&u) == 0) snprintf(buf, sizeof buf, "%s %s %s", u.sysname, u.release, u.machine);
    else snprintf(buf, sizeof buf, "unknown");
    cJSON_AddStringToObject(env, "os", buf);
    cJSON_AddStringToObject(env, "tunebench_version", TB_VERSION);
    return env;
}

void environment_thread_policy(char *out, size_t cap) {
    const char *wait = getenv("OMP_WAIT_POLICY"), *spin = getenv("GOMP_SPINCOUNT");
    if (spin)
        snprintf(out, cap, "threads: idle OpenMP threads spin for GOMP_SPINCOUNT=%s%s%s, then sleep; "
                 "OMP_WAIT_POLICY=ACTIVE spins always (only on cores of its own), PASSIVE never", spin,
                 wait ? " under OMP_WAIT_POLICY=" : "", wait ? wait : "");
    else if (wait && strcasecmp(wait, "ACTIVE") == 0)
        snprintf(out, cap, "threads: idle OpenMP threads spin (OMP_WAIT_POLICY=ACTIVE): fastest on cores of its "
                 "own, many times slower beside other work; unset it for a bounded spin");
    else if (wait && strcasecmp(wait, "PASSIVE") == 0)
        snprintf(out, cap, "threads: idle OpenMP threads sleep (OMP_WAIT_POLICY=PASSIVE); unset it for a bounded "
                 "spin, a little faster on cores of its own");
    else
        snprintf(out, cap, "threads: the OpenMP runtime's own wait policy (OMP_WAIT_POLICY=%s)", wait ? wait : "unset");
}

size_t environment_peak_rss_bytes(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (size_t)ru.ru_maxrss * 1024;  // Linux reports kilobytes
}
