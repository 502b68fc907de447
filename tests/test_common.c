// test_common.c: atomic files, the RNG, the error line, the UTF-8 cleaning
// of every JSON writer, and replacing a folder whole.
#include "lib/common.h"
#include "test.h"

#include <cjson/cJSON.h>
#include <unistd.h>

// tb_utf8_clean: RFC 3629 sequences stay, every other byte becomes '?'.
static void test_utf8(void) {
    static const struct { const char *in, *out; } cases[] = {
        {"plain ABC |: GABc :|", "plain ABC |: GABc :|"},
        {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9d\x84\x9e", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9d\x84\x9e"},  // 2, 3, 4 bytes
        {"T:\xff\xfe title", "T:?? title"},                 // never valid
        {"\xc0\xaf \xe0\x80\xaf", "?? ???"},             // overlong forms of '/'
        {"\xed\xa0\x80", "???"},                          // a surrogate (U+D800)
        {"\xf4\x90\x80\x80 \xf5\x80", "???? ??"},       // above U+10FFFF
        {"cut \xe2\x82", "cut ??"},                        // a sequence cut short by the end
        {"\x80 lone", "? lone"},                            // a lone continuation byte
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[64];
        snprintf(buf, sizeof buf, "%s", cases[i].in);
        tb_utf8_clean(buf);
        CHECK(strcmp(buf, cases[i].out) == 0, "utf8 case %zu: got '%s'", i, buf);
    }
    // tb_json_print cleans values and keys, in nested objects and arrays too.
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "title", "A \xff tune");
    cJSON *arr = cJSON_AddArrayToObject(root, "list");
    cJSON_AddItemToArray(arr, cJSON_CreateString("\xfe"));
    cJSON *inner = cJSON_AddObjectToObject(root, "k\xc0y");
    cJSON_AddNumberToObject(inner, "n", 1);
    char *text = tb_json_print(root, 0);
    cJSON_Delete(root);
    CHECK(text && strcmp(text, "{\"title\":\"A ? tune\",\"list\":[\"?\"],\"k?y\":{\"n\":1}}\n") == 0,
          "tb_json_print: %s", text ? text : "(null)");
    free(text);
}

// tb_replace_dir puts a folder in place whole, over an existing one or not.
static void test_replace_dir(void) {
    char dir[] = "/tmp/tb_test_replace_XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    char target[300], tmp[300], path[400];
    snprintf(target, sizeof target, "%s/style", dir);
    for (int round = 0; round < 2; round++) {
        snprintf(tmp, sizeof tmp, "%s/style.tmp", dir);
        tb_mkdirs(tmp);
        snprintf(path, sizeof path, "%s/file", tmp);
        tb_write_file_atomic(path, round ? "new" : "old", 3);
        CHECK(tb_replace_dir(tmp, target) == 0, "replace round %d: %s", round, tb_last_error());
        snprintf(path, sizeof path, "%s/file", target);
        char *text = tb_read_file(path, NULL);
        CHECK(text && strcmp(text, round ? "new" : "old") == 0 && !tb_dir_exists(tmp), "round %d", round);
        free(text);
    }
    CHECK(tb_remove_flat_dir(target) == 0 && !tb_dir_exists(target), "remove: %s", tb_last_error());
    rmdir(dir);
}

// An error quoting input stays one line: control characters are escaped.
static void test_error_line(void) {
    tb_error("%s: unknown key '%s'", "cfg.json", "a\nb\r\x01\tc");
    CHECK(strcmp(tb_last_error(), "cfg.json: unknown key 'a\\nb\\r\\x01\\tc'") == 0, "escaped error: %s",
          tb_last_error());
    char longer[3000];
    memset(longer, '\n', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    tb_error("%s", longer);
    CHECK(!strchr(tb_last_error(), '\n') && strlen(tb_last_error()) > 1000, "a long error of newlines: %zu bytes",
          strlen(tb_last_error()));
}

// tb_list_dir: the names with the suffix, sorted, hidden ones and the bare
// suffix left out; an empty folder is an empty list, a missing one NULL.
static void test_list_dir(void) {
    char dir[] = "/tmp/tb_test_list_dir_XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    const char *files[] = {"b.abc", "a.abc", ".hidden.abc", ".abc", "c.txt", "sub.abc"};
    char path[256];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        CHECK(tb_write_file_atomic(path, "x", 1) == 0, "write %s", path);
    }
    size_t n;
    char **names = tb_list_dir(dir, ".abc", &n);
    CHECK(names && n == 3 && !strcmp(names[0], "a.abc") && !strcmp(names[1], "b.abc") &&
              !strcmp(names[2], "sub.abc"),
          "tb_list_dir .abc: %zu names", n);
    tb_free_names(names, n);
    names = tb_list_dir(dir, "", &n);
    CHECK(names && n == 4 && !strcmp(names[3], "sub.abc"), "tb_list_dir all: %zu names", n);
    tb_free_names(names, n);
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    names = tb_list_dir(dir, ".abc", &n);
    CHECK(names && n == 0, "an empty folder is an empty list");
    tb_free_names(names, n);
    rmdir(dir);
    CHECK(tb_list_dir(dir, "", &n) == NULL && n == 0, "a missing folder is NULL");
}

int main(void) {
    test_error_line();
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
    test_utf8();
    test_replace_dir();
    test_list_dir();
    return test_summary("test_common");
}
