// tune_fields.c: exact fractions and the three fields that give notes their
// meaning: K: (key signature and scale), M: (bar length) and L: (unit note).
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/common.h"
#include "tune.h"

// ---------------------------------------------------------------- fractions
static int64_t gcd64(int64_t a, int64_t b) {
    if (a < 0) a = -a;
    if (b < 0) b = -b;
    while (b) {
        int64_t r = a % b;
        a = b, b = r;
    }
    return a ? a : 1;
}

// A fraction whose numerator or denominator leaves int64 is {0, 0}, "no
// value": every operation passes it on, so that a tune with an absurd
// duration (e>>>>>>...f, lengths like C99999/99991 summed in one bar) ends
// with an invalid bar instead of an overflow. rat_valid tells.
static const Rational rat_none = {0, 0};

int rat_valid(Rational a) { return a.den > 0; }

Rational rat_make(int64_t num, int64_t den) {
    if (den == 0 || num == INT64_MIN || den == INT64_MIN) return rat_none;
    if (den < 0) num = -num, den = -den;
    int64_t g = gcd64(num, den);
    return (Rational){num / g, den / g};
}

// Denominators stay small for real music (products of 2, 3 and tuplet
// sizes); reducing after each step keeps them so.
Rational rat_add(Rational a, Rational b) {
    if (!rat_valid(a) || !rat_valid(b)) return rat_none;
    int64_t g = gcd64(a.den, b.den), x, y, sum, den;
    if (__builtin_mul_overflow(a.num, b.den / g, &x) || __builtin_mul_overflow(b.num, a.den / g, &y) ||
        __builtin_add_overflow(x, y, &sum) || __builtin_mul_overflow(a.den / g, b.den, &den))
        return rat_none;
    return rat_make(sum, den);
}
Rational rat_sub(Rational a, Rational b) {
    if (!rat_valid(b) || b.num == INT64_MIN) return rat_none;
    return rat_add(a, (Rational){-b.num, b.den});
}
Rational rat_mul(Rational a, Rational b) {
    if (!rat_valid(a) || !rat_valid(b)) return rat_none;
    Rational x = rat_make(a.num, b.den), y = rat_make(b.num, a.den);
    int64_t num, den;
    if (__builtin_mul_overflow(x.num, y.num, &num) || __builtin_mul_overflow(x.den, y.den, &den))
        return rat_none;
    return rat_make(num, den);
}
double rat_to_double(Rational a) { return rat_valid(a) ? (double)a.num / (double)a.den : NAN; }

// An invalid fraction compares equal to another and above every valid one.
int rat_cmp(Rational a, Rational b) {
    if (!rat_valid(a) || !rat_valid(b)) return rat_valid(b) - rat_valid(a);
    Rational d = rat_sub(a, b);
    if (rat_valid(d)) return d.num < 0 ? -1 : d.num > 0;
    double x = rat_to_double(a), y = rat_to_double(b);
    return x < y ? -1 : x > y;
}

// ---------------------------------------------------------------- keys
static const int natural_pc[7] = {0, 2, 4, 5, 7, 9, 11};  // C D E F G A B

static int letter_index(int c) {
    static const char letters[] = "CDEFGAB";
    const char *p = strchr(letters, toupper(c));
    return (p && c) ? (int)(p - letters) : -1;
}

// Semitones of each degree above the tonic, per mode.
static const struct {
    const char *name;  // first three letters, lower case
    int steps[7];
} modes[] = {
    {"maj", {0, 2, 4, 5, 7, 9, 11}}, {"ion", {0, 2, 4, 5, 7, 9, 11}},
    {"min", {0, 2, 3, 5, 7, 8, 10}}, {"aeo", {0, 2, 3, 5, 7, 8, 10}},
    {"dor", {0, 2, 3, 5, 7, 9, 10}}, {"phr", {0, 1, 3, 5, 7, 8, 10}},
    {"lyd", {0, 2, 4, 6, 7, 9, 11}}, {"mix", {0, 2, 4, 5, 7, 9, 10}},
    {"loc", {0, 1, 3, 5, 6, 8, 10}},
};

static void key_set_mask(MusicKey *key) {
    key->scale_mask = 0;
    for (int l = 0; l < 7; l++)
        key->scale_mask |= (uint16_t)(1u << (((natural_pc[l] + key->letter_accidental[l]) % 12 + 12) % 12));
}

// Applies "^f _b =c" style accidentals from position s onwards.
static int key_apply_accidentals(MusicKey *key, const char *s, const char *text) {
    while (*s) {
        while (*s == ' ' || *s == '\t') s++;
        if (!*s) break;
        int acc = 0, explicit_acc = 0;
        if (*s == '^' || *s == '_' || *s == '=') {
            explicit_acc = 1;
            if (*s == '=') s++;
            else {
                int sign = *s == '^' ? 1 : -1;
                while (*s == '^' || *s == '_') acc += sign, s++;
            }
            int l = letter_index(*s);
            if (l < 0) return tb_error("K:%s: accidental with no note letter; write e.g. K:D ^c", text);
            key->letter_accidental[l] = (int8_t)acc;
            s++;
        }
        if (!explicit_acc) {
            // A word like treble, clef=bass, octave=1, transpose=-2: not part of the key.
            while (*s && *s != ' ' && *s != '\t') s++;
        }
    }
    return 0;
}

int music_parse_key(const char *text, MusicKey *key) {
    memset(key, 0, sizeof *key);
    key->tonic_pc = 0;
    key_set_mask(key);  // C major until told otherwise
    const char *s = text;
    while (*s == ' ' || *s == '\t') s++;
    if (!*s || strncmp(s, "none", 4) == 0) {
        // K: empty or none: no signature and no scale to be consistent with.
        key->scale_mask = 0, key->tonic_pc = -1;
        return 0;
    }
    if (s[0] == 'H' && (s[1] == 'P' || s[1] == 'p')) {
        // Highland pipes: A mixolydian; HP writes no signature, Hp writes F# C#.
        int hp_signature = s[1] == 'p';
        for (int l = 0; l < 7; l++) key->letter_accidental[l] = 0;
        key->letter_accidental[3] = key->letter_accidental[0] = 1;  // F# C#
        key->tonic_pc = 9;
        key_set_mask(key);
        if (!hp_signature) memset(key->letter_accidental, 0, sizeof key->letter_accidental);
        return key_apply_accidentals(key, s + 2, text);
    }
    if (strncmp(s, "clef", 4) == 0 || s[0] == '^' || s[0] == '_' || s[0] == '=') {
        return key_apply_accidentals(key, s, text) ? -1 : (key_set_mask(key), 0);
    }
    int tonic = letter_index(*s);
    if (tonic < 0 || !isupper((unsigned char)*s))
        return tb_error("K:%s: the key must start with a tonic A-G (e.g. K:G, K:Ador, K:F#m)", text);
    s++;
    int tonic_acc = 0;
    if (*s == '#') tonic_acc = 1, s++;
    else if (*s == 'b') tonic_acc = -1, s++;
    while (*s == ' ' || *s == '\t') s++;
    int mode = 0;  // major
    if (isalpha((unsigned char)*s)) {
        char word[4] = {0};
        int n = 0;
        while (isalpha((unsigned char)s[n])) {
            if (n < 3) word[n] = (char)tolower((unsigned char)s[n]);
            n++;
        }
        if (n == 1 && (word[0] == 'm')) {
            mode = 2;
            s += n;
        } else if (strcmp(word, "exp") == 0) {
            // K:D exp ^f ^c: only the listed accidentals.
            mode = -1;
            s += n;
        } else {
            mode = -2;
            for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
                if (strcmp(word, modes[i].name) == 0) mode = (int)i;
            if (mode == -2) {
                // Not a mode: a clef word ("treble", "bass") or an unknown one.
                static const char *clef_words[] = {"tre", "bas", "alt", "ten", "cle", "oct",
                                                   "tra", "mid", "sta", "per", "non"};
                int is_clef = 0;
                for (size_t i = 0; i < sizeof clef_words / sizeof clef_words[0]; i++)
                    if (strcmp(word, clef_words[i]) == 0) is_clef = 1;
                if (!is_clef)
                    return tb_error("K:%s: unknown mode '%.*s' (use maj, m, min, dor, phr, lyd, mix, loc, exp)",
                                    text, n, s);
                mode = 0;
            } else {
                s += n;
            }
        }
    }
    key->tonic_pc = ((natural_pc[tonic] + tonic_acc) % 12 + 12) % 12;
    if (mode == -1) {
        memset(key->letter_accidental, 0, sizeof key->letter_accidental);
    } else {
        // Degree d sits on letter tonic+d; its accidental is what it takes to
        // reach the mode's pitch from that letter's natural pitch.
        for (int d = 0; d < 7; d++) {
            int l = (tonic + d) % 7;
            int want = key->tonic_pc + modes[mode].steps[d];
            int diff = ((want - natural_pc[l]) % 12 + 12) % 12;
            if (diff > 6) diff -= 12;
            key->letter_accidental[l] = (int8_t)diff;
        }
    }
    if (key_apply_accidentals(key, s, text)) return -1;
    key_set_mask(key);
    return 0;
}

// ---------------------------------------------------------------- meter, unit
// Reads "3", "2+3", "(2+2+3)" as the sum of its terms.
static int parse_sum(const char **sp, int64_t *out) {
    const char *s = *sp;
    int paren = *s == '(';
    if (paren) s++;
    int64_t sum = 0;
    int terms = 0;
    for (;;) {
        while (*s == ' ') s++;
        if (!isdigit((unsigned char)*s)) break;
        long term = strtol(s, (char **)&s, 10);
        if (term > 100000 || sum > 100000) return -1;  // no meter has such numbers
        sum += term;
        terms++;
        while (*s == ' ') s++;
        if (*s != '+') break;
        s++;
    }
    if (paren) {
        if (*s != ')') return -1;
        s++;
    }
    if (!terms) return -1;
    *sp = s, *out = sum;
    return 0;
}

int music_parse_meter(const char *text, Rational *bar_length) {
    const char *s = text;
    while (*s == ' ' || *s == '\t') s++;
    if (!*s || strncmp(s, "none", 4) == 0) {
        *bar_length = (Rational){0, 1};
        return 0;
    }
    if (s[0] == 'C') {
        *bar_length = s[1] == '|' ? rat_make(2, 2) : rat_make(4, 4);
        return 0;
    }
    int64_t num, den;
    if (parse_sum(&s, &num) || *s != '/' || (s++, parse_sum(&s, &den)) || num <= 0 || den <= 0)
        return tb_error("M:%s: the meter must be like 6/8, 2+3/8, C or C| (or none)", text);
    *bar_length = rat_make(num, den);
    return 0;
}

int music_parse_unit(const char *text, Rational *unit) {
    const char *s = text;
    while (*s == ' ' || *s == '\t') s++;
    char *end;
    long num = strtol(s, &end, 10);
    long den = 1;
    if (end == s) return tb_error("L:%s: the unit note length must be like 1/8", text);
    s = end;
    if (*s == '/') {
        den = strtol(s + 1, &end, 10);
        if (end == s + 1) return tb_error("L:%s: the unit note length must be like 1/8", text);
        s = end;
    }
    while (*s == ' ' || *s == '\t') s++;
    if (num <= 0 || den <= 0 || *s)
        return tb_error("L:%s: the unit note length must be like 1/8", text);
    *unit = rat_make(num, den);
    return 0;
}
