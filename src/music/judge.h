// judge.h: the study's LLM judge, asked about one tune at a time, with an
// on-disk cache of answers.
//
// Two questions per tune, each in its own conversation so that the scores do
// not depend on a sampled free-text answer:
//   study   the study's prompt, verbatim, then the tune (free text);
//   rubric  1-10 scores of musicality, harmony and coherence as JSON.
// An answer is cached under (model name, question) with the question's text
// and the tune stored beside it and compared on reading, so a rerun asks
// nothing again and a hash collision cannot return another tune's answer.
#ifndef TB_MUSIC_JUDGE_H
#define TB_MUSIC_JUDGE_H

#include <stddef.h>

#include "judge_client.h"

typedef struct cJSON cJSON;

extern const char judge_study_prompt[];
extern const char judge_rubric_prompt[];

#define JUDGE_ASPECTS(X) X(musicality) X(harmony) X(coherence)
enum { JUDGE_NUM_ASPECTS = 3 };
extern const char *const judge_aspects[JUDGE_NUM_ASPECTS];

typedef struct {
    JudgeClient client;
    const char *cache_dir;  // NULL: no cache
} Judge;

// Parses the rubric answer: the first {...} in it holding the three aspects
// as numbers 1-10. Returns 0 with scores set, or -1.
int judge_parse_scores(const char *answer, double scores[JUDGE_NUM_ASPECTS]);

// Asks `prompt` + "\n\n" + tune, from the cache when it holds the answer.
// *cached is set to 1 when it did. Answers that came back from the model
// (ok, refused, malformed scores) are cached; transport failures are not.
int judge_ask_cached(const Judge *j, const char *prompt, const char *tune, JudgeAnswer *a, int *cached);

// One JSON object for an answer: status, content, model_id, finish_reason,
// attempts, http_status, cached, error.
cJSON *judge_answer_json(const JudgeAnswer *a, int cached);

// The hex FNV-1a hash of a text, as the records state it (17 bytes with the NUL).
void judge_hash_hex(const char *text, size_t len, char out[17]);

#endif
