// schema.c: checks a JSON document against a schema written in a small
// subset of JSON Schema (draft 2020-12 keywords, same meanings):
//   type (a name or an array of names; "integer" is a number with no fraction),
//   properties, required, additionalProperties (false only), items, enum,
//   minimum, maximum, minItems, minLength.
// Anything else in the schema is an error, so a schema can't silently ask
// for a check this validator does not make.
#include "schema.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/common.h"
#include "lib/json_in.h"

static const char *known_keywords[] = {"$schema", "$id", "title", "description", "type", "properties",
                                       "required", "additionalProperties", "items", "enum", "minimum",
                                       "maximum", "minItems", "minLength", "$comment"};

static int type_matches(const char *name, const cJSON *v) {
    if (strcmp(name, "integer") == 0)
        return cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble == floor(v->valuedouble);
    return strcmp(name, tb_json_type_name(v, 0)) == 0;
}

static int validate(const cJSON *schema, const cJSON *doc, const char *path);

static int check_type(const cJSON *type, const cJSON *doc, const char *path) {
    if (cJSON_IsString(type)) {
        if (type_matches(type->valuestring, doc)) return 0;
        return tb_error("%s: expected %s, got %s", path, type->valuestring, tb_json_type_name(doc, 0));
    }
    if (cJSON_IsArray(type)) {
        char names[128] = "";
        for (const cJSON *t = type->child; t; t = t->next) {
            if (cJSON_IsString(t) && type_matches(t->valuestring, doc)) return 0;
            if (cJSON_IsString(t))
                snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", names[0] ? " or " : "",
                         t->valuestring);
        }
        return tb_error("%s: expected %s, got %s", path, names, tb_json_type_name(doc, 0));
    }
    return tb_error("schema at %s: 'type' must be a string or an array", path);
}

static int check_object(const cJSON *schema, const cJSON *doc, const char *path) {
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(schema, "properties");
    const cJSON *required = cJSON_GetObjectItemCaseSensitive(schema, "required");
    const cJSON *additional = cJSON_GetObjectItemCaseSensitive(schema, "additionalProperties");
    char sub[512];
    for (const cJSON *r = required ? required->child : NULL; r; r = r->next)
        if (cJSON_IsString(r) && !cJSON_GetObjectItemCaseSensitive(doc, r->valuestring))
            return tb_error("%s: required key '%s' is missing", path, r->valuestring);
    for (const cJSON *item = doc->child; item; item = item->next) {
        const cJSON *ps = props ? cJSON_GetObjectItemCaseSensitive(props, item->string) : NULL;
        snprintf(sub, sizeof sub, "%s.%s", path, item->string);
        if (!ps) {
            if (cJSON_IsFalse(additional)) return tb_error("%s: key not in the schema", sub);
            continue;
        }
        if (validate(ps, item, sub)) return -1;
    }
    return 0;
}

static int validate(const cJSON *schema, const cJSON *doc, const char *path) {
    if (!cJSON_IsObject(schema)) return tb_error("schema at %s is not an object", path);
    for (const cJSON *kw = schema->child; kw; kw = kw->next) {
        int known = 0;
        for (size_t i = 0; i < sizeof known_keywords / sizeof known_keywords[0]; i++)
            known |= strcmp(kw->string, known_keywords[i]) == 0;
        if (!known) return tb_error("schema at %s: unsupported keyword '%s'", path, kw->string);
    }
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(schema, "type");
    if (type && check_type(type, doc, path)) return -1;

    const cJSON *en = cJSON_GetObjectItemCaseSensitive(schema, "enum");
    if (en) {
        int found = 0;
        for (const cJSON *e = en->child; e && !found; e = e->next) found = cJSON_Compare(e, doc, 1);
        if (!found) {
            char *text = cJSON_PrintUnformatted(doc);
            tb_error("%s: %s is not one of the allowed values", path, text ? text : "?");
            free(text);
            return -1;
        }
    }
    if (cJSON_IsNumber(doc)) {
        const cJSON *mn = cJSON_GetObjectItemCaseSensitive(schema, "minimum");
        const cJSON *mx = cJSON_GetObjectItemCaseSensitive(schema, "maximum");
        if (mn && doc->valuedouble < mn->valuedouble)
            return tb_error("%s: %g is below the minimum %g", path, doc->valuedouble, mn->valuedouble);
        if (mx && doc->valuedouble > mx->valuedouble)
            return tb_error("%s: %g is above the maximum %g", path, doc->valuedouble, mx->valuedouble);
    }
    if (cJSON_IsString(doc)) {
        const cJSON *ml = cJSON_GetObjectItemCaseSensitive(schema, "minLength");
        if (ml && (double)strlen(doc->valuestring) < ml->valuedouble)
            return tb_error("%s: shorter than %g characters", path, ml->valuedouble);
    }
    if (cJSON_IsObject(doc) && check_object(schema, doc, path)) return -1;
    if (cJSON_IsArray(doc)) {
        const cJSON *mi = cJSON_GetObjectItemCaseSensitive(schema, "minItems");
        int n = cJSON_GetArraySize(doc);
        if (mi && n < mi->valuedouble)
            return tb_error("%s: %d items, the schema asks for at least %g", path, n, mi->valuedouble);
        const cJSON *items = cJSON_GetObjectItemCaseSensitive(schema, "items");
        int i = 0;
        char sub[512];
        for (const cJSON *e = doc->child; items && e; e = e->next, i++) {
            snprintf(sub, sizeof sub, "%s[%d]", path, i);
            if (validate(items, e, sub)) return -1;
        }
    }
    return 0;
}

int schema_validate(const cJSON *schema, const cJSON *doc) { return validate(schema, doc, "$"); }

static cJSON *parse_file(const char *path, const char *what) {
    char *text = tb_read_file(path, NULL);
    if (!text) return NULL;
    cJSON *json = cJSON_Parse(text);
    free(text);
    if (!json) tb_error("%s %s is not valid JSON (a killed writer? records are written atomically)", what, path);
    return json;
}

int schema_validate_file(const char *doc_path, const char *schema_path) {
    cJSON *schema = parse_file(schema_path, "schema");
    if (!schema) return -1;
    cJSON *doc = parse_file(doc_path, "record");
    if (!doc) {
        cJSON_Delete(schema);
        return -1;
    }
    int rc = schema_validate(schema, doc);
    if (rc) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", tb_last_error());
        tb_error("%s does not match %s: %s", doc_path, schema_path, msg);
    }
    cJSON_Delete(doc);
    cJSON_Delete(schema);
    return rc;
}
