// test.h: the few checks every tunebench test uses. Include once per test
// program. Every check counts; test_summary() prints "<name>: N passed,
// N failed" (and ", N skipped" when a SKIP was counted) and returns the exit
// status, non-zero on any failure.
#ifndef TB_TEST_H
#define TB_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_passed, test_failed, test_skipped;

// A check that cannot run here (a tool is missing): counted as skipped,
// with a line saying why ("SKIP <file>:<line>: <reason>"), which
// tests/run_all.sh repeats.
#define SKIP(...)                                                     \
    do {                                                              \
        test_skipped++;                                               \
        fprintf(stderr, "SKIP %s:%d: ", __FILE__, __LINE__);         \
        fprintf(stderr, __VA_ARGS__);                                 \
        fputc('\n', stderr);                                          \
    } while (0)

#define CHECK(cond, ...)                                              \
    do {                                                              \
        if (cond) {                                                   \
            test_passed++;                                            \
        } else {                                                      \
            test_failed++;                                            \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);     \
            fprintf(stderr, __VA_ARGS__);                             \
            fputc('\n', stderr);                                      \
        }                                                             \
    } while (0)

// Per-tensor closeness: |a - b| <= atol + rtol * |ref| for every element.
// Prints the worst element on failure. Counts as one check.
static inline int check_close(const char *what, const float *got, const float *ref, size_t n,
                       float atol, float rtol) {
    size_t worst = 0, bad = 0;
    double worst_excess = -1.0;
    for (size_t i = 0; i < n; i++) {
        double diff = fabs((double)got[i] - (double)ref[i]);
        double allowed = atol + rtol * fabs((double)ref[i]);
        int ok = diff <= allowed;  // false for NaN
        if (!ok) bad++;
        double excess = ok ? diff - allowed : INFINITY;
        if (!isnan(diff) && excess > worst_excess) worst_excess = excess, worst = i;
        if (isnan(diff) && worst_excess != INFINITY) worst_excess = INFINITY, worst = i;
    }
    if (bad == 0) {
        test_passed++;
        return 1;
    }
    test_failed++;
    fprintf(stderr, "FAIL %s: %zu of %zu elements off; worst [%zu] got %.9g ref %.9g (atol %g rtol %g)\n",
            what, bad, n, worst, (double)got[worst], (double)ref[worst], atol, rtol);
    return 0;
}

static inline int test_summary(const char *name) {
    if (test_skipped) printf("%s: %d passed, %d failed, %d skipped\n", name, test_passed, test_failed, test_skipped);
    else printf("%s: %d passed, %d failed\n", name, test_passed, test_failed);
    return test_failed ? 1 : 0;
}

// The tunebench binary of the build a test program belongs to:
// <build>/tunebench for <build>/tests/test_x (build/tunebench otherwise), so
// that the sanitizer build's tests run the sanitizer build's binary.
#define TEST_TUNEBENCH_CAP 512
static inline char *test_tunebench(void) {
    static char path[TEST_TUNEBENCH_CAP] = "build/tunebench";
    return path;
}
static inline void test_find_tunebench(const char *argv0) {
    const char *tests_dir = strstr(argv0, "/tests/");
    if (tests_dir) snprintf(test_tunebench(), TEST_TUNEBENCH_CAP, "%.*s/tunebench", (int)(tests_dir - argv0), argv0);
}

#endif
