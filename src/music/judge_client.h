// judge_client.h: one question to an OpenAI-compatible chat-completions
// endpoint (llama.cpp's llama-server, vLLM, ollama, OpenAI), over libcurl.
//
// A question is one user message; the answer is the first choice's message.
// 429 and 5xx answers are retried with exponential backoff (Retry-After, in
// seconds, is honoured up to max_wait_s); everything else that goes wrong
// ends as a status, never as an exit: a tool that scores hundreds of tunes
// must not lose them to one bad answer.
#ifndef TB_MUSIC_JUDGE_CLIENT_H
#define TB_MUSIC_JUDGE_CLIENT_H

// The outcome of one question. Statuses are the strings of the JSON record.
#define JUDGE_STATUSES(X)                                                            \
    X(JUDGE_OK, "ok")                          /* an answer */                       \
    X(JUDGE_REFUSED, "refused")                /* refusal field, content_filter, or \
                                                  no content */                      \
    X(JUDGE_MALFORMED_SCORES, "malformed_scores") /* the rubric's JSON is missing or \
                                                  out of range */                    \
    X(JUDGE_MALFORMED_RESPONSE, "malformed_response") /* not chat-completions JSON */ \
    X(JUDGE_TIMEOUT, "timeout")                /* no full answer within timeout_s */ \
    X(JUDGE_RATE_LIMITED, "rate_limited")      /* 429 after every retry */           \
    X(JUDGE_SERVER_ERROR, "server_error")      /* 5xx after every retry */           \
    X(JUDGE_HTTP_ERROR, "http_error")          /* another non-200 status */          \
    X(JUDGE_CONNECTION_ERROR, "connection_error")

typedef enum {
#define X(id, name) id,
    JUDGE_STATUSES(X)
#undef X
} JudgeStatus;

const char *judge_status_name(JudgeStatus s);

typedef struct {
    const char *endpoint;  // base URL (http://127.0.0.1:8080/v1) or the full .../chat/completions
    const char *model;     // the model name the endpoint serves
    const char *api_key;   // sent as "Authorization: Bearer"; NULL for none; never printed
    double timeout_s;      // per attempt
    int max_retries;       // retries after the first attempt, for 429 and 5xx
    double backoff_s;      // the first wait; doubles each retry
    double max_wait_s;     // cap on any one wait (Retry-After included)
    double temperature;
    int max_tokens;        // 0: the server's default
} JudgeClient;

typedef struct {
    JudgeStatus status;
    int http_status;      // the last attempt's (0 when none came)
    int attempts;
    char *content;        // the answer's text (malloc'ed; NULL when none)
    char *model_id;       // the "model" field of the response (malloc'ed; NULL when none)
    char *finish_reason;  // malloc'ed; NULL when none
    char error[256];      // what went wrong, one line (empty when ok)
} JudgeAnswer;

// Asks one question. Returns 0 and fills *out whatever happens (check
// out->status); -1 only when libcurl cannot be set up at all.
int judge_ask(const JudgeClient *c, const char *question, JudgeAnswer *out);
void judge_answer_free(JudgeAnswer *a);

// Reads the answer body of a chat-completions response into *out (content,
// model_id, finish_reason, status ok/refused/malformed_response).
void judge_parse_response(const char *body, JudgeAnswer *out);

#endif
