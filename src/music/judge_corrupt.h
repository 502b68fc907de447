// judge_corrupt.h: real tunes made worse in known ways, for validating a
// judge (an LLM that cannot tell a tune from its corruption is not judging
// the music).
//
//   shuffle    the bars' contents in a random order (bar lines stay put);
//   randomise  every note letter replaced by a random one (same case, so the
//              octave is kept; accidentals, lengths and the rest stay);
//   truncate   the body cut at its middle bar line.
// The header (up to K:) is kept as it is. Deterministic in the seed.
#ifndef TB_MUSIC_JUDGE_CORRUPT_H
#define TB_MUSIC_JUDGE_CORRUPT_H

#include <stddef.h>
#include <stdint.h>

#define JUDGE_CORRUPTIONS(X) \
    X(CORRUPT_SHUFFLE, "shuffled_bars") X(CORRUPT_RANDOMISE, "random_pitches") X(CORRUPT_TRUNCATE, "truncated")

typedef enum {
#define X(id, name) id,
    JUDGE_CORRUPTIONS(X)
#undef X
        CORRUPT_COUNT
} Corruption;

const char *corruption_name(Corruption c);

// The corrupted tune as a malloc'ed NUL-terminated string.
char *corrupt_tune(const char *text, size_t len, Corruption c, uint64_t seed);

#endif
