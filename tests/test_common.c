// test_common.c: atomic files, the RNG and the error line.
#include "../src/common.h"
#include "test.h"

#include <unistd.h>

int main(void) {
    // The RNG is deterministic from its seed and rng_below stays in range.
    Rng a, b, c;
    rng_seed(&a, 42);
    rng_seed(&b, 42);
    rng_seed(&c, 7);
    int same = 1, in_range = 1;
    for (int i = 0; i < 1000; i++) {
        if (rng_u64(&a) != rng_u64(&b)) same = 0;
        if (rng_below(&c, 7) >= 7) in_range = 0;
    }
    CHECK(same, "two generators with one seed diverged");
    CHECK(in_range, "rng_below(7) left [0, 7)");
    double sum = 0, sumsq = 0;
    for (int i = 0; i < 100000; i++) {
        float x = rng_normal(&a);
        sum += x, sumsq += (double)x * x;
    }
    CHECK(fabs(sum / 1e5) < 0.02 && fabs(sumsq / 1e5 - 1.0) < 0.02, "rng_normal mean %g var %g",
          sum / 1e5, sumsq / 1e5);

    // Atomic writes replace the file whole; an aborted write leaves the old one.
    char dir[] = "/tmp/tb_test_common_XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    char path[256];
    snprintf(path, sizeof path, "%s/out.txt", dir);
    CHECK(tb_write_file_atomic(path, "first", 5) == 0, "first write: %s", tb_last_error());
    AtomicFile af;
    FILE *fp = atomic_open(&af, path);
    CHECK(fp != NULL, "atomic_open");
    if (fp) fputs("second, never committed", fp), atomic_abort(&af);
    size_t len = 0;
    char *text = tb_read_file(path, &len);
    CHECK(text && len == 5 && memcmp(text, "first", 5) == 0, "aborted write changed the file");
    free(text);
    CHECK(access(af.tmp_path, F_OK) != 0, "aborted write left %s behind", af.tmp_path);
    unlink(path);
    rmdir(dir);

    // Errors name what failed.
    CHECK(tb_read_file("/nonexistent/tunebench", NULL) == NULL, "reading a missing file succeeded");
    CHECK(strstr(tb_last_error(), "/nonexistent/tunebench") != NULL, "error does not name the path: %s",
          tb_last_error());

    double xs[] = {5, 1, 4, 2, 3};
    CHECK(tb_median(xs, 5) == 3.0, "median");
    return test_summary("test_common");
}
