// test_control_codes.c: TunesFormer's S/B/E control codes on hand-checked
// tunes (the working for each is in the comments).
#include "../data/control_codes.h"
#include "lib/common.h"
#include "test.h"

static void expect_codes(const char *tune, const char *want) {
    ControlCodes cc;
    CcStatus st = cc_compute(tune, strlen(tune), &cc);
    char got[512] = "";
    if (st == CC_OK) cc_format(&cc, got, sizeof got);
    CHECK(st == CC_OK && strcmp(got, want) == 0, "codes of\n%s\nare '%s' (%s), want '%s'", tune, got,
          cc_status_name(st), want);
    // The codes read back from a header are the same.
    ControlCodes parsed;
    CHECK(st != CC_OK || (cc_parse_header(got, strlen(got), &parsed) == 0 &&
                          cc_parse_header(got, strlen(got), &parsed) == 0 && parsed.sections == cc.sections &&
                          memcmp(parsed.bars, cc.bars, sizeof cc.bars) == 0 &&
                          memcmp(parsed.similarity, cc.similarity, sizeof cc.similarity) == 0),
          "parse of '%s' differs", got);
}

static void expect_status(const char *tune, CcStatus want) {
    ControlCodes cc;
    CcStatus st = cc_compute(tune, strlen(tune), &cc);
    CHECK(st == want, "status %s, want %s for\n%s", cc_status_name(st), cc_status_name(want), tune);
}


// Every prepared irishman tune is a fixed point: the codes recomputed from its
// body equal the codes in its header (what control-code adherence relies on).
static void check_prepared_split(const char *path) {
    size_t len = 0;
    char *text = tb_read_file(path, &len);
    CHECK(text != NULL, "%s (make test builds it)", tb_last_error());
    if (!text) return;
    int tunes = 0, mismatched = 0;
    for (char *tune = strstr(text, "X:1\n"); tune; tune = strstr(tune + 1, "\nX:1\n")) {
        if (*tune == '\n') tune++;
        char *end = strstr(tune + 1, "\nX:1\n");
        size_t tune_len = end ? (size_t)(end - tune) + 1 : len - (size_t)(tune - text);
        ControlCodes header, body;
        // The body the codes were computed from starts after X:, S:, B: and E: lines.
        char *rest = tune + 4;
        while (rest[0] && strchr("SBE", rest[0]) && rest[1] == ':') rest = strchr(rest, '\n') + 1;
        size_t rest_len = tune_len - (size_t)(rest - tune);
        while (rest_len && rest[rest_len - 1] == '\n') rest_len--;
        int ok = cc_parse_header(tune, (size_t)(rest - tune), &header) == 0 &&
                 cc_compute(rest, rest_len, &body) == CC_OK && header.sections == body.sections &&
                 memcmp(header.bars, body.bars, sizeof body.bars) == 0 &&
                 memcmp(header.similarity, body.similarity, sizeof body.similarity) == 0;
        if (!ok && mismatched++ < 3) fprintf(stderr, "codes differ for tune %d of %s\n", tunes, path);
        tunes++;
    }
    CHECK(tunes > 100 && mismatched == 0, "%d of %d tunes in %s have codes that differ from their body",
          mismatched, tunes, path);
    free(text);
}

int main(void) {
    (void)check_close;
    // Levenshtein similarity and Python's round-half-even.
    CHECK(cc_similarity("kitten", 6, "sitting", 7) == 6, "kitten/sitting: 1 - 3/7 = 0.571 -> 6");
    CHECK(cc_similarity("abcd", 4, "abcz", 4) == 8, "1 - 1/4 = 0.75 -> 7.5 -> 8 (half to even)");
    CHECK(cc_similarity("abcd", 4, "axyz", 4) == 2, "1 - 3/4 = 0.25 -> 2.5 -> 2 (half to even)");
    CHECK(cc_similarity("abc", 3, "abc", 3) == 10 && cc_similarity("", 0, "", 0) == 10, "identical");
    CHECK(cc_similarity("\xc3\xa9t\xc3\xa9", 5, "ete", 3) == 3, "code points: 1 - 2/3 -> 3.33 -> 3");

    // Two sections split at "||". Bars: "ABcd|efga||" strips to "ABcd|efga" -> 2;
    // "ABcd|efgf|]" strips "|]" -> 2. E: 11 characters each, 2 substitutions:
    // 1 - 2/11 = 0.818 -> 8.
    expect_codes("L:1/8\nM:4/4\nK:C\nABcd|efga||ABcd|efgf|]", "S:2\nB:2\nE:8\nB:2\n");

    // A leading "|:" joins the first section; ":|2" starts an ending, which
    // continues section 1: "|:GABc|dBAG:|2dBGA|G4||" -> strip, ":|" -> "|":
    // "GABc|dBAG|2dBGA|G4" -> 4 bars. Section 2 "gfed|cBAG|]" -> 2 bars.
    ControlCodes cc;
    const char *volta = "K:G\n|:GABc|dBAG:|2dBGA|G4||gfed|cBAG|]";
    CHECK(cc_compute(volta, strlen(volta), &cc) == CC_OK && cc.sections == 2 && cc.bars[0] == 4 &&
              cc.bars[1] == 2,
          "volta tune: S %d B %d %d", cc.sections, cc.bars[0], cc.bars[1]);
    CHECK(cc.similarity[1][0] == cc_similarity("gfed|cBAG|]", 11, "|:GABc|dBAG:|2dBGA|G4||", 23),
          "E compares the whole sections");

    // No section delimiter: one section, its last '|' becomes "|]" and, as
    // after any last delimiter, the music after it is dropped:
    // "CDEF|GABc|]" strips "|]" -> "CDEF|GABc" -> 2 bars.
    const char *open = "K:C\nCDEF|GABc|c4";
    CHECK(cc_compute(open, strlen(open), &cc) == CC_OK && cc.sections == 1 && cc.bars[0] == 2, "open tune");
    char kept[64];
    size_t kept_len = cc_kept_text(open, &cc, kept);
    CHECK(kept_len == 15 && memcmp(kept, "K:C\nCDEF|GABc|]", 15) == 0, "kept text '%.*s'", (int)kept_len, kept);
    // The kept text is a fixed point: its codes are the codes it was given.
    ControlCodes again;
    CHECK(cc_compute(kept, kept_len, &again) == CC_OK && again.sections == 1 && again.bars[0] == 2 &&
              again.kept_len == kept_len,
          "recomputed codes of the kept text differ");

    // Music after the last delimiter is dropped from the codes and the tune.
    const char *tail = "K:C\nCDEF|GABc||cBAG|F4";
    CHECK(cc_compute(tail, strlen(tail), &cc) == CC_OK && cc.sections == 1 && cc.bars[0] == 2 &&
              cc.kept_len == strlen("K:C\nCDEF|GABc||"),
          "tail: S %d kept %zu", cc.sections, cc.kept_len);

    // Header lines, including ones before the first field, are not body.
    // "d2|]" strips "|]" to "d2": no '|' left, 1 bar.
    expect_codes("%comment\nX:1\nT:t\nK:D\nd2|]", "S:1\nB:1\n");

    // The reasons TunesFormer drops a tune.
    expect_status("K:C\n2AB||", CC_LEADING_ENDING);
    expect_status("K:C\nA||B||c||d||e||f||g||a||b||", CC_TOO_MANY_SECTIONS);
    // Eight one-bar sections; any two differ in 1 of 3 characters:
    // 1 - 1/3 = 0.667 -> 7.
    expect_codes("K:C\nA||B||c||d||e||f||g||a||",
                 "S:8\nB:1\nE:7\nB:1\nE:7\nE:7\nB:1\nE:7\nE:7\nE:7\nB:1\nE:7\nE:7\nE:7\nE:7\nB:1\n"
                 "E:7\nE:7\nE:7\nE:7\nE:7\nB:1\nE:7\nE:7\nE:7\nE:7\nE:7\nE:7\nB:1\nE:7\nE:7\nE:7\nE:7\nE:7\nE:7\nE:7\nB:1\n");
    char long_tune[256] = "K:C\n";
    for (int i = 0; i < 32; i++) strcat(long_tune, "A|");
    strcat(long_tune, "A||");
    expect_status(long_tune, CC_TOO_MANY_BARS);  // 33 bars
    expect_status("K:C\n", CC_NO_SECTIONS);

    // Header parsing rejects inconsistent codes.
    CHECK(cc_parse_header("S:2\nB:4\nB:4\n", 12, &cc) != 0, "missing E accepted");
    CHECK(cc_parse_header("X:1\nL:1/8\n", 10, &cc) != 0, "no codes accepted");
    check_prepared_split("data/corpus/music21/control/val.abc");
    return test_summary("test_control_codes");
}
