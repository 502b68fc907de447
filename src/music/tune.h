// tune.h: ABC text read as music, for checking and measuring generated tunes.
//
// The data pipeline's lexer (data/) turns ABC into tokens for the models; this
// parser turns one tune into what the music metrics need: its bars (with the
// duration each one has and the duration the meter asks for), its notes (with
// their sounding pitch and the key in force), and the problems it found. The
// problems are the project's own ABC checker: a tune with no error is
// syntactically valid.
//
// Durations are exact fractions of a whole note, so that triplets, broken
// rhythms and odd units compare without rounding: a bar of 6/8 holds 3/4.
//
// What the parser understands (ABC 2.1): header fields X: T: M: L: K: and the
// rest; notes with accidentals (^ ^^ _ __ =), octave marks (' ,) and lengths
// (2, 3/2, /, //, /4, 3/); rests z x and bar rests Z X; chords [CEG]2; broken
// rhythm > >> < <<; tuplets (3 (3:2 (3:2:3; grace notes {...} (no time);
// decorations !trill! +trill+ and . ~ H L M O P S T u v (and U: symbols);
// chord symbols and annotations "..."; ties, slurs, spacers y and `; bar
// lines | || |] [| |: :| :: and volta endings |1 :|2 [1 [2 |1,3; inline fields
// [M:3/4] [L:1/16] [K:Dm] and field lines inside the body; voice overlay &;
// comments % and %% directives; line continuation \.
#ifndef TB_MUSIC_TUNE_H
#define TB_MUSIC_TUNE_H

#include <stddef.h>
#include <stdint.h>

// ---------------------------------------------------------------- fractions
typedef struct {
    int64_t num, den;  // den > 0, reduced; {0, 0} when a result left int64
} Rational;

// 0 for {0, 0}: a result that overflowed (or a zero denominator). Every
// operation passes it on; rat_to_double gives NaN for it.
int rat_valid(Rational a);

Rational rat_make(int64_t num, int64_t den);
Rational rat_add(Rational a, Rational b);
Rational rat_sub(Rational a, Rational b);
Rational rat_mul(Rational a, Rational b);
int rat_cmp(Rational a, Rational b);  // -1, 0, 1
double rat_to_double(Rational a);

// ---------------------------------------------------------------- keys
// A key signature: the accidental each letter carries (-2..2, index 0 = C,
// 1 = D, ... 6 = B) and the set of pitch classes of its scale (bit pc).
typedef struct {
    int8_t letter_accidental[7];
    uint16_t scale_mask;  // 0: no key (K:none); key consistency skips such notes
    int tonic_pc;         // 0..11, -1 for none
} MusicKey;

// Parses a K: value ("G", "Ador", "F#m", "Bb mix", "D =c", "C exp ^f _b",
// "none", "HP", "Hp", with clef words after it). Returns 0, or -1 with the
// error set naming the text.
int music_parse_key(const char *text, MusicKey *key);

// Parses an M: value ("6/8", "C", "C|", "2+3/8", "none") into the length of
// one bar in whole notes; {0, 1} for free meter. Returns 0 or -1.
int music_parse_meter(const char *text, Rational *bar_length);

// Parses an L: value ("1/8", "1/16", "1") into whole notes. Returns 0 or -1.
int music_parse_unit(const char *text, Rational *unit);

// ---------------------------------------------------------------- tunes
enum {
    BAR_FIRST = 1,          // the first bar of the tune (may be a pickup)
    BAR_AFTER_SECTION = 2,  // starts after || |: :| :: [| (may be a pickup)
    BAR_BEFORE_SECTION = 4, // ends with || |] :| :: or is the tune's last bar
    BAR_VOLTA = 8,          // starts a volta ending (|1, :|2, [1)
    BAR_MULTI_REST = 16,    // a bar rest Z or X: its length is the meter's by definition
    BAR_UNTERMINATED = 32,  // the tune ended inside it, with no closing bar line
};

typedef struct {
    Rational duration;  // what the bar holds (the longest part under voice overlay &)
    Rational expected;  // one bar of the meter in force when it started; {0,1} if free
    int flags;          // BAR_*
    int num_notes;      // notes (not rests), chord notes counted one by one
    int text_offset;    // its music text, spaces removed, in MusicTune.bar_text
    int text_length;
} TuneBar;

typedef struct {
    int16_t pitch;       // MIDI number, middle C (ABC "C") = 60
    uint16_t key_mask;   // scale of the key in force (MusicKey.scale_mask)
    int32_t bar;         // index into bars
    float duration;      // whole notes (each note of a chord: the chord's); ties not joined
} TuneNote;

typedef struct {
    int line, column;  // 1-based, in the tune's text
    char message[120];
} TuneIssue;

typedef struct {
    // Header fields as written (empty when absent), without the "X:" prefix.
    char x[16], title[128], meter[32], unit[32], key[64];
    char control_s[16], control_b[16], control_e[16];  // TunesFormer S:, B:, E:
    int header_lines;     // lines up to and including K:
    int num_repeats;      // repeat ends in the body (:| :: :|])

    TuneBar *bars;
    int num_bars, cap_bars;
    TuneNote *notes;
    int num_notes, cap_notes;
    char *bar_text;       // bar texts, back to back (not NUL-separated)
    int bar_text_len, bar_text_cap;

    // The checker: errors make a tune invalid; warnings do not.
    int num_errors, num_warnings;
    TuneIssue issues[8];  // the first few, errors and warnings in order
    int num_issues_kept;
} MusicTune;

// Parses one tune (X: to the end of text). Never fails on bad ABC: problems
// become issues and parsing goes on as far as it can. Free with tune_free.
void tune_parse(MusicTune *t, const char *text, size_t len);
void tune_free(MusicTune *t);

// Calls fn for each tune in a text of many (a tune starts at a line "X:" and
// ends at a blank line or the next "X:"). Text with no X: line at all is one
// tune. Returns the number of tunes.
typedef void (*TuneTextFn)(const char *text, size_t len, void *ctx);
int music_split_tunes(const char *text, size_t len, TuneTextFn fn, void *ctx);

#endif
