// safetensors.c: the safetensors reader and writer (see safetensors.h).
#include "safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/common.h"
#include "lib/json_in.h"

// The Rust crate refuses headers above 100 MB; a header that large is a
// corrupt length field, not a real model.
#define ST_MAX_HEADER_BYTES (100u * 1000u * 1000u)

// ---------------------------------------------------------------- reading

void st_close(SafeTensors *st) {
    if (!st) return;
    for (int i = 0; i < st->num_tensors; i++) free(st->tensors[i].name);
    free(st->tensors);
    for (int i = 0; i < st->num_metadata; i++) {
        free(st->metadata_keys[i]);
        free(st->metadata_values[i]);
    }
    free(st->metadata_keys);
    free(st->metadata_values);
    free(st->data);
    free(st);
}

const StTensor *st_find(const SafeTensors *st, const char *name) {
    for (int i = 0; i < st->num_tensors; i++)
        if (strcmp(st->tensors[i].name, name) == 0) return &st->tensors[i];
    return NULL;
}

const char *st_metadata(const SafeTensors *st, const char *key) {
    for (int i = 0; i < st->num_metadata; i++)
        if (strcmp(st->metadata_keys[i], key) == 0) return st->metadata_values[i];
    return NULL;
}

// A JSON number that is an exact non-negative integer below 2^53.
static int json_to_size(const cJSON *item, uint64_t *out) {
    if (!cJSON_IsNumber(item)) return 0;
    double d = item->valuedouble;
    if (!(d >= 0.0) || d > 9007199254740992.0 || floor(d) != d) return 0;
    *out = (uint64_t)d;
    return 1;
}

static int parse_metadata(SafeTensors *st, const cJSON *meta) {
    if (!cJSON_IsObject(meta))
        return tb_error("%s: bad header: __metadata__ is not a JSON object (corrupt file?)",
                        st->path);
    const char *dup = tb_json_duplicate_key(meta);
    if (dup)
        return tb_error("%s: bad header: __metadata__ has the key '%s' twice (corrupt header)", st->path, dup);
    int n = cJSON_GetArraySize(meta);
    st->metadata_keys = tb_calloc((size_t)n, sizeof(char *));
    st->metadata_values = tb_calloc((size_t)n, sizeof(char *));
    for (const cJSON *kv = meta->child; kv; kv = kv->next) {
        if (!cJSON_IsString(kv))
            return tb_error("%s: bad header: __metadata__ value for '%s' is not a string",
                            st->path, kv->string);
        st->metadata_keys[st->num_metadata] = tb_strdup(kv->string);
        st->metadata_values[st->num_metadata] = tb_strdup(kv->valuestring);
        st->num_metadata++;
    }
    return 0;
}

// Parses one tensor entry of the header into t (name already set).
static int parse_entry(const SafeTensors *st, const cJSON *entry, StTensor *t) {
    const char *p = st->path, *name = t->name;
    if (!cJSON_IsObject(entry))
        return tb_error("%s: bad header: entry for tensor '%s' is not a JSON object", p, name);
    const char *dup = tb_json_duplicate_key(entry);
    if (dup) return tb_error("%s: bad header: tensor '%s' has the key '%s' twice (corrupt header)", p, name, dup);
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(entry, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(entry, "shape");
    const cJSON *offsets = cJSON_GetObjectItemCaseSensitive(entry, "data_offsets");
    if (!cJSON_IsString(dtype))
        return tb_error("%s: bad header: tensor '%s' has no \"dtype\" string", p, name);
    if (strcmp(dtype->valuestring, "F32") != 0)
        return tb_error("%s: tensor '%s' has dtype %s; tunebench reads F32 only (convert the "
                        "checkpoint to float32)", p, name, dtype->valuestring);
    if (!cJSON_IsArray(shape))
        return tb_error("%s: bad header: tensor '%s' has no \"shape\" array", p, name);
    t->ndim = cJSON_GetArraySize(shape);
    if (t->ndim > ST_MAX_DIMS)
        return tb_error("%s: tensor '%s' has %d dimensions; at most %d are supported", p, name,
                        t->ndim, ST_MAX_DIMS);
    uint64_t numel = 1;
    int d = 0;
    for (const cJSON *dim = shape->child; dim; dim = dim->next, d++) {
        uint64_t size;
        if (!json_to_size(dim, &size))
            return tb_error("%s: bad header: tensor '%s' has a shape entry that is not a "
                            "non-negative integer", p, name);
        if (size && numel > (UINT64_C(1) << 50) / size)
            return tb_error("%s: bad header: tensor '%s' has an absurd shape", p, name);
        t->shape[d] = (int64_t)size;
        numel *= size;
    }
    t->numel = (size_t)numel;
    uint64_t begin, end;
    if (!cJSON_IsArray(offsets) || cJSON_GetArraySize(offsets) != 2 ||
        !json_to_size(offsets->child, &begin) || !json_to_size(offsets->child->next, &end))
        return tb_error("%s: bad header: tensor '%s' needs \"data_offsets\": [begin, end] with "
                        "non-negative integers", p, name);
    if (end < begin)
        return tb_error("%s: bad header: tensor '%s' has data_offsets [%llu, %llu] with end "
                        "before begin", p, name, (unsigned long long)begin,
                        (unsigned long long)end);
    if (end - begin != numel * 4)
        return tb_error("%s: tensor '%s' has %llu elements (%llu bytes as F32) but its "
                        "data_offsets [%llu, %llu] span %llu bytes", p, name,
                        (unsigned long long)numel, (unsigned long long)(numel * 4),
                        (unsigned long long)begin, (unsigned long long)end,
                        (unsigned long long)(end - begin));
    t->begin = (size_t)begin;
    t->end = (size_t)end;
    return 0;
}

static int compare_by_offset(const void *a, const void *b) {
    const StTensor *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return strcmp(x->name, y->name);
}

// The tensors (sorted by offset) must tile [0, data_bytes) exactly.
static int check_layout(const SafeTensors *st) {
    size_t expect = 0;
    for (int i = 0; i < st->num_tensors; i++) {
        const StTensor *t = &st->tensors[i];
        if (t->end > st->data_bytes)
            return tb_error("%s: tensor '%s' needs bytes [%zu, %zu) of the data region but the "
                            "file holds only %zu (truncated file?)", st->path, t->name, t->begin,
                            t->end, st->data_bytes);
        if (t->begin < expect)
            return tb_error("%s: tensor '%s' (bytes [%zu, %zu)) overlaps tensor '%s' (corrupt "
                            "header)", st->path, t->name, t->begin, t->end,
                            st->tensors[i - 1].name);
        if (t->begin > expect)
            return tb_error("%s: tensor '%s' starts at byte %zu, leaving a gap after byte %zu "
                            "(corrupt header)", st->path, t->name, t->begin, expect);
        expect = t->end;
    }
    if (expect != st->data_bytes)
        return tb_error("%s: %zu bytes of data follow the last tensor (corrupt header or file)",
                        st->path, st->data_bytes - expect);
    return 0;
}

// Parses the header text and fills st->tensors and the metadata.
static int parse_header(SafeTensors *st, const char *header, size_t len) {
    if (len == 0 || header[0] != '{')
        return tb_error("%s: bad header: it does not start with a JSON object (not a "
                        "safetensors file?)", st->path);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(header, len, &end, 0);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return tb_error("%s: bad header: invalid JSON (corrupt file?)", st->path);
    }
    // Only padding (spaces) may follow the JSON object.
    for (const char *c = end; c < header + len; c++)
        if (*c != ' ' && *c != '\n' && *c != '\t' && *c != '\r' && *c != '\0') {
            cJSON_Delete(root);
            return tb_error("%s: bad header: unexpected bytes after the JSON header", st->path);
        }
    // A key twice (a tensor, or __metadata__) is a corrupt header: which
    // entry was meant is unknowable.
    const char *dup = tb_json_duplicate_key(root);
    if (dup) {
        tb_error("%s: bad header: the key '%s' appears twice (corrupt header)", st->path, dup);
        cJSON_Delete(root);
        return -1;
    }
    int n = cJSON_GetArraySize(root);
    st->tensors = tb_calloc((size_t)n, sizeof(StTensor));
    int rc = 0;
    for (const cJSON *item = root->child; item && !rc; item = item->next) {
        if (strcmp(item->string, "__metadata__") == 0) {
            rc = parse_metadata(st, item);
            continue;
        }
        StTensor *t = &st->tensors[st->num_tensors++];
        t->name = tb_strdup(item->string);
        rc = parse_entry(st, item, t);
    }
    cJSON_Delete(root);
    return rc;
}

SafeTensors *st_open(const char *path) {
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        tb_error("cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    SafeTensors *st = st_read(fp, path);
    fclose(fp);
    return st;
}

SafeTensors *st_read(FILE *fp, const char *path) {
    SafeTensors *st = tb_calloc(1, sizeof *st);
    snprintf(st->path, sizeof st->path, "%s", path);
    char *header = NULL;
    if (fseek(fp, 0, SEEK_END) != 0) {
        tb_error("cannot seek in %s: %s", path, strerror(errno));
        goto fail;
    }
    long file_size = ftell(fp);
    rewind(fp);
    unsigned char len_bytes[8];
    if (file_size < 8 || fread(len_bytes, 1, 8, fp) != 8) {
        tb_error("%s: truncated file: %ld bytes, shorter than the 8-byte header length",
                 path, file_size);
        goto fail;
    }
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; i--) header_len = (header_len << 8) | len_bytes[i];
    if (header_len > (uint64_t)file_size - 8) {
        tb_error("%s: bad header: its length field says %llu bytes but the file has only %ld "
                 "after it (truncated or not a safetensors file)", path,
                 (unsigned long long)header_len, file_size - 8);
        goto fail;
    }
    if (header_len > ST_MAX_HEADER_BYTES) {
        tb_error("%s: bad header: length %llu bytes is implausibly large (corrupt file?)", path,
                 (unsigned long long)header_len);
        goto fail;
    }
    header = tb_malloc((size_t)header_len + 1);
    if (fread(header, 1, (size_t)header_len, fp) != (size_t)header_len) {
        tb_error("%s: cannot read the %llu-byte header (truncated file?)", path,
                 (unsigned long long)header_len);
        goto fail;
    }
    header[header_len] = '\0';
    if (parse_header(st, header, (size_t)header_len) != 0) goto fail;
    st->data_bytes = (size_t)file_size - 8 - (size_t)header_len;
    qsort(st->tensors, (size_t)st->num_tensors, sizeof(StTensor), compare_by_offset);
    if (check_layout(st) != 0) goto fail;

    // Read the data region into its own buffer so every float is aligned.
    st->data = tb_malloc(st->data_bytes);
    if (fread(st->data, 1, st->data_bytes, fp) != st->data_bytes) {
        tb_error("%s: cannot read %zu bytes of tensor data (truncated file?)", path,
                 st->data_bytes);
        goto fail;
    }
    for (int i = 0; i < st->num_tensors; i++)
        st->tensors[i].data = (const float *)((const char *)st->data + st->tensors[i].begin);
    st->data_checksum = tb_hash64(st->data, st->data_bytes, TB_HASH64_SEED);
    const char *recorded = st_metadata(st, ST_CHECKSUM_KEY);
    if (recorded) {
        char computed[32];
        st_format_checksum(computed, st->data_checksum);
        if (strncmp(recorded, "fnv1a64:", 8) != 0) {
            tb_error("%s: its checksum '%s' is of an unknown kind (this tunebench writes fnv1a64:...); "
                     "the header is corrupt or the file comes from a newer tunebench", path, recorded);
            goto fail;
        }
        if (strcmp(recorded, computed) != 0) {
            tb_error("%s: the tensor data does not match the checksum in its header (recorded %s, computed "
                     "%s): the file is corrupt; use another checkpoint or retrain", path, recorded + 8,
                     computed + 8);
            goto fail;
        }
        st->checksum_verified = 1;
    }
    free(header);
    return st;
fail:
    free(header);
    st_close(st);
    return NULL;
}

// ---------------------------------------------------------------- writing

void st_format_checksum(char out[32], uint64_t checksum) {
    snprintf(out, 32, "fnv1a64:%016llx", (unsigned long long)checksum);
}

static size_t write_numel(const StWriteTensor *t) {
    size_t numel = 1;
    for (int d = 0; d < t->ndim; d++) numel *= (size_t)t->shape[d];
    return numel;
}

int st_write(const char *path, const StWriteTensor *tensors, int n, uint64_t *checksum_out) {
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (strcmp(tensors[i].name, tensors[j].name) == 0)
                return tb_error("%s: cannot write tensor '%s' twice", path, tensors[i].name);
    for (int i = 0; i < n; i++)
        if (tensors[i].ndim < 0 || tensors[i].ndim > ST_MAX_DIMS)
            return tb_error("%s: tensor '%s' has %d dimensions", path, tensors[i].name, tensors[i].ndim);
    // The data region is the tensors back to back, in this order: its
    // checksum goes into the header, which precedes it.
    uint64_t checksum = TB_HASH64_SEED;
    for (int i = 0; i < n; i++) checksum = tb_hash64(tensors[i].data, write_numel(&tensors[i]) * 4, checksum);
    if (checksum_out) *checksum_out = checksum;
    char checksum_text[32];
    st_format_checksum(checksum_text, checksum);
    cJSON *root = cJSON_CreateObject();
    cJSON *meta = cJSON_AddObjectToObject(root, "__metadata__");
    cJSON_AddStringToObject(meta, "format", "pt");
    cJSON_AddStringToObject(meta, ST_CHECKSUM_KEY, checksum_text);
    size_t offset = 0;
    for (int i = 0; i < n; i++) {
        const StWriteTensor *t = &tensors[i];
        size_t numel = 1;
        cJSON *entry = cJSON_AddObjectToObject(root, t->name);
        cJSON_AddStringToObject(entry, "dtype", "F32");
        cJSON *shape = cJSON_AddArrayToObject(entry, "shape");
        for (int d = 0; d < t->ndim; d++) {
            cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape[d]));
            numel *= (size_t)t->shape[d];
        }
        cJSON *offsets = cJSON_AddArrayToObject(entry, "data_offsets");
        cJSON_AddItemToArray(offsets, cJSON_CreateNumber((double)offset));
        cJSON_AddItemToArray(offsets, cJSON_CreateNumber((double)(offset + 4 * numel)));
        offset += 4 * numel;
    }
    char *json = tb_json_print(root, 0);
    cJSON_Delete(root);
    if (!json) return tb_error("%s: cannot format the safetensors header", path);
    // Pad with spaces so the data region starts 8-byte aligned (as the Rust
    // crate does), in place of tb_json_print's final newline.
    size_t json_len = strlen(json) - 1, header_len = (json_len + 7) / 8 * 8;
    char *header = tb_malloc(header_len);
    memcpy(header, json, json_len);
    memset(header + json_len, ' ', header_len - json_len);
    free(json);

    unsigned char len_bytes[8];
    for (int i = 0; i < 8; i++) len_bytes[i] = (unsigned char)((uint64_t)header_len >> (8 * i));
    AtomicFile af;
    FILE *fp = atomic_open(&af, path);
    if (!fp) {
        free(header);
        return -1;
    }
    int ok = fwrite(len_bytes, 1, 8, fp) == 8 && fwrite(header, 1, header_len, fp) == header_len;
    for (int i = 0; i < n && ok; i++) {
        size_t numel = write_numel(&tensors[i]);
        ok = numel == 0 || fwrite(tensors[i].data, sizeof(float), numel, fp) == numel;
    }
    free(header);
    if (!ok) {
        int e = errno;
        atomic_abort(&af);
        return tb_error("cannot write %s: %s (is the disk full?)", path, strerror(e));
    }
    return atomic_commit(&af);
}
