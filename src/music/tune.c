// tune.c: one ABC tune read as bars and notes, and checked on the way.
//
// The body is read one line at a time, left to right, as a stream of
// elements (notes, chords, rests) separated by bar lines. Each element's
// duration is unit length x its written length x any tuplet and broken-rhythm
// factor; a bar's duration is the sum. Accidentals follow ABC 2.1: the key
// signature, unless an explicit accidental earlier in the bar on the same
// letter and octave overrides it.
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "lib/common.h"
#include "tune.h"

#define NO_ACCIDENTAL 127

typedef struct {
    MusicTune *t;
    int line;            // 1-based line of the tune's text being read
    const char *line_start;
    MusicKey key;
    Rational unit, meter;
    int meter_compound;  // 6/8, 9/8, 12/8: changes the default tuplet q
    int8_t bar_accidental[7][12];  // per letter and octave; NO_ACCIDENTAL if none
    char user_symbols[64];         // letters that U: defines as decorations

    // The bar being read.
    Rational bar_duration, overlay_longest;
    int bar_flags, bar_notes, bar_has_content, bar_text_start;
    Rational bar_expected;
    int bar_started;  // the meter of the bar is fixed at its first element

    // Rhythm state between elements.
    int has_last;            // an element earlier in this bar can take a broken rhythm
    Rational last_duration;  // its duration so far
    int broken_pending;      // the next element takes broken_factor
    Rational broken_factor;
    int tuplet_left;
    Rational tuplet_factor;
    // The notes of the element being read, then of the last one: they take
    // its duration (and a broken rhythm's correction).
    int elem_first_note, last_first_note, last_end_note;
} Parser;

// ---------------------------------------------------------------- issues
static void add_issue(Parser *p, int is_error, int column, const char *fmt, ...) TB_PRINTF(4, 5);
static void add_issue(Parser *p, int is_error, int column, const char *fmt, ...) {
    MusicTune *t = p->t;
    if (is_error) t->num_errors++;
    else t->num_warnings++;
    if (t->num_issues_kept >= (int)(sizeof t->issues / sizeof t->issues[0])) return;
    TuneIssue *is = &t->issues[t->num_issues_kept++];
    is->line = p->line, is->column = column;
    int n = snprintf(is->message, sizeof is->message, "%s: ", is_error ? "error" : "warning");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(is->message + n, sizeof is->message - (size_t)n, fmt, ap);
    va_end(ap);
}
#define ERR(p, i, ...) add_issue(p, 1, (int)(i) + 1, __VA_ARGS__)
#define WARN(p, i, ...) add_issue(p, 0, (int)(i) + 1, __VA_ARGS__)

// ---------------------------------------------------------------- storage
static void push_note(Parser *p, int pitch) {
    MusicTune *t = p->t;
    if (t->num_notes == t->cap_notes) {
        t->cap_notes = t->cap_notes ? 2 * t->cap_notes : 256;
        TuneNote *grown = realloc(t->notes, (size_t)t->cap_notes * sizeof *grown);
        if (!grown) tb_die("out of memory reading a tune");
        t->notes = grown;
    }
    t->notes[t->num_notes++] = (TuneNote){(int16_t)pitch, p->key.scale_mask, t->num_bars, 0};
    p->bar_notes++;
    p->bar_has_content = 1;  // the bar its note names is closed, even where no length follows (a cut chord)
}

static void append_bar_text(Parser *p, const char *s, int n) {
    MusicTune *t = p->t;
    for (int i = 0; i < n; i++) {
        if (isspace((unsigned char)s[i])) continue;
        if (t->bar_text_len == t->bar_text_cap) {
            t->bar_text_cap = t->bar_text_cap ? 2 * t->bar_text_cap : 1024;
            char *grown = realloc(t->bar_text, (size_t)t->bar_text_cap);
            if (!grown) tb_die("out of memory reading a tune");
            t->bar_text = grown;
        }
        t->bar_text[t->bar_text_len++] = s[i];
    }
}

static void reset_bar(Parser *p, int flags) {
    p->bar_duration = p->overlay_longest = (Rational){0, 1};
    p->bar_flags = flags;
    p->bar_notes = p->bar_has_content = 0;
    p->bar_started = 0;
    p->bar_text_start = p->t->bar_text_len;
    p->has_last = 0;
    for (int l = 0; l < 7; l++)
        for (int o = 0; o < 12; o++) p->bar_accidental[l][o] = NO_ACCIDENTAL;
}

// Ends the bar at a bar line. end_flags: BAR_BEFORE_SECTION when the bar line
// closes a section; next_flags: what the following bar starts as.
static void close_bar(Parser *p, int end_flags, int next_flags, int column) {
    MusicTune *t = p->t;
    if (p->broken_pending) {
        ERR(p, column, "broken rhythm '>' or '<' has no note after it in its bar");
        p->broken_pending = 0;
    }
    if (p->bar_has_content) {
        if (t->num_bars == t->cap_bars) {
            t->cap_bars = t->cap_bars ? 2 * t->cap_bars : 64;
            TuneBar *grown = realloc(t->bars, (size_t)t->cap_bars * sizeof *grown);
            if (!grown) tb_die("out of memory reading a tune");
            t->bars = grown;
        }
        int first = t->num_bars == 0 ? BAR_FIRST : 0;
        Rational d = rat_cmp(p->overlay_longest, p->bar_duration) > 0 ? p->overlay_longest
                                                                       : p->bar_duration;
        if (!rat_valid(d))
            ERR(p, column, "the bar's note lengths add up to an absurd duration; check lengths and broken rhythms");
        t->bars[t->num_bars++] = (TuneBar){
            .duration = d,
            .expected = p->bar_expected,
            .flags = p->bar_flags | end_flags | first,
            .num_notes = p->bar_notes,
            .text_offset = p->bar_text_start,
            .text_length = t->bar_text_len - p->bar_text_start,
        };
        reset_bar(p, next_flags);
    } else {
        // An empty stretch ("|:" at the start, "| |"): the flags carry over.
        if (end_flags && t->num_bars > 0) t->bars[t->num_bars - 1].flags |= end_flags;
        int keep = p->bar_flags;
        reset_bar(p, keep | next_flags);
    }
}

// ---------------------------------------------------------------- elements
// One note, chord or rest of written duration `written` (in units) starts.
static void add_element(Parser *p, Rational written) {
    if (!p->bar_started) {
        p->bar_started = 1;
        p->bar_expected = p->meter;
    }
    Rational d = rat_mul(written, p->unit);
    if (p->tuplet_left > 0) {
        d = rat_mul(d, p->tuplet_factor);
        p->tuplet_left--;
    }
    if (p->broken_pending) {
        d = rat_mul(d, p->broken_factor);
        p->broken_pending = 0;
    }
    p->bar_duration = rat_add(p->bar_duration, d);
    p->bar_has_content = 1;
    p->has_last = 1;
    p->last_duration = d;
    for (int k = p->elem_first_note; k < p->t->num_notes; k++) p->t->notes[k].duration = (float)rat_to_double(d);
    p->last_first_note = p->elem_first_note, p->last_end_note = p->t->num_notes;
    p->elem_first_note = p->t->num_notes;
}

// Reads a length suffix: "", "2", "3/2", "/", "//", "/4", "3/". 0 or -1.
static int read_length(Parser *p, const char *s, int n, int *i, Rational *out) {
    int64_t num = 1, den = 1;
    if (*i < n && isdigit((unsigned char)s[*i])) {
        num = 0;
        while (*i < n && isdigit((unsigned char)s[*i]) && num < 100000) num = num * 10 + (s[(*i)++] - '0');
    }
    while (*i < n && s[*i] == '/') {
        (*i)++;
        if (*i < n && isdigit((unsigned char)s[*i])) {
            int64_t d = 0;
            while (*i < n && isdigit((unsigned char)s[*i]) && d < 100000) d = d * 10 + (s[(*i)++] - '0');
            den *= d;
        } else {
            den *= 2;
        }
        if (den > (1 << 20)) break;
    }
    if (num == 0 || den == 0) {
        ERR(p, *i - 1, "zero note length");
        *out = (Rational){1, 1};
        return -1;
    }
    *out = rat_make(num, den);
    return 0;
}

// Reads accidental, letter and octave marks at s[*i]; returns the MIDI pitch
// or -1 (with an error) when no note letter follows the accidentals.
static int read_pitch(Parser *p, const char *s, int n, int *i) {
    int start = *i, acc = NO_ACCIDENTAL;
    if (s[*i] == '=') acc = 0, (*i)++;
    else if (s[*i] == '^' || s[*i] == '_') {
        int sign = s[*i] == '^' ? 1 : -1;
        acc = 0;
        while (*i < n && s[*i] == (sign > 0 ? '^' : '_') && abs(acc) < 2) acc += sign, (*i)++;
        if (*i < n && s[*i] == '/') (*i)++;  // quarter tones (^/): rounded to the half tone
    }
    if (*i >= n || !strchr("ABCDEFGabcdefg", s[*i]) || !s[*i]) {
        ERR(p, start, "accidental with no note after it");
        return -1;
    }
    char c = s[(*i)++];
    static const char letters[] = "CDEFGAB";
    static const int natural_pc[7] = {0, 2, 4, 5, 7, 9, 11};
    int letter = (int)(strchr(letters, toupper((unsigned char)c)) - letters);
    int octave = islower((unsigned char)c) ? 5 : 4;
    while (*i < n && (s[*i] == '\'' || s[*i] == ',')) octave += s[(*i)++] == '\'' ? 1 : -1;
    int slot = octave < 0 ? 0 : octave > 11 ? 11 : octave;
    if (acc != NO_ACCIDENTAL) p->bar_accidental[letter][slot] = (int8_t)acc;
    else if (p->bar_accidental[letter][slot] != NO_ACCIDENTAL) acc = p->bar_accidental[letter][slot];
    else acc = p->key.letter_accidental[letter];
    return 12 * (octave + 1) + natural_pc[letter] + acc;
}

static void read_note(Parser *p, const char *s, int n, int *i) {
    p->elem_first_note = p->t->num_notes;
    int pitch = read_pitch(p, s, n, i);
    Rational len;
    read_length(p, s, n, i, &len);
    if (pitch < 0) return;
    if (pitch < 0 || pitch > 127) ERR(p, *i - 1, "note outside the MIDI range");
    else push_note(p, pitch);
    add_element(p, len);
}

// [CEG]2: every note sounds; the chord lasts as long as its first note.
static void read_chord(Parser *p, const char *s, int n, int *i) {
    p->elem_first_note = p->t->num_notes;
    int start = (*i)++;
    Rational first = {0, 1};
    int notes = 0;
    while (*i < n && s[*i] != ']') {
        char c = s[*i];
        if (c == ' ' || c == '-' || c == '.' || c == '~' || c == ')' || c == '(') {
            (*i)++;
        } else if (c == '!' || c == '"') {
            const char *end = memchr(s + *i + 1, c, (size_t)(n - *i - 1));
            if (!end) break;
            *i = (int)(end - s) + 1;
        } else if (c && strchr("^_=ABCDEFGabcdefg", c)) {  // strchr finds a NUL too
            int pitch = read_pitch(p, s, n, i);
            Rational len;
            read_length(p, s, n, i, &len);
            if (pitch >= 0 && pitch <= 127) push_note(p, pitch);
            if (notes++ == 0) first = len;
        } else {
            break;
        }
    }
    if (*i >= n || s[*i] != ']') {
        ERR(p, start, "chord '[' is not closed by ']' on its line");
        return;
    }
    (*i)++;
    Rational mult;
    read_length(p, s, n, i, &mult);
    if (!notes) {
        ERR(p, start, "empty chord []");
        return;
    }
    add_element(p, rat_mul(first, mult));
}

static void read_rest(Parser *p, const char *s, int n, int *i) {
    p->elem_first_note = p->t->num_notes;
    char c = s[(*i)++];
    if (c == 'Z' || c == 'X') {
        // A bar rest lasts whole bars of the meter, whatever it is.
        int bars = 0;
        while (*i < n && isdigit((unsigned char)s[*i]) && bars < 10000) bars = bars * 10 + (s[(*i)++] - '0');
        if (!p->bar_started) p->bar_started = 1, p->bar_expected = p->meter;
        p->bar_flags |= BAR_MULTI_REST;
        p->bar_has_content = 1;
        p->bar_duration = rat_add(p->bar_duration, rat_mul(p->meter, rat_make(bars ? bars : 1, 1)));
        p->has_last = 0;
        return;
    }
    Rational len;
    read_length(p, s, n, i, &len);
    add_element(p, len);
}

// (p:q:r: p notes in the time of q, for the next r notes.
static void read_tuplet(Parser *p, const char *s, int n, int *i) {
    int start = (*i)++;
    int v[3] = {0, 0, 0}, k = 0;
    while (k < 3) {
        if (*i < n && isdigit((unsigned char)s[*i])) {
            while (*i < n && isdigit((unsigned char)s[*i]) && v[k] < 1000) v[k] = v[k] * 10 + (s[(*i)++] - '0');
        }
        if (k < 2 && *i < n && s[*i] == ':') (*i)++, k++;
        else break;
    }
    int tp = v[0], q = v[1], r = v[2];
    if (tp < 2 || tp > 9) {
        ERR(p, start, "tuplet (%d: the number of notes must be 2 to 9", tp);
        return;
    }
    if (!q) {
        static const int q_simple[10] = {0, 0, 3, 2, 3, 2, 2, 2, 3, 2};
        q = q_simple[tp];
        if ((tp == 5 || tp == 7 || tp == 9) && p->meter_compound) q = 3;
    }
    if (!r) r = tp;
    if (p->tuplet_left > 0) ERR(p, start, "tuplet starts before the previous one has all its notes");
    p->tuplet_factor = rat_make(q, tp);
    p->tuplet_left = r;
}

// > >> < <<: the note before and the note after share their two durations unequally.
static void read_broken(Parser *p, const char *s, int n, int *i) {
    int start = *i;
    char c = s[*i];
    int k = 0;
    while (*i < n && s[*i] == c && k < 3) k++, (*i)++;
    if (!p->has_last) {
        ERR(p, start, "broken rhythm '%c' has no note before it in its bar", c);
        return;
    }
    if (p->broken_pending) {
        // e>>>>f: at most three marks, and a note on each side of them.
        ERR(p, start, "broken rhythm '%c' follows another with no note between (at most %c%c%c)", c, c, c, c);
        return;
    }
    Rational small = rat_make(1, (int64_t)1 << k);             // 1/2, 1/4, 1/8
    Rational big = rat_sub(rat_make(2, 1), small);             // 3/2, 7/4, 15/8
    Rational before = c == '>' ? big : small, after = c == '>' ? small : big;
    // The note before was already counted at full length: correct it.
    Rational extra = rat_mul(p->last_duration, rat_sub(before, rat_make(1, 1)));
    p->bar_duration = rat_add(p->bar_duration, extra);
    p->last_duration = rat_mul(p->last_duration, before);
    for (int k = p->last_first_note; k < p->last_end_note; k++)
        p->t->notes[k].duration = (float)rat_to_double(p->last_duration);
    p->broken_pending = 1;
    p->broken_factor = after;
}

// ---------------------------------------------------------------- fields
static void copy_value(char *dst, size_t cap, const char *s, int n) {
    while (n > 0 && (*s == ' ' || *s == '\t')) s++, n--;
    while (n > 0 && isspace((unsigned char)s[n - 1])) n--;
    if (n >= (int)cap) n = (int)cap - 1;
    memcpy(dst, s, (size_t)n);
    dst[n] = '\0';
}

// Applies K:, M:, L: or U: (in the header, a body line or an inline [X:...]).
static void apply_field(Parser *p, char field, const char *value, int n, int column) {
    char v[256];
    copy_value(v, sizeof v, value, n);
    if (field == 'K') {
        if (music_parse_key(v, &p->key)) {
            ERR(p, column, "%s", tb_last_error());
            p->key.scale_mask = 0;
        }
    } else if (field == 'M') {
        if (music_parse_meter(v, &p->meter)) ERR(p, column, "%s", tb_last_error());
        p->meter_compound = p->meter.num % 3 == 0 && p->meter.num > 3;
    } else if (field == 'L') {
        if (music_parse_unit(v, &p->unit)) ERR(p, column, "%s", tb_last_error());
    } else if (field == 'U') {
        // U: T = !trill!: the letter becomes a decoration.
        const char *c = v;
        size_t used = strlen(p->user_symbols);
        if (isalpha((unsigned char)*c) && used < sizeof p->user_symbols - 1)
            p->user_symbols[used] = *c, p->user_symbols[used + 1] = '\0';
    }
}

// ---------------------------------------------------------------- bar lines
// Reads | || |] [| |: :| :: :|2 |1,3 and returns the flags they give.
static void read_bar_line(Parser *p, const char *s, int n, int *i) {
    int start = *i, j = *i;
    if (s[j] == '[') j++;  // [|
    while (j < n && (s[j] == '|' || s[j] == ':' || (s[j] == ']' && j > start && s[j - 1] == '|'))) j++;
    int plain = (j - start == 1 && s[start] == '|');
    int volta = 0;
    if (j < n && s[j] == '[' && j + 1 < n && isdigit((unsigned char)s[j + 1])) j++;  // |[1
    if (j < n && isdigit((unsigned char)s[j])) volta = 1;  // |1 :|2 |[1
    while (volta && j < n && (isdigit((unsigned char)s[j]) || s[j] == ',' || s[j] == '-')) j++;
    *i = j;  // a tuplet may go on across a bar line: its state is kept
    int section = plain ? 0 : 1;
    if (s[start] == ':') p->t->num_repeats++;  // :| :: :||
    close_bar(p, section ? BAR_BEFORE_SECTION : 0,
              (section ? BAR_AFTER_SECTION : 0) | (volta ? BAR_VOLTA : 0), start);
}

// ---------------------------------------------------------------- the body
static int is_decoration_letter(const Parser *p, char c) {
    return c && (strchr("HLMOPSTuv", c) != NULL || strchr(p->user_symbols, c) != NULL);
}

// Skips to the closing delimiter c on this line; error if there is none.
static int skip_delimited(Parser *p, const char *s, int n, int *i, char close, const char *what) {
    const char *end = memchr(s + *i + 1, close, (size_t)(n - *i - 1));
    if (!end) {
        ERR(p, *i, "%s is not closed on its line", what);
        *i = n;
        return -1;
    }
    *i = (int)(end - s) + 1;
    return 0;
}

static void read_music_line(Parser *p, const char *s, int n) {
    int i = 0;
    while (i < n) {
        int start = i, is_bar_line = 0;
        char c = s[i];
        if (c == '%') break;
        if (c == ' ' || c == '\t' || c == '\r' || c == '`' || c == 'y' || c == '\\' || c == '$' ||
            c == '-' || c == ')' || c == '.' || c == '~' || is_decoration_letter(p, c)) {
            i++;
        } else if (c == '"') {
            skip_delimited(p, s, n, &i, '"', "chord symbol or annotation \"...\"");
        } else if (c == '!') {
            skip_delimited(p, s, n, &i, '!', "decoration !...!");
        } else if (c == '+') {
            skip_delimited(p, s, n, &i, '+', "decoration +...+");
        } else if (c == '{') {
            skip_delimited(p, s, n, &i, '}', "grace notes {...}");  // grace notes take no time
        } else if (c == '(') {
            if (i + 1 < n && isdigit((unsigned char)s[i + 1])) read_tuplet(p, s, n, &i);
            else i++;  // slur
        } else if (c == '>' || c == '<') {
            read_broken(p, s, n, &i);
        } else if (c == '[') {
            if (i + 2 < n && isalpha((unsigned char)s[i + 1]) && s[i + 2] == ':') {
                const char *end = memchr(s + i, ']', (size_t)(n - i));
                if (!end) {
                    ERR(p, i, "inline field [%c:...] is not closed by ']'", s[i + 1]);
                    i = n;
                } else {
                    apply_field(p, s[i + 1], s + i + 3, (int)(end - (s + i + 3)), i);
                    i = (int)(end - s) + 1;
                }
            } else if (i + 1 < n && s[i + 1] == '|') {
                read_bar_line(p, s, n, &i), is_bar_line = 1;
            } else if (i + 1 < n && isdigit((unsigned char)s[i + 1])) {
                // [1 [2: a volta ending right after a bar line.
                i++;
                while (i < n && (isdigit((unsigned char)s[i]) || s[i] == ',' || s[i] == '-')) i++;
                // Readers accept it anywhere; a volta mid-bar is odd but not broken.
                if (p->bar_has_content) WARN(p, start, "volta ending '[%c' in the middle of a bar", s[start + 1]);
                p->bar_flags |= BAR_VOLTA;
                is_bar_line = 1;
            } else {
                read_chord(p, s, n, &i);
            }
        } else if (c == '|' || c == ':') {
            read_bar_line(p, s, n, &i), is_bar_line = 1;
        } else if (c == '&') {
            // Voice overlay: the next part starts again at the bar's start.
            if (rat_cmp(p->bar_duration, p->overlay_longest) > 0) p->overlay_longest = p->bar_duration;
            p->bar_duration = (Rational){0, 1};
            p->has_last = 0;
            i++;
        } else if (c && strchr("^_=ABCDEFGabcdefg", c)) {  // strchr finds a NUL too
            read_note(p, s, n, &i);
        } else if (c == 'z' || c == 'x' || c == 'Z' || c == 'X') {
            read_rest(p, s, n, &i);
        } else if (isdigit((unsigned char)c) || c == '/') {
            ERR(p, i, "note length '%c' with no note before it", c);
            i++;
        } else if (c == ']') {
            ERR(p, i, "']' with no '[' before it");
            i++;
        } else if (isprint((unsigned char)c)) {
            ERR(p, i, "unexpected character '%c' in the music", c);
            i++;
        } else {
            ERR(p, i, "unexpected byte 0x%02x in the music", (unsigned char)c);
            i++;
        }
        if (!is_bar_line) append_bar_text(p, s + start, i - start);
    }
}

// A line "K:..." (letter, colon) inside the body is a field, for the letters
// ABC allows there; a music line like "d:|" is not.
static int is_body_field_line(const char *s, int n) {
    return n >= 2 && s[1] == ':' && strchr("IKLMmNPQRrsTUVWw", s[0]) && s[0];
}

void tune_parse(MusicTune *t, const char *text, size_t len) {
    memset(t, 0, sizeof *t);
    Parser p;
    memset(&p, 0, sizeof p);
    p.t = t;
    p.unit = (Rational){0, 1};
    p.meter = (Rational){0, 1};
    music_parse_key("C", &p.key);
    reset_bar(&p, 0);

    int in_body = 0, saw_k = 0, saw_field = 0, continued = 0;
    size_t pos = 0;
    while (pos < len) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        int n = nl ? (int)(nl - line) : (int)(len - pos);
        pos += (size_t)n + (nl ? 1 : 0);
        p.line++;
        while (n > 0 && (line[n - 1] == '\r')) n--;
        int blank = 1;
        for (int i = 0; i < n; i++) if (!isspace((unsigned char)line[i])) blank = 0;
        // A header or comment line ending in '\' goes on on the next line.
        int was_continued = continued;
        continued = n > 0 && line[n - 1] == '\\' && (!in_body || line[0] == '%');
        if (blank || line[0] == '%' || (was_continued && !in_body)) continue;
        int is_field = n >= 2 && isalpha((unsigned char)line[0]) && line[1] == ':';
        if (!in_body) {
            if (!is_field) {
                if (!saw_field) ERR(&p, 0, "the tune does not start with a header (X:, then K:)");
                else ERR(&p, 0, "the header ends without a K: field (K: must be the last header line)");
                in_body = 1;  // read the rest as music, to go as far as we can
            } else {
                char f = line[0];
                if (!saw_field && f != 'X') ERR(&p, 0, "the tune does not start with X:");
                saw_field = 1;
                const char *v = line + 2;
                int vn = n - 2;
                if (f == 'X') copy_value(t->x, sizeof t->x, v, vn);
                else if (f == 'T' && !t->title[0]) copy_value(t->title, sizeof t->title, v, vn);
                else if (f == 'M') copy_value(t->meter, sizeof t->meter, v, vn);
                else if (f == 'L') copy_value(t->unit, sizeof t->unit, v, vn);
                else if (f == 'K') copy_value(t->key, sizeof t->key, v, vn);
                else if (f == 'S') copy_value(t->control_s, sizeof t->control_s, v, vn);
                else if (f == 'B') copy_value(t->control_b, sizeof t->control_b, v, vn);
                else if (f == 'E') copy_value(t->control_e, sizeof t->control_e, v, vn);
                apply_field(&p, f, v, vn, 2);
                if (f == 'K') {
                    saw_k = 1, in_body = 1;
                    t->header_lines = p.line;
                    if (p.unit.num == 0) {
                        // No L:: 1/16 for meters under 3/4, else 1/8 (ABC 2.1, 3.1.7).
                        int short_meter = p.meter.num && rat_cmp(p.meter, rat_make(3, 4)) < 0;
                        p.unit = short_meter ? rat_make(1, 16) : rat_make(1, 8);
                    }
                    if (!t->meter[0]) WARN(&p, 0, "no M: field; bars cannot be checked");
                }
                continue;
            }
        }
        if (p.unit.num == 0) p.unit = rat_make(1, 8);
        if (is_body_field_line(line, n)) {
            apply_field(&p, line[0], line + 2, n - 2, 2);
            continue;
        }
        read_music_line(&p, line, n);
    }
    // (A header that ended early has been reported already.)
    if (!saw_k && !(saw_field && t->num_errors)) ERR(&p, 0, "no K: field, so no music");
    // The tune's last bar, if no bar line closed it.
    if (p.bar_has_content) {
        p.bar_flags |= BAR_UNTERMINATED;
        close_bar(&p, BAR_BEFORE_SECTION, 0, 0);
    } else if (t->num_bars > 0) {
        t->bars[t->num_bars - 1].flags |= BAR_BEFORE_SECTION;
    }
    if (p.tuplet_left > 0) ERR(&p, 0, "the tune ends inside a tuplet");
    if (saw_k && t->num_bars == 0) ERR(&p, 0, "the tune has no notes or rests");
}

void tune_free(MusicTune *t) {
    free(t->bars);
    free(t->notes);
    free(t->bar_text);
    memset(t, 0, sizeof *t);
}

int music_split_tunes(const char *text, size_t len, TuneTextFn fn, void *ctx) {
    // Find where each tune starts: a line beginning "X:".
    int count = 0, any_x = 0;
    for (size_t pos = 0; pos < len;) {
        if ((pos == 0 || text[pos - 1] == '\n') && pos + 1 < len && text[pos] == 'X' && text[pos + 1] == ':') {
            any_x = 1;
            break;
        }
        const char *nl = memchr(text + pos, '\n', len - pos);
        pos = nl ? (size_t)(nl - text) + 1 : len;
    }
    if (!any_x) {
        for (size_t i = 0; i < len; i++)
            if (!isspace((unsigned char)text[i])) {
                fn(text, len, ctx);
                return 1;
            }
        return 0;
    }
    size_t tune_start = 0;
    int in_tune = 0;
    for (size_t pos = 0; pos <= len;) {
        size_t line_end = pos;
        while (line_end < len && text[line_end] != '\n') line_end++;
        int at_end = pos >= len;
        int blank = 1;
        for (size_t i = pos; i < line_end; i++) if (!isspace((unsigned char)text[i])) blank = 0;
        int starts_x = !at_end && line_end - pos >= 2 && text[pos] == 'X' && text[pos + 1] == ':';
        if (in_tune && (at_end || blank || starts_x)) {
            fn(text + tune_start, pos - tune_start, ctx);
            count++;
            in_tune = 0;
        }
        if (starts_x) in_tune = 1, tune_start = pos;
        if (at_end) break;
        pos = line_end < len ? line_end + 1 : len;
    }
    return count;
}
