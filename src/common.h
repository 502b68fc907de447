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

// Records one error line (replacing the previous one). Always returns -1 so
// that `return tb_error(...)` reads naturally.
int tb_error(const char *fmt, ...) TB_PRINTF(1, 2);
const char *tb_last_error(void);
void tb_clear_error(void);
// Prints "tunebench: error: <last error>" to stderr.
void tb_report(void);
// Prints the message and exits with status 1. Only for the CLI layer and for
// out-of-memory, which nothing can recover from.
void tb_die(const char *fmt, ...) TB_PRINTF(1, 2);

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

// mkdir -p. Returns 0 or sets the error.
int tb_mkdirs(const char *path);
int tb_file_exists(const char *path);
int tb_dir_exists(const char *path);

// ---------------------------------------------------------------- time
double tb_now_seconds(void);  // monotonic clock
// Median of n doubles; reorders the array.
double tb_median(double *x, int n);

// ---------------------------------------------------------------- hashing
// FNV-1a, 64 bits: identity of tokenizers and manifests, not security.
uint64_t tb_hash64(const void *data, size_t len, uint64_t seed);
#define TB_HASH64_SEED 0xcbf29ce484222325ULL

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
