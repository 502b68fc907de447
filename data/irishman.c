// irishman.c: the IrishMAN corpus's JSON (Hugging Face sander-wood/irishman).
//
// The files are JSON arrays of records such as
//   {"abc notation": "X:1\nL:1/8\nM:6/8\nK:G\n...", "control code": "S:2\nB:8\n..."}
// We take each record's "abc notation", one tune per record, through the same
// checks as any ABC file; the control codes are recomputed in the irishman
// style rather than trusted. JSON Lines (one record per line) is read too.
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "lib/common.h"
#include "corpus.h"

static void add_record(const cJSON *record, TuneSet *set, int collection) {
    const cJSON *abc = cJSON_GetObjectItemCaseSensitive(record, "abc notation");
    if (!cJSON_IsString(abc) || !abc->valuestring) {
        set->skipped[SKIP_JSON_RECORD]++;
        return;
    }
    const char *text = abc->valuestring;
    size_t len = strlen(text);
    if (len >= 2 && text[0] == 'X' && text[1] == ':') {
        corpus_split_text(set, text, len, collection);
        return;
    }
    // A record without its own X: line is still one tune.
    char *with_x = tb_malloc(len + 6);
    memcpy(with_x, "X:1\n", 4);
    memcpy(with_x + 4, text, len + 1);
    corpus_split_text(set, with_x, len + 4, collection);
    free(with_x);
}

long irishman_load_json(const char *path, TuneSet *set, int collection) {
    size_t len;
    char *data = tb_read_file(path, &len);
    if (!data) return -1;
    long records = 0;
    cJSON *root = cJSON_ParseWithLength(data, len);
    if (root && cJSON_IsArray(root)) {
        const cJSON *record;
        cJSON_ArrayForEach(record, root) {
            add_record(record, set, collection);
            records++;
        }
    } else if (root && cJSON_IsObject(root)) {
        add_record(root, set, collection);
        records = 1;
    } else {
        // JSON Lines: one object per line.
        size_t line_no = 0;
        for (size_t pos = 0; pos < len;) {
            char *nl = memchr(data + pos, '\n', len - pos);
            size_t line_len = nl ? (size_t)(nl - (data + pos)) : len - pos;
            line_no++;
            size_t k = 0;
            while (k < line_len && (data[pos + k] == ' ' || data[pos + k] == '\t' || data[pos + k] == '\r')) k++;
            if (k < line_len) {
                cJSON *obj = cJSON_ParseWithLength(data + pos, line_len);
                if (!obj || !cJSON_IsObject(obj)) {
                    cJSON_Delete(obj);
                    cJSON_Delete(root);
                    free(data);
                    return tb_error("%s is not IrishMAN JSON: line %zu is not a JSON object (expected "
                                    "an array of {\"abc notation\": ...} records)",
                                    path, line_no);
                }
                add_record(obj, set, collection);
                cJSON_Delete(obj);
                records++;
            }
            pos += line_len + 1;
        }
    }
    cJSON_Delete(root);
    free(data);
    return records;
}
