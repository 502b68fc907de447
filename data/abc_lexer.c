// abc_lexer.c: ABC text to lexemes (see abc_lexer.h for what a lexeme is).
//
// The lexer is a single forward pass with two bits of state: whether we are
// at the start of a line (field lines are recognised there) and whether the
// rest of the line is free text (a title, a note, lyrics, a comment), where
// letters are words rather than notes. Every rule consumes at least one byte
// and at most ABC_LEXEME_MAX, so the lexer always terminates and tokens fit
// in a small fixed buffer.
#include "abc_lexer.h"

#include <string.h>

static int is_pitch(int c) { return (c >= 'A' && c <= 'G') || (c >= 'a' && c <= 'g'); }
static int is_digit(int c) { return c >= '0' && c <= '9'; }
static int is_alpha(int c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
static int is_alnum(int c) { return is_alpha(c) || is_digit(c); }

// Field letters whose whole line is one lexeme when short enough: these
// carry the music's key, metre, unit length, tempo and instructions, and
// take few distinct values, so whole lines become single tokens.
static int is_musical_field(int c) { return c == 'K' || c == 'L' || c == 'M' || c == 'Q' || c == 'I'; }

// Single-character decorations of ABC 2.1 (and the bowing marks u, v).
static int is_decoration_char(int c) { return strchr(".~HLMOPSTuvJRk", c) != NULL && c != 0; }

void abc_lexer_init(AbcLexer *lx, const char *text, size_t len) {
    lx->text = (const unsigned char *)text;
    lx->len = len;
    lx->pos = 0;
    lx->at_line_start = 1;
    lx->in_text = 0;
}

// Bytes available from pos, capped at ABC_LEXEME_MAX.
static size_t avail(const AbcLexer *lx) {
    size_t left = lx->len - lx->pos;
    return left < ABC_LEXEME_MAX ? left : ABC_LEXEME_MAX;
}

// Length of a note length: digits, slashes, digits ("3/2", "/", "//", "3").
static size_t length_suffix(const unsigned char *p, size_t n) {
    size_t i = 0;
    while (i < n && is_digit(p[i])) i++;
    while (i < n && p[i] == '/') {
        i++;
        while (i < n && is_digit(p[i])) i++;
    }
    return i;
}

// Length of a note starting at p (accidental, pitch, octave marks, length),
// or 0 if p does not start a note.
static size_t note_length(const unsigned char *p, size_t n) {
    size_t i = 0;
    if (i < n && (p[i] == '^' || p[i] == '_')) {
        i++;
        if (i < n && p[i] == p[i - 1]) i++;  // ^^ and __
    } else if (i < n && p[i] == '=') {
        i++;
    }
    if (i >= n || !is_pitch(p[i])) return 0;
    i++;
    while (i < n && (p[i] == '\'' || p[i] == ',')) i++;
    return i + length_suffix(p + i, n - i);
}

// A bar line: | || |] [| |: :| :: :|: and a volta number right after.
static size_t bar_length(const unsigned char *p, size_t n) {
    size_t i = 0;
    if (p[0] == '[' && n > 1 && p[1] == '|') {
        i = 2;
    } else if (p[0] == '|' || (p[0] == ':' && n > 1 && (p[1] == '|' || p[1] == ':'))) {
        i = 1;
    } else {
        return 0;
    }
    while (i < n && i < 6 && (p[i] == '|' || p[i] == ':')) i++;
    if (i < n && p[i] == ']' && p[i - 1] == '|') i++;
    if (i < n && is_digit(p[i])) i++;  // |1 :|2
    return i;
}

// "...", !...! or +...+ closed on the same line within the lexeme limit.
static size_t delimited_length(const unsigned char *p, size_t n, unsigned char close) {
    for (size_t i = 1; i < n; i++) {
        if (p[i] == close) return i + 1;
        if (p[i] == '\n') return 0;
    }
    return 0;
}

// A field line "K:G" up to (not including) its newline or comment, if short.
static size_t field_line_length(const unsigned char *p, size_t n) {
    size_t i = 2;
    while (i < n && p[i] != '\n' && p[i] != '%') i++;
    if (i >= n && n == ABC_LEXEME_MAX) return 0;  // longer than a lexeme
    // Keep trailing spaces out, so "K:G " and "K:G" share a token.
    while (i > 2 && (p[i - 1] == ' ' || p[i - 1] == '\t')) i--;
    return i;
}

static int emit(AbcLexer *lx, AbcLexeme *out, size_t n, AbcLexKind kind) {
    out->start = lx->pos;
    out->len = (int)n;
    out->kind = kind;
    lx->pos += n;
    lx->at_line_start = kind == ABC_LEX_NEWLINE;
    if (kind == ABC_LEX_NEWLINE) lx->in_text = 0;
    return 1;
}

// Free text: words (with one leading space) or single characters.
static int lex_text(AbcLexer *lx, AbcLexeme *out, const unsigned char *p, size_t n) {
    size_t i = p[0] == ' ' ? 1 : 0;
    size_t j = i;
    while (j < n && j < 24 && is_alnum(p[j])) j++;
    if (j > i) return emit(lx, out, j, ABC_LEX_WORD);
    if (p[0] == ' ' || p[0] == '\t') {
        size_t k = 1;
        while (k < n && (p[k] == ' ' || p[k] == '\t')) k++;
        return emit(lx, out, k, ABC_LEX_SPACE);
    }
    return emit(lx, out, 1, ABC_LEX_OTHER);
}

int abc_lex_next(AbcLexer *lx, AbcLexeme *out) {
    if (lx->pos >= lx->len) return 0;
    const unsigned char *p = lx->text + lx->pos;
    size_t n = avail(lx);
    int c = p[0];

    if (c == '\n') return emit(lx, out, 1, ABC_LEX_NEWLINE);
    if (c == '%') {
        // A comment runs to the end of the line; its text is lexed as words.
        size_t k = 1;
        while (k < n && p[k] == '%') k++;
        emit(lx, out, k, ABC_LEX_COMMENT);
        lx->in_text = 1;
        return 1;
    }
    if (lx->in_text) return lex_text(lx, out, p, n);

    if (lx->at_line_start && n >= 2 && is_alpha(c) && p[1] == ':') {
        if (is_musical_field(c)) {
            size_t k = field_line_length(p, n);
            if (k > 0) return emit(lx, out, k, ABC_LEX_FIELD);
        }
        size_t k = 2;
        while (k < n && p[k] == ' ') k++;  // "T: " and "T:" tags both
        emit(lx, out, k, ABC_LEX_FIELD_TAG);
        lx->in_text = 1;
        return 1;
    }

    size_t k;
    if ((k = note_length(p, n)) > 0) return emit(lx, out, k, ABC_LEX_NOTE);
    if (c == 'z' || c == 'Z' || c == 'x' || c == 'X')
        return emit(lx, out, 1 + length_suffix(p + 1, n - 1), ABC_LEX_REST);
    if ((k = bar_length(p, n)) > 0) return emit(lx, out, k, ABC_LEX_BAR);
    if (c == '[') {
        if (n > 1 && is_digit(p[1])) return emit(lx, out, 2, ABC_LEX_BAR);  // [1 [2 endings
        if (n > 2 && is_alpha(p[1]) && p[2] == ':' && (k = delimited_length(p, n, ']')) > 0)
            return emit(lx, out, k, ABC_LEX_INLINE);
        return emit(lx, out, 1, ABC_LEX_CHORD_OPEN);
    }
    if (c == ']') return emit(lx, out, 1, ABC_LEX_CHORD_CLOSE);
    if (c == '"') {
        if ((k = delimited_length(p, n, '"')) > 0) return emit(lx, out, k, ABC_LEX_ANNOTATION);
        return emit(lx, out, 1, ABC_LEX_OTHER);
    }
    if (c == '!' || c == '+') {
        if ((k = delimited_length(p, n, (unsigned char)c)) > 0 && k > 2)
            return emit(lx, out, k, ABC_LEX_DECORATION);
        return emit(lx, out, 1, ABC_LEX_OTHER);
    }
    if (c == '(') {
        if (n > 1 && is_digit(p[1])) {
            k = 2;
            for (int part = 0; part < 2 && k + 1 < n && p[k] == ':'; part++) {
                k++;
                while (k < n && is_digit(p[k])) k++;
            }
            return emit(lx, out, k, ABC_LEX_TUPLET);
        }
        return emit(lx, out, 1, ABC_LEX_SLUR);
    }
    if (c == ')') return emit(lx, out, 1, ABC_LEX_SLUR);
    if (c == '{' || c == '}') return emit(lx, out, 1, ABC_LEX_GRACE);
    if (c == '-') return emit(lx, out, 1, ABC_LEX_TIE);
    if (c == '>' || c == '<') {
        k = 1;
        while (k < n && k < 3 && p[k] == c) k++;
        return emit(lx, out, k, ABC_LEX_BROKEN);
    }
    if (c == ' ' || c == '\t') {
        k = 1;
        while (k < n && (p[k] == ' ' || p[k] == '\t')) k++;
        return emit(lx, out, k, ABC_LEX_SPACE);
    }
    if (c == '\\') return emit(lx, out, 1, ABC_LEX_CONTINUATION);
    if (is_digit(c)) {
        k = 1;
        while (k < n && is_digit(p[k])) k++;
        return emit(lx, out, k, ABC_LEX_NUMBER);
    }
    if (is_decoration_char(c)) return emit(lx, out, 1, ABC_LEX_DECORATION);
    return emit(lx, out, 1, ABC_LEX_OTHER);
}

const char *abc_lex_kind_name(AbcLexKind kind) {
    static const char *names[ABC_LEX_KIND_COUNT] = {
        "note",  "rest",  "bar",     "inline",   "chord_open", "chord_close", "tuplet",
        "decoration", "annotation", "grace", "slur", "tie", "broken", "space", "newline",
        "continuation", "field", "field_tag", "comment", "word", "number", "other"};
    return (unsigned)kind < ABC_LEX_KIND_COUNT ? names[kind] : "?";
}
