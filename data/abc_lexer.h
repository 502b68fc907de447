// abc_lexer.h: splits ABC text into musically meaningful lexemes.
//
// The lexer never fails and never allocates: every byte of the input lands in
// exactly one lexeme, lexemes are 1..ABC_LEXEME_MAX bytes long, and
// concatenating them gives the input back. Text that is not ABC (binary
// junk, NULs, invalid UTF-8) comes out as one-byte OTHER lexemes.
//
// What a lexeme is (body lines):
//   NOTE        accidental? pitch octave-marks? length?    ^c'3/2  _B,  =f  A/
//   REST        z Z x X with a length                     z2  Z4  x/
//   BAR         bar lines, repeats, endings                |  ||  |]  [|  |:  :|  ::  :|2  [1
//   INLINE      an inline field                           [K:D]  [M:3/4]
//   CHORD_OPEN  CHORD_CLOSE                               [  ]
//   TUPLET      (p or (p:q:r                              (3  (3:2:3
//   DECORATION  !name! +name+ or one symbol               !trill!  ~  .  H  T  u  v
//   ANNOTATION  a quoted chord symbol or annotation       "G"  "Am7"  "^SEGUE"
//   GRACE       { or }      SLUR ( or )      TIE -       BROKEN > >> < <<
//   SPACE       a run of spaces/tabs     NEWLINE \n      CONTINUATION backslash
// Header and text lines:
//   FIELD       a whole musical field line K: L: M: Q: I: up to its newline
//               or comment, when it fits (K:Gm, M:6/8, L:1/8)
//   FIELD_TAG   the tag of another field line (T:, N:, w:), whose value is
//               then lexed as text: WORD (an optional leading space and
//               letters/digits) or single characters
//   COMMENT     % starts text to the end of the line (lexed as text)
#ifndef TB_ABC_LEXER_H
#define TB_ABC_LEXER_H

#include <stddef.h>

#define ABC_LEXEME_MAX 48

typedef enum {
    ABC_LEX_NOTE,
    ABC_LEX_REST,
    ABC_LEX_BAR,
    ABC_LEX_INLINE,
    ABC_LEX_CHORD_OPEN,
    ABC_LEX_CHORD_CLOSE,
    ABC_LEX_TUPLET,
    ABC_LEX_DECORATION,
    ABC_LEX_ANNOTATION,
    ABC_LEX_GRACE,
    ABC_LEX_SLUR,
    ABC_LEX_TIE,
    ABC_LEX_BROKEN,
    ABC_LEX_SPACE,
    ABC_LEX_NEWLINE,
    ABC_LEX_CONTINUATION,
    ABC_LEX_FIELD,
    ABC_LEX_FIELD_TAG,
    ABC_LEX_COMMENT,
    ABC_LEX_WORD,
    ABC_LEX_NUMBER,
    ABC_LEX_OTHER,
    ABC_LEX_KIND_COUNT
} AbcLexKind;

typedef struct {
    size_t start;  // offset in the text
    int len;       // 1..ABC_LEXEME_MAX
    AbcLexKind kind;
} AbcLexeme;

typedef struct {
    const unsigned char *text;
    size_t len;
    size_t pos;
    int at_line_start;
    int in_text;  // inside a free-text field value or a comment, until the newline
} AbcLexer;

void abc_lexer_init(AbcLexer *lx, const char *text, size_t len);
// Fills *out with the next lexeme; returns 0 at the end of the text.
int abc_lex_next(AbcLexer *lx, AbcLexeme *out);
const char *abc_lex_kind_name(AbcLexKind kind);
// Lexemes after which a token may not be merged with the next (bar lines and
// newlines end a merge segment).
static inline int abc_lex_ends_segment(AbcLexKind kind) {
    return kind == ABC_LEX_BAR || kind == ABC_LEX_NEWLINE;
}

#endif
