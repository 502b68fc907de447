// common.c: errors, atomic files, time, hashing and the RNG (see common.h).
#define _POSIX_C_SOURCE 200809L
#include "lib/common.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

// ---------------------------------------------------------------- errors

static _Thread_local char error_line[1024];

int tb_error(const char *fmt, ...) {
    char raw[sizeof error_line];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    // An error is one line, also when it quotes input (a key, a tensor
    // name, a value) that holds a newline or another control character:
    // those are written as C escapes (\n, \x01).
    size_t o = 0;
    for (const unsigned char *c = (const unsigned char *)raw; *c && o + 5 < sizeof error_line; c++) {
        if (*c >= 0x20 && *c != 0x7f) error_line[o++] = (char)*c;
        else if (*c == '\n') error_line[o++] = '\\', error_line[o++] = 'n';
        else if (*c == '\r') error_line[o++] = '\\', error_line[o++] = 'r';
        else if (*c == '\t') error_line[o++] = '\\', error_line[o++] = 't';
        else o += (size_t)snprintf(error_line + o, sizeof error_line - o, "\\x%02x", *c);
    }
    error_line[o] = '\0';
    return -1;
}

const char *tb_last_error(void) { return error_line[0] ? error_line : "unknown error"; }
void tb_clear_error(void) { error_line[0] = '\0'; }
void tb_report(void) { fprintf(stderr, "tunebench: error: %s\n", tb_last_error()); }

static char oom_hint[256];

void tb_set_oom_hint(const char *hint) { snprintf(oom_hint, sizeof oom_hint, "%s", hint ? hint : ""); }

void tb_die(const char *fmt, ...) {
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    // Allocation failures (tb_malloc's, and the backends' "out of memory" /
    // "cannot allocate" lines) say what the user can change.
    int oom = strncmp(line, "out of memory", 13) == 0 || strncmp(line, "cannot allocate", 15) == 0;
    fprintf(stderr, "tunebench: error: %s%s%s\n", line, oom && oom_hint[0] ? "; " : "", oom ? oom_hint : "");
    exit(1);
}

void *tb_malloc(size_t bytes) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p) tb_die("out of memory allocating %zu bytes", bytes);
    return p;
}

void *tb_calloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) tb_die("out of memory allocating %zu x %zu bytes", n, size);
    return p;
}

char *tb_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = tb_malloc(n);
    memcpy(d, s, n);
    return d;
}

// ---------------------------------------------------------------- files

char *tb_read_file(const char *path, size_t *len_out) {
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        tb_error("cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = tb_malloc(cap + 1);
    for (;;) {
        size_t got = fread(buf + len, 1, cap - len, fp);
        len += got;
        if (len < cap) break;
        cap *= 2;
        char *bigger = realloc(buf, cap + 1);
        if (!bigger) tb_die("out of memory reading %s", path);
        buf = bigger;
    }
    int failed = ferror(fp);
    fclose(fp);
    if (failed) {
        free(buf);
        tb_error("cannot read %s: I/O error", path);
        return NULL;
    }
    buf[len] = '\0';
    if (len_out) *len_out = len;
    return buf;
}

FILE *atomic_open(AtomicFile *af, const char *path) {
    memset(af, 0, sizeof *af);
    if (strlen(path) + 32 >= sizeof af->tmp_path) {
        tb_error("path too long: %s", path);
        return NULL;
    }
    snprintf(af->path, sizeof af->path, "%s", path);
    snprintf(af->tmp_path, sizeof af->tmp_path, "%s.tmp.%ld", path, (long)getpid());
    // O_NOFOLLOW: a link planted at the temporary name is refused, not
    // written through (rename() then replaces the target itself, never what
    // a link there points to).
    int fd = open(af->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        if (errno == ELOOP) tb_refuse_symlink(af->tmp_path, "the temporary file");
        else
            tb_error("cannot create %s: %s (check the folder exists and is writable)", af->tmp_path,
                     strerror(errno));
        af->tmp_path[0] = '\0';  // not ours: atomic_abort must not remove it
        return NULL;
    }
    af->fp = fdopen(fd, "wb");
    if (!af->fp) {
        close(fd);
        unlink(af->tmp_path);
        tb_error("cannot open %s: %s", af->tmp_path, strerror(errno));
        return NULL;
    }
    return af->fp;
}

int atomic_commit(AtomicFile *af) {
    if (!af->fp) return tb_error("atomic_commit on a closed file (%s)", af->path);
    int failed = fflush(af->fp) != 0 || ferror(af->fp);
    int saved_errno = errno;
    if (!failed && fsync(fileno(af->fp)) != 0) failed = 1, saved_errno = errno;
    if (fclose(af->fp) != 0 && !failed) failed = 1, saved_errno = errno;
    af->fp = NULL;
    if (failed) {
        unlink(af->tmp_path);
        return tb_error("cannot write %s: %s (is the disk full?); the previous file is unchanged",
                        af->path, strerror(saved_errno ? saved_errno : EIO));
    }
    if (rename(af->tmp_path, af->path) != 0) {
        saved_errno = errno;
        unlink(af->tmp_path);
        return tb_error("cannot rename %s to %s: %s", af->tmp_path, af->path, strerror(saved_errno));
    }
    return 0;
}

void atomic_abort(AtomicFile *af) {
    if (af->fp) fclose(af->fp);
    af->fp = NULL;
    if (af->tmp_path[0]) unlink(af->tmp_path);
}

int tb_write_file_atomic(const char *path, const void *data, size_t len) {
    AtomicFile af;
    FILE *fp = atomic_open(&af, path);
    if (!fp) return -1;
    if (len && fwrite(data, 1, len, fp) != len) {
        int e = errno;
        atomic_abort(&af);
        return tb_error("cannot write %s: %s (is the disk full?)", path, strerror(e));
    }
    return atomic_commit(&af);
}

int tb_mkdirs(const char *path) {
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) return tb_error("bad directory path '%s'", path);
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char saved = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return tb_error("cannot create directory %s: %s", buf, strerror(errno));
            buf[i] = saved;
        }
    }
    if (!tb_dir_exists(path)) return tb_error("%s exists and is not a directory", path);
    return 0;
}

int tb_refuse_symlink(const char *path, const char *what) {
    struct stat st;
    if (lstat(path, &st) != 0 || !S_ISLNK(st.st_mode)) return 0;
    return tb_error("%s %s is a symbolic link: tunebench never writes or removes through a link (remove the link, "
                    "or point the results folder itself at the other disk)", what, path);
}

int tb_remove_flat_dir(const char *dir) {
    // O_NOFOLLOW: a link in place of the folder is refused, never followed
    // (following it would remove the files of the folder it points to).
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return 0;
        if (tb_refuse_symlink(dir, "the folder")) return -1;
        return tb_error("cannot open %s: %s", dir, strerror(errno));
    }
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return tb_error("cannot open %s: %s", dir, strerror(errno));
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        // Files and links are unlinked (a link itself, never its target);
        // a folder inside makes rmdir below fail with a clear error.
        struct stat st;
        if (fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode))
            unlinkat(fd, e->d_name, 0);
    }
    closedir(d);
    if (rmdir(dir) != 0)
        return tb_error("cannot remove %s: %s (it holds more than files?)", dir, strerror(errno));
    return 0;
}

static void fsync_path(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

static void parent_dir(char *out, size_t cap, const char *path) {
    snprintf(out, cap, "%s", path);
    char *slash = strrchr(out, '/');
    if (!slash) snprintf(out, cap, ".");
    else if (slash == out) out[1] = '\0';
    else *slash = '\0';
}

int tb_replace_dir(const char *tmp, const char *dir) {
    if (tb_refuse_symlink(dir, "the folder") || tb_refuse_symlink(tmp, "the temporary folder")) return -1;
    fsync_path(tmp);
    if (tb_dir_exists(dir)) {
        if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dir, RENAME_EXCHANGE) == 0) {
            tb_remove_flat_dir(tmp);  // the old folder, now under the temporary name
        } else {
            // No atomic exchange on this filesystem: move the old one aside first.
            char old[4096 + 16];
            snprintf(old, sizeof old, "%s.old.%ld", dir, (long)getpid());
            if (rename(dir, old) != 0 || rename(tmp, dir) != 0) {
                int e = errno;
                if (!tb_dir_exists(dir)) rename(old, dir);
                tb_remove_flat_dir(tmp);
                return tb_error("cannot move the new %s into place: %s", dir, strerror(e));
            }
            tb_remove_flat_dir(old);
        }
    } else if (rename(tmp, dir) != 0) {
        int e = errno;
        tb_remove_flat_dir(tmp);
        return tb_error("cannot move the new %s into place: %s", dir, strerror(e));
    }
    char parent[4096];
    parent_dir(parent, sizeof parent, dir);
    fsync_path(parent);
    return 0;
}

int tb_file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int tb_dir_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

// ---------------------------------------------------------------- JSON out

// Length of the well-formed UTF-8 sequence at p, or 0 if it is not one.
static int utf8_sequence(const unsigned char *p) {
    unsigned c = p[0];
    if (c < 0x80) return 1;
    int n;
    unsigned lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c == 0xE0) n = 3, lo = 0xA0;                   // no overlong forms
    else if (c == 0xED) n = 3, hi = 0x9F;                   // no surrogates
    else if (c >= 0xE1 && c <= 0xEF) n = 3;
    else if (c == 0xF0) n = 4, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3) n = 4;
    else if (c == 0xF4) n = 4, hi = 0x8F;                   // nothing above U+10FFFF
    else return 0;
    if (p[1] < lo || p[1] > hi) return 0;
    for (int i = 2; i < n; i++)
        if ((p[i] & 0xC0) != 0x80) return 0;  // stops at the NUL too
    return n;
}

size_t tb_utf8_invalid_at(const char *s, size_t len) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        if (p[i] == 0) return i;  // JSON text holds no NUL byte
        unsigned char seq[5] = {0};  // NUL-padded: utf8_sequence stops there, inside s
        memcpy(seq, p + i, len - i < 4 ? len - i : 4);
        int n = utf8_sequence(seq);
        if (n == 0 || (size_t)n > len - i) return i;
        i += (size_t)n;
    }
    return len;
}

void tb_utf8_clean(char *s) {
    unsigned char *p = (unsigned char *)s;
    while (*p) {
        int n = utf8_sequence(p);
        if (n == 0) *p++ = '?';
        else p += n;
    }
}

static void clean_tree(cJSON *item) {
    for (; item; item = item->next) {
        if (item->string && !(item->type & cJSON_StringIsConst)) tb_utf8_clean(item->string);
        if (cJSON_IsString(item) && item->valuestring) tb_utf8_clean(item->valuestring);
        if (item->child) clean_tree(item->child);
    }
}

char *tb_json_print(cJSON *root, int formatted) {
    if (!root) return NULL;
    clean_tree(root->child);
    if (cJSON_IsString(root) && root->valuestring) tb_utf8_clean(root->valuestring);
    char *text = formatted ? cJSON_Print(root) : cJSON_PrintUnformatted(root);
    if (!text) return NULL;
    size_t n = strlen(text);
    char *out = realloc(text, n + 2);
    if (!out) {
        free(text);
        return NULL;
    }
    out[n] = '\n', out[n + 1] = '\0';
    return out;
}

int tb_json_write(const char *path, cJSON *root) {
    char *text = tb_json_print(root, 1);
    if (!text) return tb_error("cannot format the JSON for %s (out of memory)", path);
    int rc = tb_write_file_atomic(path, text, strlen(text));
    free(text);
    return rc;
}

// ---------------------------------------------------------------- time

double tb_now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void tb_cpu_sample(TbCpuSample *s) {
    memset(s, 0, sizeof *s);
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        s->process_s = (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
                       (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
    // The first line: cpu user nice system idle iowait irq softirq steal ...
    // (guest time is already inside user), in clock ticks.
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return;
    unsigned long long v[8] = {0};
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                   &v[6], &v[7]);
    fclose(f);
    long hz = sysconf(_SC_CLK_TCK);
    if (n < 8 || hz <= 0) return;
    double tick = 1.0 / (double)hz;
    s->host_busy_s = tick * (double)(v[0] + v[1] + v[2] + v[5] + v[6]);
    s->host_steal_s = tick * (double)v[7];
    s->host_total_s = tick * (double)(v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7]);
    s->host_ok = 1;
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double tb_median(double *x, int n) {
    if (n <= 0) return NAN;
    qsort(x, (size_t)n, sizeof *x, compare_doubles);
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

// ---------------------------------------------------------------- hashing

uint64_t tb_hash64(const void *data, size_t len, uint64_t seed) {
    const unsigned char *p = data;
    uint64_t h = seed;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

// ---------------------------------------------------------------- sequences
size_t tb_edit_distance(const uint64_t *a, size_t n, const uint64_t *b, size_t m) {
    // row is (m+1,): the previous row of the DP table, updated in place.
    size_t *row = tb_malloc((m + 1) * sizeof *row);
    for (size_t j = 0; j <= m; j++) row[j] = j;
    for (size_t i = 1; i <= n; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= m; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    size_t d = row[m];
    free(row);
    return d;
}

// ---------------------------------------------------------------- random

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void rng_seed(Rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t rng_u64(Rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint32_t rng_below(Rng *r, uint32_t n) {
    if (n <= 1) return 0;
    uint32_t limit = (uint32_t)(-n) % n;  // 2^32 mod n: reject the biased tail
    for (;;) {
        uint32_t x = (uint32_t)(rng_u64(r) >> 32);
        if (x >= limit) return x % n;
    }
}

float rng_uniform(Rng *r) { return (float)(rng_u64(r) >> 40) * (1.0f / 16777216.0f); }

float rng_normal(Rng *r) {
    // Box-Muller; u1 in (0, 1] so that log() is finite.
    double u1 = ((double)(rng_u64(r) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
    double u2 = (double)(rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

// ---------------------------------------------------------------- misc

int tb_num_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

int tb_streq(const char *a, const char *b) { return a && b && strcmp(a, b) == 0; }

static int compare_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

char **tb_list_dir(const char *dir, const char *suffix, size_t *count) {
    *count = 0;
    DIR *d = opendir(dir);
    if (!d) return NULL;
    char **names = NULL;
    size_t n = 0, cap = 0, slen = strlen(suffix);
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len <= slen || strcmp(e->d_name + len - slen, suffix) != 0) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            names = realloc(names, cap * sizeof *names);
            if (!names) tb_die("out of memory listing %s", dir);
        }
        names[n++] = tb_strdup(e->d_name);
    }
    closedir(d);
    if (n > 1) qsort(names, n, sizeof *names, compare_names);
    *count = n;
    return names ? names : tb_calloc(1, sizeof *names);
}

void tb_free_names(char **names, size_t count) {
    for (size_t i = 0; i < count; i++) free(names[i]);
    free(names);
}
