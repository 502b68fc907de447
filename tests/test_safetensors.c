// test_safetensors.c: round trip through the writer and reader, and every
// kind of corrupt file the reader must refuse with an error naming the file
// (and the tensor, where there is one).
#include <stdint.h>
#include <unistd.h>

#include "lib/common.h"
#include "models/safetensors.h"
#include "test.h"

static char dir[256];

// Writes a file from a raw header string (padded to the declared length) and
// data bytes. header_len_override, if nonzero, replaces the length field.
static void write_raw(const char *path, const char *header, uint64_t header_len_override,
                      const void *data, size_t data_len) {
    FILE *fp = fopen(path, "wb");
    uint64_t n = header_len_override ? header_len_override : strlen(header);
    unsigned char len_bytes[8];
    for (int i = 0; i < 8; i++) len_bytes[i] = (unsigned char)(n >> (8 * i));
    fwrite(len_bytes, 1, 8, fp);
    fwrite(header, 1, strlen(header), fp);
    if (data_len) fwrite(data, 1, data_len, fp);
    fclose(fp);
}

// The file must be refused, with an error naming the path and containing `needle`.
static void expect_refused(const char *what, const char *path, const char *needle) {
    tb_clear_error();
    SafeTensors *st = st_open(path);
    CHECK(st == NULL, "%s: st_open accepted a bad file", what);
    if (st) {
        st_close(st);
        return;
    }
    const char *err = tb_last_error();
    CHECK(strstr(err, path) != NULL, "%s: error does not name the file: %s", what, err);
    CHECK(strstr(err, needle) != NULL, "%s: error lacks '%s': %s", what, needle, err);
}

static void test_round_trip(void) {
    float a[6] = {1, -2, 3.5f, 4, 5, 1e-30f}, b[3] = {7, 8, 9}, c[1] = {-0.25f};
    StWriteTensor ts[3] = {
        {"h.0.attn.c_attn.weight", 2, {2, 3}, a},
        {"ln_f.bias", 1, {3}, b},
        {"scalar", 0, {0}, c},
    };
    char path[512];
    snprintf(path, sizeof path, "%s/ok.safetensors", dir);
    CHECK(st_write(path, ts, 3, NULL) == 0, "st_write: %s", tb_last_error());

    // The header length is a multiple of 8 and the padding is spaces.
    size_t len;
    char *raw = tb_read_file(path, &len);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | (unsigned char)raw[i];
    CHECK(n % 8 == 0, "header length %llu is not a multiple of 8", (unsigned long long)n);
    CHECK(len == 8 + n + 4 * 10, "file length %zu, expected %llu", len,
          (unsigned long long)(8 + n + 40));
    CHECK(raw[8] == '{' && raw[8 + n - 1] != '\0', "header does not look like JSON");
    free(raw);

    SafeTensors *st = st_open(path);
    CHECK(st != NULL, "st_open: %s", tb_last_error());
    if (!st) return;
    CHECK(st->num_tensors == 3, "num_tensors %d", st->num_tensors);
    const StTensor *ta = st_find(st, "h.0.attn.c_attn.weight");
    const StTensor *tb = st_find(st, "ln_f.bias");
    const StTensor *tc = st_find(st, "scalar");
    CHECK(ta && ta->ndim == 2 && ta->shape[0] == 2 && ta->shape[1] == 3 && ta->numel == 6,
          "tensor a shape");
    CHECK(tb && tb->ndim == 1 && tb->shape[0] == 3, "tensor b shape");
    CHECK(tc && tc->ndim == 0 && tc->numel == 1, "scalar tensor shape");
    CHECK(st_find(st, "missing") == NULL, "st_find found a missing tensor");
    if (ta) check_close("tensor a data", ta->data, a, 6, 0, 0);
    if (tb) CHECK(memcmp(tb->data, b, sizeof b) == 0, "tensor b data differs");
    if (tc) CHECK(memcmp(tc->data, c, sizeof c) == 0, "scalar data differs");
    const char *fmt = st_metadata(st, "format");
    CHECK(fmt && strcmp(fmt, "pt") == 0, "__metadata__ format is %s", fmt ? fmt : "(none)");
    st_close(st);

    // Writing the same name twice is refused.
    StWriteTensor dup[2] = {{"x", 1, {3}, b}, {"x", 1, {3}, b}};
    CHECK(st_write(path, dup, 2, NULL) != 0, "st_write accepted a duplicate name");
}

// A hand-written header in the style of other writers (no padding, another
// order of keys, tensors listed out of offset order) must load too.
static void test_foreign_layout(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/foreign.safetensors", dir);
    float data[5] = {1, 2, 3, 4, 5};
    write_raw(path,
              "{\"b\":{\"data_offsets\":[8,20],\"shape\":[3],\"dtype\":\"F32\"},"
              "\"a\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[0,8]},"
              "\"__metadata__\":{\"format\":\"pt\",\"x\":\"y\"}}",
              0, data, sizeof data);
    SafeTensors *st = st_open(path);
    CHECK(st != NULL, "foreign layout refused: %s", tb_last_error());
    if (!st) return;
    const StTensor *b = st_find(st, "b");
    CHECK(b && b->data[0] == 3 && b->data[2] == 5, "foreign layout: tensor b data");
    CHECK(st_metadata(st, "x") && strcmp(st_metadata(st, "x"), "y") == 0, "metadata x");
    st_close(st);
}

static void test_corruptions(void) {
    char path[512];
    float data[4] = {1, 2, 3, 4};
    const char *good = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}";

    snprintf(path, sizeof path, "%s/missing.safetensors", dir);
    expect_refused("missing file", path, "cannot open");

    snprintf(path, sizeof path, "%s/short.safetensors", dir);
    FILE *fp = fopen(path, "wb");
    fwrite("\x10\0\0", 1, 3, fp);
    fclose(fp);
    expect_refused("shorter than 8 bytes", path, "truncated");

    snprintf(path, sizeof path, "%s/len.safetensors", dir);
    write_raw(path, good, 1000, data, sizeof data);
    expect_refused("header length past the end", path, "length field");

    snprintf(path, sizeof path, "%s/json.safetensors", dir);
    write_raw(path, "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]", 0, data,
              sizeof data);
    expect_refused("invalid JSON", path, "invalid JSON");

    snprintf(path, sizeof path, "%s/notobj.safetensors", dir);
    write_raw(path, "[1,2,3]", 0, data, sizeof data);
    expect_refused("header not an object", path, "bad header");

    snprintf(path, sizeof path, "%s/trailing.safetensors", dir);
    write_raw(path, "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}xx", 0,
              data, sizeof data);
    expect_refused("junk after the JSON", path, "unexpected bytes");

    snprintf(path, sizeof path, "%s/dtype.safetensors", dir);
    write_raw(path, "{\"w\":{\"dtype\":\"BF16\",\"shape\":[2,4],\"data_offsets\":[0,16]}}", 0,
              data, sizeof data);
    expect_refused("dtype BF16", path, "'w' has dtype BF16");

    snprintf(path, sizeof path, "%s/nodtype.safetensors", dir);
    write_raw(path, "{\"w\":{\"shape\":[2,2],\"data_offsets\":[0,16]}}", 0, data, sizeof data);
    expect_refused("missing dtype", path, "'w' has no \"dtype\"");

    snprintf(path, sizeof path, "%s/shape.safetensors", dir);
    write_raw(path, "{\"w\":{\"dtype\":\"F32\",\"shape\":[3,2],\"data_offsets\":[0,16]}}", 0,
              data, sizeof data);
    expect_refused("shape x 4 != byte range", path, "'w' has 6 elements");

    snprintf(path, sizeof path, "%s/negshape.safetensors", dir);
    write_raw(path, "{\"w\":{\"dtype\":\"F32\",\"shape\":[-2,-2],\"data_offsets\":[0,16]}}", 0,
              data, sizeof data);
    expect_refused("negative shape", path, "'w' has a shape entry");

    snprintf(path, sizeof path, "%s/offsets.safetensors", dir);
    write_raw(path, "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0]}}", 0, data,
              sizeof data);
    expect_refused("one data offset", path, "'w' needs \"data_offsets\"");

    snprintf(path, sizeof path, "%s/backwards.safetensors", dir);
    write_raw(path, "{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[16,0]}}", 0, data,
              sizeof data);
    expect_refused("end before begin", path, "'w' has data_offsets [16, 0]");

    snprintf(path, sizeof path, "%s/trunc.safetensors", dir);
    write_raw(path, good, 0, data, sizeof data - 4);
    expect_refused("truncated data", path, "'w' needs bytes [0, 16)");

    snprintf(path, sizeof path, "%s/overlap.safetensors", dir);
    write_raw(path,
              "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]},"
              "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
              0, data, sizeof data);
    expect_refused("overlapping tensors", path, "'b' (bytes [8, 16)) overlaps tensor 'a'");

    snprintf(path, sizeof path, "%s/gap.safetensors", dir);
    write_raw(path,
              "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
              "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
              0, data, sizeof data);
    expect_refused("gap between tensors", path, "'b' starts at byte 8");

    snprintf(path, sizeof path, "%s/extra.safetensors", dir);
    write_raw(path, "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}}", 0, data,
              sizeof data);
    expect_refused("bytes after the last tensor", path, "4 bytes of data follow");

    snprintf(path, sizeof path, "%s/dup.safetensors", dir);
    write_raw(path,
              "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
              "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
              0, data, sizeof data);
    expect_refused("duplicate tensor name", path, "'w' appears twice");

    snprintf(path, sizeof path, "%s/meta.safetensors", dir);
    write_raw(path,
              "{\"__metadata__\":{\"format\":3},"
              "\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}",
              0, data, sizeof data);
    expect_refused("non-string metadata", path, "__metadata__ value for 'format'");

    // A repeated __metadata__ (the second one larger than the first), a
    // repeated metadata key and a repeated key inside an entry: each a
    // corrupt header with the key named.
    snprintf(path, sizeof path, "%s/dup-meta.safetensors", dir);
    write_raw(path,
              "{\"__metadata__\":{\"a\":\"1\"},\"__metadata__\":{\"a\":\"1\",\"b\":\"2\",\"c\":\"3\"},"
              "\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}",
              0, data, sizeof data);
    expect_refused("__metadata__ twice", path, "the key '__metadata__' appears twice");
    snprintf(path, sizeof path, "%s/dup-meta-key.safetensors", dir);
    write_raw(path,
              "{\"__metadata__\":{\"format\":\"pt\",\"format\":\"np\"},"
              "\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}",
              0, data, sizeof data);
    expect_refused("a metadata key twice", path, "__metadata__ has the key 'format' twice");
    snprintf(path, sizeof path, "%s/dup-field.safetensors", dir);
    write_raw(path, "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"shape\":[4],\"data_offsets\":[0,16]}}", 0,
              data, sizeof data);
    expect_refused("an entry's key twice", path, "tensor 'w' has the key 'shape' twice");

    // The same checks on a stream (st_read, the fuzz target's entry point).
    const char *dup_meta = "{\"__metadata__\":{},\"__metadata__\":{\"x\":\"y\"}}";
    unsigned char mem[64] = {0};
    size_t hl = strlen(dup_meta);
    mem[0] = (unsigned char)hl;
    memcpy(mem + 8, dup_meta, hl);
    FILE *mf = fmemopen(mem, 8 + hl, "rb");
    SafeTensors *from_mem = mf ? st_read(mf, "memory") : NULL;
    CHECK(!from_mem && strstr(tb_last_error(), "memory: bad header: the key '__metadata__' appears twice"),
          "st_read of a header with __metadata__ twice: %s", tb_last_error());
    st_close(from_mem);
    if (mf) fclose(mf);

    snprintf(path, sizeof path, "%s/entry.safetensors", dir);
    write_raw(path, "{\"w\":[1,2]}", 0, data, 0);
    expect_refused("entry not an object", path, "tensor 'w' is not a JSON object");

    // A valid file truncated anywhere must be refused (never a crash).
    float big[64];
    for (int i = 0; i < 64; i++) big[i] = (float)i;
    StWriteTensor ts[2] = {{"x", 2, {4, 8}, big}, {"y", 1, {32}, big + 32}};
    char full[512];
    snprintf(full, sizeof full, "%s/full.safetensors", dir);
    CHECK(st_write(full, ts, 2, NULL) == 0, "st_write: %s", tb_last_error());
    size_t len;
    char *raw = tb_read_file(full, &len);
    int refused = 0, tried = 0;
    snprintf(path, sizeof path, "%s/cut.safetensors", dir);
    for (size_t cut = 0; cut < len; cut += 7) {
        fp = fopen(path, "wb");
        fwrite(raw, 1, cut, fp);
        fclose(fp);
        SafeTensors *st = st_open(path);
        tried++;
        if (!st && strstr(tb_last_error(), path)) refused++;
        st_close(st);
    }
    CHECK(refused == tried, "%d of %d truncations refused with the path named", refused, tried);
    free(raw);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/tb_test_safetensors.%d", (int)getpid());
    tb_mkdirs(dir);
    test_round_trip();
    test_foreign_layout();
    test_corruptions();
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return test_summary("test_safetensors");
}
