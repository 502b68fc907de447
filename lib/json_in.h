// json_in.h: strict reading of JSON that people write (experiment configs, a
// checkpoint's config.json) or that arrives from outside (safetensors
// headers). cJSON on its own accepts what these refuse, each with one line
// naming the input and where in it:
//   - bytes that are not UTF-8 (RFC 8259 requires it; the records would
//     otherwise carry them cleaned to '?', so a resumed run would differ),
//   - anything but whitespace after the top-level value,
//   - a key twice in one object (parsers disagree on which one wins).
#ifndef TB_JSON_IN_H
#define TB_JSON_IN_H

#include <stddef.h>

typedef struct cJSON cJSON;

// Parses text[0, len) (text need not be NUL-terminated). NULL with the
// error set ("<origin>: ... at byte N (line L)") on any of the above or on a
// syntax error. The caller cJSON_Delete()s the result.
cJSON *tb_json_parse(const char *text, size_t len, const char *origin);
// Reads the file at path and parses it as tb_json_parse does.
cJSON *tb_json_load(const char *path);
// A key that appears twice in the object obj (not its children), or NULL.
// n log n in the number of keys.
const char *tb_json_duplicate_key(const cJSON *obj);
// v's JSON type as JSON Schema names it ("string", "number", "boolean",
// "null", "array", "object"; "invalid" for none of them), or with article
// set as a sentence says it ("a string", "an array", "null", "something else").
const char *tb_json_type_name(const cJSON *v, int article);

#endif
