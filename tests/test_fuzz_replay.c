// test_fuzz_replay.c: every input in the fuzz corpora (tests/fuzz/<target>/:
// the inputs that crashed a reader or broke an invariant when `make fuzz`
// found them, and the seeds) goes through the same entry point as in the
// fuzzer (tests/fuzz/targets.c), so that a fixed crash stays fixed. Under
// `make test-sanitize` ASan and UBSan watch each replay, as libFuzzer did.
#include <dirent.h>
#include <unistd.h>

#include "fuzz/targets.c"
#include "test.h"

static void replay(const char *name, int (*entry)(const uint8_t *, size_t)) {
    char dir[256];
    snprintf(dir, sizeof dir, "tests/fuzz/%s", name);
    DIR *d = opendir(dir);
    CHECK(d != NULL, "no corpus folder %s", dir);
    if (!d) return;
    int files = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[600];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t len = 0;
        char *bytes = tb_read_file(path, &len);
        CHECK(bytes != NULL, "%s: %s", path, tb_last_error());
        if (!bytes) continue;
        // An exact copy, so that reading past the input is seen by ASan
        // (tb_read_file's buffer is larger and ends in a NUL).
        uint8_t *input = tb_malloc(len ? len : 1);
        memcpy(input, bytes, len);
        free(bytes);
        CHECK(entry(input, len) == 0, "%s: an invariant of fuzz_%s is broken", path, name);
        free(input);
        files++;
    }
    closedir(d);
    CHECK(files > 0, "the corpus %s is empty", dir);
    printf("  fuzz_%s: %d inputs replayed\n", name, files);
}

int main(void) {
    // An input that hangs a reader (libFuzzer's timeout- files) fails the
    // test in bounded time instead of stalling `make test`.
    alarm(300);
#define FUZZ_TARGET(name, what) replay(#name, fuzz_##name);
#include "fuzz/targets.def"
#undef FUZZ_TARGET
    return test_summary("test_fuzz_replay");
}
