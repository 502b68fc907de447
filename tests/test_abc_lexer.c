// test_abc_lexer.c: the ABC lexer splits music into the lexemes we expect and
// never loses a byte, on any input.
#include "../data/abc_lexer.h"
#include "lib/common.h"
#include "test.h"

#include <stdlib.h>

// Lexes text and checks the lexemes' kinds and texts against the expected
// list ("kind:text" entries).
static void expect_lexemes(const char *text, const char *const *want, int nwant) {
    AbcLexer lx;
    AbcLexeme lex;
    abc_lexer_init(&lx, text, strlen(text));
    int i = 0;
    while (abc_lex_next(&lx, &lex)) {
        char got[128];
        snprintf(got, sizeof got, "%s:%.*s", abc_lex_kind_name(lex.kind), lex.len, text + lex.start);
        if (i < nwant) CHECK(strcmp(got, want[i]) == 0, "lexing '%s': lexeme %d is '%s', want '%s'", text, i, got, want[i]);
        i++;
    }
    CHECK(i == nwant, "lexing '%s': %d lexemes, want %d", text, i, nwant);
}

// Every byte lands in exactly one lexeme, in order, of 1..ABC_LEXEME_MAX bytes.
static int lossless(const char *text, size_t len) {
    AbcLexer lx;
    AbcLexeme lex;
    abc_lexer_init(&lx, text, len);
    size_t pos = 0;
    while (abc_lex_next(&lx, &lex)) {
        if (lex.start != pos || lex.len < 1 || lex.len > ABC_LEXEME_MAX) return 0;
        pos += (size_t)lex.len;
    }
    return pos == len;
}

int main(void) {
    (void)check_close;
    const char *notes[] = {"note:^c'3/2", "space: ", "note:_B,", "note:=f", "note:A/", "note:B//",
                           "note:__e", "space: ", "rest:z2", "rest:Z4", "rest:x/"};
    expect_lexemes("^c'3/2 _B,=fA/B//__e z2Z4x/", notes, 11);

    const char *bars[] = {"bar:|:", "note:A", "bar:|1", "note:B", "bar::|2", "note:c",
                          "bar:||", "note:d", "bar:|]", "bar:[|", "bar:[2", "note:e", "bar:::|"};
    expect_lexemes("|:A|1B:|2c||d|][|[2e::|", bars, 13);

    const char *mixed_ok[] = {"tuplet:(3", "note:A", "note:B", "note:c", "space: ", "chord_open:[",
                              "note:C", "note:E", "note:G", "chord_close:]", "inline:[K:D]",
                              "annotation:\"Am7\"", "decoration:!trill!", "note:A", "decoration:~",
                              "note:B", "grace:{", "note:g", "grace:}", "slur:(", "note:A",
                              "tie:-", "note:A", "slur:)", "note:B", "broken:>", "note:c",
                              "tuplet:(3:2:3"};
    expect_lexemes("(3ABc [CEG][K:D]\"Am7\"!trill!A~B{g}(A-A)B>c(3:2:3", mixed_ok, 28);

    // Header lines: musical fields whole, text fields as a tag and words.
    const char *header[] = {"field_tag:X:", "word:1", "newline:\n", "field_tag:T:", "word:The",
                            "word: Kid", "word: on", "newline:\n", "field:M:6/8", "newline:\n",
                            "field:K:Gm", "newline:\n", "comment:%", "word: ok", "newline:\n",
                            "note:G", "note:A", "bar:|", "newline:\n"};
    expect_lexemes("X:1\nT:The Kid on\nM:6/8\nK:Gm\n% ok\nGA|\n", header, 19);

    // A field tag only counts at the start of a line: mid-line "K:" is music.
    const char *midline[] = {"note:A", "other:K", "other::", "note:G"};
    expect_lexemes("AK:G", midline, 4);

    // Lossless on awkward input.
    CHECK(lossless("", 0), "empty input");
    char junk[4096];
    Rng rng;
    rng_seed(&rng, 5);
    for (int trial = 0; trial < 50; trial++) {
        for (size_t i = 0; i < sizeof junk; i++) junk[i] = (char)rng_below(&rng, 256);
        if (!lossless(junk, sizeof junk)) {
            CHECK(0, "random bytes trial %d not lossless", trial);
            break;
        }
    }
    // ABC-ish noise exercises the multi-byte rules at every boundary.
    const char alphabet[] = "ABCabcz^_=,'/|:[]()\"!+{}<>-~.123\n \tK%TXw";
    for (int trial = 0; trial < 50; trial++) {
        for (size_t i = 0; i < sizeof junk; i++) junk[i] = alphabet[rng_below(&rng, sizeof alphabet - 1)];
        if (!lossless(junk, sizeof junk)) {
            CHECK(0, "ABC noise trial %d not lossless", trial);
            break;
        }
    }
    size_t big = 200 * 1024;
    char *line = malloc(big);
    for (size_t i = 0; i < big; i++) line[i] = "\"!abc"[i % 5];  // unclosed strings everywhere
    CHECK(lossless(line, big), "200 KB single line");
    memset(line, 'K', big);
    line[1] = ':';
    CHECK(lossless(line, big), "200 KB header line");
    free(line);
    CHECK(lossless("X:1\r\nK:C\r\nC\0D|\r\n", 16), "CRLF and NUL");
    return test_summary("test_abc_lexer");
}
