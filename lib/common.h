// common.h: small utilities every part of tunebench shares.
//
// Errors. Library code never exits: a function that can fail returns a
// non-zero int (or NULL) after calling tb_error("what, where, how to fix"),
// which stores one line in a per-thread buffer. The CLI prints it with
// tb_report() and exits non-zero. Tests read it with tb_last_error().
//
// Files. Every output is written through AtomicFile: a temporary file beside
// the target, flushed and fsync'ed, then renamed over it. A killed run leaves
// either the old file or the new one, never half of one. Write errors (a full
// disk) are caught at commit time and reported with the path.
#ifndef TB_COMMON_H
#define TB_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define TB_VERSION "0.1.0"

// ---------------------------------------------------------------- errors
#if defined(__GNUC__)
#define TB_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define TB_PRINTF(a, b)
#endif

// Records one error line (replacing the previous one); control characters
// in it (from quoted input) become C escapes, so it stays one line. Always
// returns -1 so that `return tb_error(...)` reads naturally.
int tb_error(const char *fmt, ...) TB_PRINTF(1, 2);
const char *tb_last_error(void);
void tb_clear_error(void);
// Prints "tunebench: error: <last error>" to stderr.
void tb_report(void);
// Prints the message and exits with status 1. Only for the CLI layer and for
// out-of-memory, which nothing can recover from.
void tb_die(const char *fmt, ...) TB_PRINTF(1, 2);

// A hint that out-of-memory deaths add to their line (what the user can
// change, e.g. "try a smaller --batch"); NULL clears it.
void tb_set_oom_hint(const char *hint);

void *tb_malloc(size_t bytes);           // dies on OOM
void *tb_calloc(size_t n, size_t size);  // dies on OOM
char *tb_strdup(const char *s);

// ---------------------------------------------------------------- files
// Reads a whole file into a malloc'ed, NUL-terminated buffer. Returns NULL
// and sets the error (naming the path) on failure.
char *tb_read_file(const char *path, size_t *len_out);

typedef struct {
    FILE *fp;
    char path[4096];
    char tmp_path[4096];
} AtomicFile;

// Opens "<path>.tmp.<pid>" for writing. Returns the FILE* or NULL.
FILE *atomic_open(AtomicFile *af, const char *path);
// Flushes, fsyncs and renames over the target. Reports write errors (a full
// disk) naming the path; on error the temporary file is removed and the
// target is left as it was.
int atomic_commit(AtomicFile *af);
// Closes and removes the temporary file.
void atomic_abort(AtomicFile *af);
// Writes a whole buffer atomically.
int tb_write_file_atomic(const char *path, const void *data, size_t len);

// -1 with the error "<what> <path> is a symbolic link: ..." if path is a
// symbolic link (lstat); 0 otherwise, also when it does not exist. A run's
// files are refused through a link: writing, swapping or removing them
// would act on whatever the link points to.
int tb_refuse_symlink(const char *path, const char *what);
// mkdir -p. Returns 0 or sets the error.
int tb_mkdirs(const char *path);
// Removes the files directly inside dir, then dir itself (never recurses:
// the folders it is used on, checkpoints and corpus styles, hold only files).
// A missing dir is not an error; a dir that is a symbolic link is refused
// (never followed), and a link inside is removed, not what it points to.
int tb_remove_flat_dir(const char *dir);
// Puts the complete folder `tmp` in place of `dir` (which may not exist)
// with one rename, so that a reader sees the old folder or the new one,
// never a mix; the old one is removed after. Exchanges the two atomically
// where the filesystem can (renameat2 RENAME_EXCHANGE), else moves the old
// one aside first. On failure tmp is removed and dir is left as it was.
// Either one being a symbolic link is refused.
int tb_replace_dir(const char *tmp, const char *dir);
int tb_file_exists(const char *path);
int tb_dir_exists(const char *path);
// The names in the folder dir that end in suffix ("" for every name) and are
// longer than it, hidden names (a leading '.') left out, sorted by strcmp;
// *count of them. NULL (and *count 0) only when the folder cannot be opened.
// Free with tb_free_names.
char **tb_list_dir(const char *dir, const char *suffix, size_t *count);
void tb_free_names(char **names, size_t count);

// ---------------------------------------------------------------- JSON out
// JSON text must be UTF-8 (RFC 8259), and strings from files, prompts or
// sampled tokens may not be. Every JSON writer goes through tb_json_print,
// which first cleans every string and key of the tree in place.
typedef struct cJSON cJSON;
// Replaces each byte that is not part of a well-formed UTF-8 sequence
// (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF) with '?'.
void tb_utf8_clean(char *s);
// The offset of the first byte of s[0, len) that is not part of a well-formed
// UTF-8 sequence (or is a NUL), len if there is none.
size_t tb_utf8_invalid_at(const char *s, size_t len);
// Cleans the tree's strings, then prints it (formatted or on one line) with
// a final newline. malloc'ed; NULL only if cJSON runs out of memory.
char *tb_json_print(cJSON *root, int formatted);
// tb_json_print(root, 1) written atomically to path.
int tb_json_write(const char *path, cJSON *root);

// ---------------------------------------------------------------- time
double tb_now_seconds(void);  // monotonic clock
// Median of n doubles; reorders the array.
double tb_median(double *x, int n);
// What the CPUs have done so far, to tell a run that had its cores from one
// that shared them: this process's CPU seconds (all threads, user + system)
// and, from /proc/stat (all cores together, in seconds), the time spent busy
// (user, nice, system, irq, softirq), stolen by the hypervisor, and in all.
// host_ok is 0 where /proc/stat cannot be read.
typedef struct {
    double process_s;
    double host_busy_s, host_steal_s, host_total_s;
    int host_ok;
} TbCpuSample;
void tb_cpu_sample(TbCpuSample *s);

// ---------------------------------------------------------------- hashing
// FNV-1a, 64 bits: identity of tokenizers and manifests, not security.
uint64_t tb_hash64(const void *data, size_t len, uint64_t seed);
#define TB_HASH64_SEED 0xcbf29ce484222325ULL

// ---------------------------------------------------------------- sequences
// Levenshtein distance of a (n) and b (m): the fewest insertions, deletions
// and substitutions of one element that turn a into b.
size_t tb_edit_distance(const uint64_t *a, size_t n, const uint64_t *b, size_t m);

// ---------------------------------------------------------------- random
// splitmix64 seeding + xoshiro256** generator. The whole state is four
// words, saved in checkpoints so that a resumed run continues bit-for-bit.
typedef struct { uint64_t s[4]; } Rng;
void rng_seed(Rng *r, uint64_t seed);
uint64_t rng_u64(Rng *r);
uint32_t rng_below(Rng *r, uint32_t n);  // uniform in [0, n), unbiased
float rng_uniform(Rng *r);               // uniform in [0, 1), 24 bits
float rng_normal(Rng *r);                // N(0, 1), Box-Muller

// ---------------------------------------------------------------- misc
int tb_num_threads(void);  // OpenMP threads in use (1 without OpenMP)
int tb_streq(const char *a, const char *b);

#endif
