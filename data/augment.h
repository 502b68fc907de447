// augment.h: key-transposed copies of training tunes (prepare --augment
// transpose), made by abcmidi's abc2abc -t N.
//
// Each copy is checked before it is kept; a copy that fails a check is
// dropped and counted by reason (AugDrop): abc2abc reported an error in it,
// abc2abc's output lacks it, the data layer's tune checker rejects it
// (corpus_check_tune), or it holds another number of notes than the
// original (the abc lexer's NOTE lexemes: a transposition moves every note
// and drops none). prepare then puts each kept copy through the style and
// the tokenizer's round trip, and counts those drops too.
#ifndef TB_AUGMENT_H
#define TB_AUGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "corpus.h"

// The transpositions, in semitones: -5..+6 (every key once, 0 excluded).
#define AUGMENT_MIN_SEMITONES (-5)
#define AUGMENT_MAX_SEMITONES 6

typedef enum {
    AUG_DROP_TOOL_ERROR,  // abc2abc wrote %Error or %Warning into the tune
    AUG_DROP_MISSING,     // abc2abc's output has no tune with this number
    AUG_DROP_TUNE_CHECK,  // corpus_check_tune rejects the transposed tune
    AUG_DROP_NOTE_COUNT,  // another number of notes than the original
    AUG_DROP_COUNT
} AugDrop;

const char *augment_drop_name(AugDrop reason);

typedef struct {
    char *text;     // normalised tune (malloc'ed), its X: line the original's
    size_t len;
    size_t source;  // index of the original in the caller's array
    int semitones;
} AugTune;

typedef struct {
    AugTune *tunes;
    size_t count, cap;
    uint64_t dropped[AUG_DROP_COUNT];
} AugSet;

void augset_free(AugSet *set);

// Transposes tunes[0..n) (normalised, each starting with its X: line) by
// `semitones` with one abc2abc run, and appends the copies that pass the
// checks to out. Returns 0, or -1 + tb_error when abc2abc cannot be run.
int augment_transpose(char *const *tunes, const size_t *lens, size_t n, int semitones, AugSet *out);

// Every transposition (AUGMENT_MIN..MAX_SEMITONES) of the found tunes that
// are not on the validation side (found_val[i] == 0); the copies' source is
// their index in found. Returns 0, or -1 + tb_error.
int augment_training(const TuneSet *found, const unsigned char *found_val, AugSet *aug);

// abc2abc's version line ("2.20 Feb 07 2023 abc2abc"), or -1 + tb_error.
int augment_tool_version(char *out, size_t cap);

#endif
