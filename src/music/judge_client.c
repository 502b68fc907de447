// judge_client.c: a chat-completions request over libcurl, with retries.
#include "judge_client.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "lib/common.h"

const char *judge_status_name(JudgeStatus s) {
    static const char *const names[] = {
#define X(id, name) name,
        JUDGE_STATUSES(X)
#undef X
    };
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "unknown";
}

void judge_answer_free(JudgeAnswer *a) {
    free(a->content);
    free(a->model_id);
    free(a->finish_reason);
    a->content = a->model_id = a->finish_reason = NULL;
}

// ---------------------------------------------------------------- response
void judge_parse_response(const char *body, JudgeAnswer *out) {
    cJSON *root = body ? cJSON_Parse(body) : NULL;
    const cJSON *choice = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "choices"), 0);
    const cJSON *message = cJSON_GetObjectItem(choice, "message");
    if (!cJSON_IsObject(message)) {
        out->status = JUDGE_MALFORMED_RESPONSE;
        snprintf(out->error, sizeof out->error, "the response is not chat-completions JSON (no choices[0].message)");
        cJSON_Delete(root);
        return;
    }
    const char *model = cJSON_GetStringValue(cJSON_GetObjectItem(root, "model"));
    const char *finish = cJSON_GetStringValue(cJSON_GetObjectItem(choice, "finish_reason"));
    const char *content = cJSON_GetStringValue(cJSON_GetObjectItem(message, "content"));
    const char *refusal = cJSON_GetStringValue(cJSON_GetObjectItem(message, "refusal"));
    if (model) out->model_id = tb_strdup(model);
    if (finish) out->finish_reason = tb_strdup(finish);
    if (refusal && *refusal) {
        out->status = JUDGE_REFUSED;
        out->content = tb_strdup(refusal);
        snprintf(out->error, sizeof out->error, "the judge refused to answer");
    } else if (finish && tb_streq(finish, "content_filter")) {
        out->status = JUDGE_REFUSED;
        if (content) out->content = tb_strdup(content);
        snprintf(out->error, sizeof out->error, "the answer was stopped by the endpoint's content filter");
    } else if (!content || !*content) {
        out->status = JUDGE_REFUSED;
        snprintf(out->error, sizeof out->error, "the answer has no content");
    } else {
        out->status = JUDGE_OK;
        out->content = tb_strdup(content);
    }
    cJSON_Delete(root);
}

// ---------------------------------------------------------------- transport
typedef struct {
    char *data;
    size_t len, cap;
} Buffer;

static size_t on_body(char *ptr, size_t size, size_t n, void *ctx) {
    Buffer *b = ctx;
    size_t add = size * n;
    if (b->len + add + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + add + 1) cap *= 2;
        char *grown = realloc(b->data, cap);
        if (!grown) return 0;  // curl then fails the transfer (CURLE_WRITE_ERROR)
        b->data = grown, b->cap = cap;
    }
    memcpy(b->data + b->len, ptr, add);
    b->len += add;
    b->data[b->len] = '\0';
    return add;
}

// Retry-After in seconds (the HTTP-date form is taken as absent).
static size_t on_header(char *ptr, size_t size, size_t n, void *ctx) {
    size_t len = size * n;
    static const char name[] = "retry-after:";
    if (len > sizeof name - 1 && strncasecmp(ptr, name, sizeof name - 1) == 0) {
        const char *v = ptr + sizeof name - 1;
        while (v < ptr + len && (*v == ' ' || *v == '\t')) v++;
        if (v < ptr + len && isdigit((unsigned char)*v)) *(double *)ctx = strtod(v, NULL);
    }
    return len;
}

static void sleep_seconds(double s) {
    if (s <= 0) return;
    struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

// The URL to post to: a base URL gains /chat/completions.
static void request_url(const char *endpoint, char *out, size_t cap) {
    size_t n = strlen(endpoint);
    while (n > 0 && endpoint[n - 1] == '/') n--;
    static const char path[] = "/chat/completions";
    if (n >= sizeof path - 1 && strncmp(endpoint + n - (sizeof path - 1), path, sizeof path - 1) == 0)
        snprintf(out, cap, "%.*s", (int)n, endpoint);
    else
        snprintf(out, cap, "%.*s%s", (int)n, endpoint, path);
}

int judge_ask(const JudgeClient *c, const char *question, JudgeAnswer *out) {
    memset(out, 0, sizeof *out);
    static int curl_ready;
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return tb_error("judge: libcurl could not start");
        curl_ready = 1;
    }
    cJSON *req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, "model", c->model);
    cJSON *messages = cJSON_AddArrayToObject(req, "messages");
    cJSON *msg = cJSON_CreateObject();
    cJSON_AddStringToObject(msg, "role", "user");
    cJSON_AddStringToObject(msg, "content", question);
    cJSON_AddItemToArray(messages, msg);
    cJSON_AddNumberToObject(req, "temperature", c->temperature);
    if (c->max_tokens > 0) cJSON_AddNumberToObject(req, "max_tokens", c->max_tokens);
    char *body = tb_json_print(req, 0);
    cJSON_Delete(req);

    char url[4096];
    request_url(c->endpoint, url, sizeof url);
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (c->api_key && *c->api_key) {
        size_t n = strlen(c->api_key) + 32;
        char *auth = tb_malloc(n);
        snprintf(auth, n, "Authorization: Bearer %s", c->api_key);
        headers = curl_slist_append(headers, auth);
        memset(auth, 0, n);
        free(auth);
    }
    CURL *h = curl_easy_init();
    if (!h || !headers) {
        curl_slist_free_all(headers);
        if (h) curl_easy_cleanup(h);
        free(body);
        return tb_error("judge: libcurl could not create a request");
    }
    double wait = c->backoff_s;
    for (;;) {
        Buffer resp = {0};
        double retry_after = -1;
        curl_easy_reset(h);
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(c->timeout_s * 1000));
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(c->timeout_s * 1000));
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, &retry_after);
        CURLcode rc = curl_easy_perform(h);
        long code = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
        out->attempts++;
        out->http_status = (int)code;
        int retry = 0;
        if (rc == CURLE_OPERATION_TIMEDOUT) {
            out->status = JUDGE_TIMEOUT;
            snprintf(out->error, sizeof out->error, "no answer within %g s (--timeout)", c->timeout_s);
        } else if (rc != CURLE_OK) {
            out->status = JUDGE_CONNECTION_ERROR;
            snprintf(out->error, sizeof out->error, "%.120s: %s", url, curl_easy_strerror(rc));
        } else if (code == 429 || code >= 500) {
            out->status = code == 429 ? JUDGE_RATE_LIMITED : JUDGE_SERVER_ERROR;
            snprintf(out->error, sizeof out->error, "HTTP %ld after %d attempts", code, out->attempts);
            retry = out->attempts <= c->max_retries;
        } else if (code != 200) {
            out->status = JUDGE_HTTP_ERROR;
            // The server's message is usually the useful part ("model not found").
            char first[160] = "";
            if (resp.data) snprintf(first, sizeof first, "%s", resp.data);
            for (char *p = first; *p; p++)
                if (*p == '\n' || *p == '\r') *p = ' ';
            snprintf(out->error, sizeof out->error, "HTTP %ld: %s", code, first);
        } else {
            out->error[0] = '\0';
            judge_parse_response(resp.data, out);
        }
        free(resp.data);
        if (!retry) break;
        double w = retry_after >= 0 ? retry_after : wait;
        sleep_seconds(w < c->max_wait_s ? w : c->max_wait_s);
        wait *= 2;
    }
    curl_easy_cleanup(h);
    curl_slist_free_all(headers);
    free(body);
    return 0;
}
