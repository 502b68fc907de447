// json_in.c: see json_in.h.
#include "lib/json_in.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "lib/common.h"

static int line_of(const char *text, size_t at) {
    int line = 1;
    for (size_t i = 0; i < at; i++) line += text[i] == '\n';
    return line;
}

static int compare_keys(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char *tb_json_duplicate_key(const cJSON *obj) {
    int n = 0;
    for (const cJSON *kv = obj->child; kv; kv = kv->next) n++;
    if (n < 2) return NULL;
    const char **keys = tb_malloc((size_t)n * sizeof *keys);
    n = 0;
    for (const cJSON *kv = obj->child; kv; kv = kv->next) keys[n++] = kv->string;
    qsort(keys, (size_t)n, sizeof *keys, compare_keys);
    const char *dup = NULL;
    for (int i = 1; i < n && !dup; i++)
        if (strcmp(keys[i - 1], keys[i]) == 0) dup = keys[i];
    free(keys);
    return dup;
}

// Searches the tree under item (item included) for an object with a key
// twice; path receives that key's dotted path ("eval.interval", "a[2].b").
static int find_duplicate(const cJSON *item, char *path, size_t len, size_t cap) {
    const char *dup = cJSON_IsObject(item) ? tb_json_duplicate_key(item) : NULL;
    if (dup) {
        snprintf(path + len, cap - len, "%s%s", len ? "." : "", dup);
        return 1;
    }
    int i = 0;
    for (const cJSON *c = item->child; c; c = c->next, i++) {
        int n = cJSON_IsObject(item) ? snprintf(path + len, cap - len, "%s%s", len ? "." : "", c->string)
                                     : snprintf(path + len, cap - len, "[%d]", i);
        size_t next = len + (size_t)n < cap ? len + (size_t)n : cap - 1;
        if (find_duplicate(c, path, next, cap)) return 1;
    }
    path[len] = '\0';
    return 0;
}

cJSON *tb_json_parse(const char *text, size_t len, const char *origin) {
    size_t bad = tb_utf8_invalid_at(text, len);
    if (bad < len) {
        tb_error("%s: byte %zu (line %d) is not UTF-8 text (0x%02x); save the file as UTF-8", origin, bad,
                 line_of(text, bad), (unsigned char)text[bad]);
        return NULL;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) {
        size_t at = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
        tb_error("%s: invalid JSON near line %d", origin, line_of(text, at));
        return NULL;
    }
    size_t at = (size_t)(end - text);
    while (at < len && (text[at] == ' ' || text[at] == '\t' || text[at] == '\n' || text[at] == '\r')) at++;
    if (at < len) {
        cJSON_Delete(root);
        tb_error("%s: unexpected text after the JSON value at byte %zu (line %d); a file holds one JSON value, "
                 "remove what follows it", origin, at, line_of(text, at));
        return NULL;
    }
    char path[256] = "";
    if (find_duplicate(root, path, 0, sizeof path)) {
        tb_error("%s: key '%s' appears twice; keep one", origin, path);
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

cJSON *tb_json_load(const char *path) {
    size_t len = 0;
    char *text = tb_read_file(path, &len);
    if (!text) return NULL;
    cJSON *root = tb_json_parse(text, len, path);
    free(text);
    return root;
}

const char *tb_json_type_name(const cJSON *v, int article) {
    static const char *const names[][2] = {{"string", "a string"}, {"number", "a number"}, {"boolean", "a boolean"},
                                           {"null", "null"},         {"array", "an array"}, {"object", "an object"},
                                           {"invalid", "something else"}};
    int k = cJSON_IsString(v)   ? 0
            : cJSON_IsNumber(v) ? 1
            : cJSON_IsBool(v)   ? 2
            : cJSON_IsNull(v)   ? 3
            : cJSON_IsArray(v)  ? 4
            : cJSON_IsObject(v) ? 5
                                : 6;
    return names[k][article != 0];
}
