// test_music_metrics.c: every music metric on hand-made tunes whose answers
// are worked out by hand in the comments; a folder without tunes; and
// `tunebench evaluate-music --file` on a tune whose title is not UTF-8 (its
// JSON must still be JSON).
#include <cjson/cJSON.h>
#include <unistd.h>

#include "lib/common.h"
#include "../src/music/music_eval.h"
#include "../src/music/music_features.h"
#include "../src/music/music_metrics.h"
#include "../src/music/music_tools.h"
#include "../src/music/tune.h"
#include "test.h"

static MusicTune parse(const char *text) {
    MusicTune t;
    tune_parse(&t, text, strlen(text));
    return t;
}

static int rat_is(Rational r, int64_t num, int64_t den) {
    Rational want = rat_make(num, den);
    return r.num == want.num && r.den == want.den;
}

// The bar durations of a tune, as "num/den" joined by spaces.
static void bar_durations(const MusicTune *t, char *out, size_t cap) {
    out[0] = '\0';
    for (int b = 0; b < t->num_bars; b++) {
        size_t n = strlen(out);
        snprintf(out + n, cap - n, "%s%lld/%lld", b ? " " : "", (long long)t->bars[b].duration.num,
                 (long long)t->bars[b].duration.den);
    }
}

static void check_durations(const char *what, const char *text, const char *want) {
    MusicTune t = parse(text);
    char got[512];
    bar_durations(&t, got, sizeof got);
    CHECK(strcmp(got, want) == 0, "%s: bar durations '%s', want '%s'", what, got, want);
    CHECK(t.num_errors == 0, "%s: %d checker errors (first: %s)", what, t.num_errors,
          t.num_issues_kept ? t.issues[0].message : "");
    tune_free(&t);
}

static void test_fields(void) {
    CHECK(rat_is(rat_add(rat_make(1, 3), rat_make(1, 6)), 1, 2), "1/3 + 1/6");
    CHECK(rat_cmp(rat_make(3, 4), rat_make(6, 8)) == 0, "3/4 == 6/8");
    Rational r;
    CHECK(music_parse_meter("6/8", &r) == 0 && rat_is(r, 3, 4), "M:6/8 is 3/4 of a whole");
    CHECK(music_parse_meter("C", &r) == 0 && rat_is(r, 1, 1), "M:C");
    CHECK(music_parse_meter("C|", &r) == 0 && rat_is(r, 1, 1), "M:C|");
    CHECK(music_parse_meter("2+3/8", &r) == 0 && rat_is(r, 5, 8), "M:2+3/8");
    CHECK(music_parse_meter("none", &r) == 0 && r.num == 0, "M:none is free meter");
    CHECK(music_parse_meter("six eight", &r) != 0, "M:six eight is rejected");
    CHECK(music_parse_unit("1/16", &r) == 0 && rat_is(r, 1, 16), "L:1/16");
    CHECK(music_parse_unit("1/", &r) != 0, "L:1/ is rejected");

    // Scale masks: bit pc for each pitch class of the scale.
    MusicKey k;
    const uint16_t c_major = 1 << 0 | 1 << 2 | 1 << 4 | 1 << 5 | 1 << 7 | 1 << 9 | 1 << 11;
    const uint16_t g_major = (c_major & ~(1 << 5)) | 1 << 6;  // F -> F#
    CHECK(music_parse_key("G", &k) == 0 && k.scale_mask == g_major && k.letter_accidental[3] == 1,
          "K:G has F#");
    CHECK(music_parse_key("Ador", &k) == 0 && k.scale_mask == g_major && k.tonic_pc == 9,
          "A dorian is the G major scale on A");
    CHECK(music_parse_key("Em", &k) == 0 && k.scale_mask == g_major, "E minor shares G major's notes");
    CHECK(music_parse_key("F#m", &k) == 0 && k.letter_accidental[3] == 1 && k.letter_accidental[0] == 1 &&
              k.letter_accidental[4] == 1 && k.letter_accidental[1] == 0,
          "F# minor: F# C# G#, D natural");
    CHECK(music_parse_key("Bb mix", &k) == 0 && k.letter_accidental[6] == -1 &&
              k.letter_accidental[2] == -1 && k.letter_accidental[5] == -1 &&
              k.letter_accidental[4] == 0,
          "Bb mixolydian: Bb Eb Ab (the Eb major scale)");
    CHECK(music_parse_key("D =c", &k) == 0 && k.letter_accidental[0] == 0 && k.letter_accidental[3] == 1,
          "K:D =c cancels C#");
    CHECK(music_parse_key("C exp ^f", &k) == 0 && k.scale_mask == g_major, "K:C exp ^f");
    CHECK(music_parse_key("G treble", &k) == 0 && k.scale_mask == g_major, "a clef word after the key");
    CHECK(music_parse_key("none", &k) == 0 && k.scale_mask == 0, "K:none has no scale");
    CHECK(music_parse_key("Gfoo", &k) != 0, "K:Gfoo is rejected");
    CHECK(music_parse_key("Q", &k) != 0, "K:Q is rejected");
}

static void test_durations(void) {
    const char *h = "X:1\nM:2/4\nL:1/8\nK:C\n";
    char text[512];
    // A>B = 3/16 + 1/16; c<d the other way; /, // and 3/2 lengths.
    snprintf(text, sizeof text, "%sA>B c<d|A/A/B// c//d3/2 A|A4|]\n", h);
    // Bar 2: 1/16+1/16+1/32+1/32+3/16+1/8 = 16/32.
    check_durations("broken rhythm and lengths", text, "1/2 1/2 1/2");
    // Triplets: (3abc = 2 eighths; (3:2:3 the same; (5 in 2/4 is 5 in the time of 3.
    snprintf(text, sizeof text, "%s(3abc d2|(3:2:3ABc (3 d e f|(5ABcde z2|]\n", h);
    // Bar 3: (5 in simple time is 5 in the time of 2: 2/8, + z2.
    check_durations("tuplets", text, "1/2 1/2 1/2");
    // Chords last as long as their first note; grace notes take no time;
    // decorations, chord symbols, slurs and ties take none either.
    snprintf(text, sizeof text, "%s[CEG]2 [C2E]|{ag}a2 !trill!\"Am\"(B-B)|~c4|]\n", h);
    check_durations("chords, grace notes, decorations", text, "1/2 1/2 1/2");
    // A pickup, a first and second ending, and an inline meter change.
    snprintf(text, sizeof text, "%sA|:d2 c2|[M:3/4]B2 A2 G2|1 F4 E2:|2 F6|]\n", h);
    check_durations("pickup, voltas, meter change", text, "1/8 1/2 3/4 3/4 3/4");
    // L: in the body changes the unit from the next note on.
    snprintf(text, sizeof text, "%sAB cd|\nL:1/4\nAB|]\n", h);
    check_durations("L: in the body", text, "1/2 1/2");
    // No L: with M:2/4 (under 3/4) means 1/16.
    check_durations("default unit", "X:1\nM:2/4\nK:C\nABcd efga|]\n", "1/2");
    // Voice overlay: the bar lasts as long as its longest part.
    snprintf(text, sizeof text, "%sA4 & B2 c2|]\n", h);
    check_durations("overlay", text, "1/2");
}

static void test_bar_consistency(void) {
    // 6/8, L:1/8. Bars: pickup 'A' (first, short: allowed), 'd2e fed' (ok),
    // 'c2B' (short, mid-tune: inconsistent), 'A3 B3' (ok), 'A2 G2' (4/8, short
    // but it ends the section at :|, so allowed), 'dddd ddd' (7/8, too long:
    // never allowed), 'e6' (ok).
    MusicTune t = parse("X:1\nM:6/8\nL:1/8\nK:D\nA|d2e fed|c2B|A3 B3|A2 G2:|dddd ddd|e6|]\n");
    TuneMetrics m;
    music_tune_metrics(&t, 0, NULL, &m);
    CHECK(t.num_bars == 7, "7 bars, got %d", t.num_bars);
    CHECK(m.bars_checked == 7 && m.bars_consistent == 5, "5 of 7 bars consistent, got %d of %d",
          m.bars_consistent, m.bars_checked);
    CHECK(t.num_bars == 7 && !music_bar_is_consistent(&t.bars[2]) && !music_bar_is_consistent(&t.bars[5]),
          "the short mid-tune bar and the long bar are the inconsistent ones");
    tune_free(&t);

    // A bar rest and free meter are not checked.
    t = parse("X:1\nM:none\nL:1/8\nK:C\nABC|DEFGAB|]\n");
    music_tune_metrics(&t, 0, NULL, &m);
    CHECK(m.bars == 2 && m.bars_checked == 0, "free meter: no bar checked");
    tune_free(&t);
    t = parse("X:1\nM:4/4\nL:1/8\nK:C\nZ4|ABcd efga|]\n");
    music_tune_metrics(&t, 0, NULL, &m);
    CHECK(m.bars == 2 && m.bars_checked == 1 && m.bars_consistent == 1, "a bar rest is not checked");
    tune_free(&t);
}

static void test_pitch_and_key(void) {
    // C D E F | c C, c' ^F _B  (K:C): MIDI 60 62 64 65 | 72 48 84 66 70.
    MusicTune t = parse("X:1\nM:4/4\nL:1/4\nK:C\nCDEF|c C, c' ^F _B|]\n");
    const int want[] = {60, 62, 64, 65, 72, 48, 84, 66, 70};
    int ok = t.num_notes == 9;
    for (int i = 0; ok && i < 9; i++) ok = t.notes[i].pitch == want[i];
    CHECK(ok, "MIDI pitches of C D E F c C, c' ^F _B");
    TuneMetrics m;
    music_tune_metrics(&t, 0, NULL, &m);
    // Out of C major: ^F and _B. In: 7 of 9.
    CHECK(m.notes_key_checked == 9 && m.notes_in_key == 7, "7 of 9 notes in C major, got %d of %d",
          m.notes_in_key, m.notes_key_checked);
    CHECK(m.pitch_min == 48 && m.pitch_max == 84 && m.pitch_range == 36, "range C, to c' is 36");
    tune_free(&t);

    // An accidental holds for the rest of its bar on that letter and octave only.
    // K:G: ^c c C | c f =f f | F: C#5 C#5 C4 | C5 F#5 F5 F5 | F#4.
    t = parse("X:1\nM:4/4\nL:1/4\nK:G\n^c c C z|c f =f f|F4|]\n");
    const int want2[] = {73, 73, 60, 72, 78, 77, 77, 66};
    ok = t.num_notes == 8;
    for (int i = 0; ok && i < 8; i++) ok = t.notes[i].pitch == want2[i];
    CHECK(ok, "accidentals last to the bar line, per octave");
    music_tune_metrics(&t, 0, NULL, &m);
    CHECK(m.notes_in_key == 4, "4 of 8 notes in G major (not C# C# F F), got %d", m.notes_in_key);
    tune_free(&t);

    // Modes: in A dorian (G major's notes) F# is in, F is out; K:none checks nothing.
    t = parse("X:1\nM:4/4\nL:1/4\nK:Ador\nA B c ^f|=f4|]\n");
    music_tune_metrics(&t, 0, NULL, &m);
    CHECK(m.notes_key_checked == 5 && m.notes_in_key == 4, "A dorian: 4 of 5 in key, got %d", m.notes_in_key);
    tune_free(&t);
    t = parse("X:1\nM:4/4\nL:1/4\nK:none\nA B c ^f|]\n");
    music_tune_metrics(&t, 0, NULL, &m);
    CHECK(m.notes == 4 && m.notes_key_checked == 0, "K:none: no note checked");
    tune_free(&t);
    // An inline key change applies from there on: [K:F] makes B flat.
    t = parse("X:1\nM:4/4\nL:1/4\nK:C\nB4|[K:F] B4|]\n");
    CHECK(t.num_notes == 2 && t.notes[0].pitch == 71 && t.notes[1].pitch == 70, "inline [K:F]");
    tune_free(&t);

    // Entropy: four pitch classes equally often is 2 bits; one pitch class is 0;
    // counts 2,1,1 give 1.5 bits.
    t = parse("X:1\nM:4/4\nL:1/4\nK:C\nCDEF|c d e f|]\n");
    music_tune_metrics(&t, 0, NULL, &m);
    CHECK(fabs(m.pitch_class_entropy - 2.0) < 1e-12, "entropy of 4 equal classes %g", m.pitch_class_entropy);
    tune_free(&t);
    t = parse("X:1\nM:4/4\nL:1/4\nK:C\nCccC|]\n");
    music_tune_metrics(&t, 0, NULL, &m);
    CHECK(m.pitch_class_entropy == 0.0, "entropy of one class %g", m.pitch_class_entropy);
    tune_free(&t);
    // Entropies as floats against values worked out by hand: {2,1,1} is 1.5
    // bits, {1 x 12} is log2(12), {3,1} is 2 - (3/4)log2(3).
    int counts[3][12] = {{2, 1, 1}, {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, {3, 0, 0, 0, 0, 0, 0, 1}};
    float got[3], ref[3] = {1.5f, 3.5849625f, 0.8112781f};
    for (int i = 0; i < 3; i++) got[i] = (float)music_entropy_bits(counts[i], 12);
    check_close("pitch-class entropies", got, ref, 3, 1e-6f, 1e-6f);
}

static void test_checker(void) {
    struct {
        const char *text;
        int errors;  // expected number of errors (0 = valid)
    } cases[] = {
        {"X:1\nT:ok\nM:4/4\nL:1/8\nK:D\n|:\"D\"d2 {e}d>c !trill!B2 A2|[1 d4 d4:|[2 d8|]\n", 0},
        {"X:1\nM:4/4\nL:1/8\nABCD|\n", 1},              // no K:
        {"T:no x\nM:4/4\nL:1/8\nK:C\nABCD|\n", 1},      // does not start with X:
        {"X:1\nM:4/4\nL:1/8\nK:C\nAB [CEG cd|\n", 1},    // unclosed chord
        {"X:1\nM:4/4\nL:1/8\nK:C\nAB !trill cd|\n", 1},  // unclosed decoration
        {"X:1\nM:4/4\nL:1/8\nK:C\n>ABcd|\n", 1},         // broken rhythm with no note before
        {"X:1\nM:4/4\nL:1/8\nK:C\nAB ^ cd|\n", 1},       // accidental with no note
        {"X:1\nM:4/4\nL:1/8\nK:C\nAB#cd|\n", 1},         // stray character
        {"X:1\nM:4/4\nL:1/8\nK:Cfoo\nABcd|\n", 1},       // unknown mode
        {"X:1\nM:4/4\nL:1/8\nK:C\nAB cd (3ab|\n", 1},    // tune ends inside a tuplet
        {"X:1\nM:4/4\nL:1/8\nK:C\n", 1},                 // no music
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        MusicTune t = parse(cases[i].text);
        CHECK(t.num_errors == cases[i].errors, "checker case %zu: %d errors, want %d (first: %s)", i,
              t.num_errors, cases[i].errors, t.num_issues_kept ? t.issues[0].message : "none");
        tune_free(&t);
    }
    // Header fields are read.
    MusicTune t = parse("X:7\nT:Title one\nT:Second\nS:2\nB:8\nE:5\nB:8\nM:6/8\nL:1/8\nK:Em\nEFG ABc|]\n");
    CHECK(strcmp(t.x, "7") == 0 && strcmp(t.title, "Title one") == 0 && strcmp(t.meter, "6/8") == 0 &&
              strcmp(t.key, "Em") == 0 && strcmp(t.control_s, "2") == 0 && t.header_lines == 10,
          "header fields");
    tune_free(&t);
}

// Absurd durations: 62 '>' in a row, and five near-prime denominators in one
// bar (their sum's denominator passes 2^63). Each is an invalid tune with its
// error named, never an overflow (the sanitizer build checks there is none).
static void test_absurd_durations(const char *tunebench) {
    char text[256];
    char marks[63];
    memset(marks, '>', 62), marks[62] = '\0';
    snprintf(text, sizeof text, "X:1\nM:4/4\nL:1/8\nK:C\ne%sf|\n", marks);
    MusicTune t = parse(text);
    CHECK(t.num_errors == 20 && t.num_issues_kept && strstr(t.issues[0].message, "follows another"),
          "e>...>f (62 marks): %d errors, want 20 (one per extra '>>>'), first: %s", t.num_errors,
          t.num_issues_kept ? t.issues[0].message : "none");
    // e>>>f itself: e takes 15/8 of an eighth, f 1/8: one quarter note.
    CHECK(t.num_bars == 1 && rat_is(t.bars[0].duration, 1, 4), "e>>>f lasts 1/4");
    tune_free(&t);

    t = parse("X:1\nM:4/4\nL:1/8\nK:C\nC/99991 D/99989 E/99971 F/99961 G/99929|cdef|\n");
    CHECK(t.num_errors == 1 && strstr(t.issues[0].message, "absurd duration"), "near-prime lengths: %d errors (%s)",
          t.num_errors, t.num_issues_kept ? t.issues[0].message : "none");
    CHECK(t.num_bars == 2 && !rat_valid(t.bars[0].duration) && !music_bar_is_consistent(&t.bars[0]) &&
              rat_is(t.bars[1].duration, 1, 2),
          "the overflowing bar has no duration and is inconsistent; the next is 1/2");
    tune_free(&t);

    // Overflow propagates rather than wraps.
    Rational big = rat_make(INT64_MAX / 2, 1);
    CHECK(!rat_valid(rat_add(big, rat_add(big, big))) && !rat_valid(rat_mul(big, rat_make(3, 1))) &&
              rat_valid(rat_add(big, big)) && rat_cmp(rat_mul(big, big), big) > 0,
          "int64 overflow gives no value, compared above every value");
    Rational r;
    CHECK(music_parse_meter("9223372036854775807+9223372036854775807/8", &r) != 0, "a meter beyond int64 is refused");

    // The CLI on such a tune: exit 0, the tune counted invalid.
    char dir[] = "/tmp/tb_test_music_absurd_XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    char abc[300], out[300], cmd[1200];
    snprintf(abc, sizeof abc, "%s/broken.abc", dir);
    tb_write_file_atomic(abc, text, strlen(text));
    snprintf(out, sizeof out, "%s/out.json", dir);
    snprintf(cmd, sizeof cmd, "%s evaluate-music --file %s --no-abc2midi --out %s >/dev/null 2>&1", tunebench, abc,
             out);
    CHECK(system(cmd) == 0, "evaluate-music on e>...>f (62 marks) failed: %s", cmd);
    char *json = tb_read_file(out, NULL);
    cJSON *root = json ? cJSON_Parse(json) : NULL;
    cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "tunes"), 0);
    CHECK(first && cJSON_IsFalse(cJSON_GetObjectItem(first, "checker_valid")), "the tune is invalid in the JSON");
    cJSON_Delete(root);
    free(json);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0, "cleanup");
}

// Structure, note durations, features and the Yang & Lerch comparison.
static void test_structure_and_features(void) {
    // |: A A B :| then C A: sections end at :| and at the end: 2. The second
    // section (CDEF ABcd) shares 1 of its 2 bars (half) with the first
    // (ABcd ABcd efga), so it is the same part: 1 part. Repeated bars: the
    // 2nd ABcd and the last ABcd, 2 of the 4 after the first.
    MusicTune t = parse("X:1\nM:4/4\nL:1/4\nK:C\n|:ABcd|ABcd|efga:|CDEF|ABcd|]\n");
    TuneMetrics m;
    music_tune_metrics(&t, 0, NULL, &m);
    CHECK(m.sections == 2 && m.repeats == 1 && m.parts == 1 && m.bars_repeated == 2,
          "structure: %d sections (2), %d repeats (1), %d parts (1), %d repeated bars (2)", m.sections, m.repeats,
          m.parts, m.bars_repeated);
    tune_free(&t);
    // AABB written out: |:A:|:B:| with different B: 2 sections, 2 parts, 2 repeats.
    t = parse("X:1\nM:4/4\nL:1/4\nK:C\n|:ABcd|efga:|\n|:CDEF|GABc:|\n");
    music_tune_metrics(&t, 0, NULL, &m);
    CHECK(m.sections == 2 && m.repeats == 2 && m.parts == 2 && m.bars_repeated == 0,
          "AABB: %d sections, %d repeats, %d parts, %d repeated", m.sections, m.repeats, m.parts, m.bars_repeated);
    tune_free(&t);

    // Note durations (L:1/8): A2 = 1/4, B = 1/8, c>d = 3/16 and 1/16, [CEG]4 = 1/2 each, (3def = 1/12 each.
    t = parse("X:1\nM:4/4\nL:1/8\nK:C\nA2 B c>d [CEG]4|(3def z3|]\n");
    float want[] = {0.25f, 0.125f, 0.1875f, 0.0625f, 0.5f, 0.5f, 0.5f, 1 / 12.f, 1 / 12.f, 1 / 12.f};
    float got[10] = {0};
    for (int k = 0; k < t.num_notes && k < 10; k++) got[k] = t.notes[k].duration;
    CHECK(t.num_notes == 10, "10 notes, got %d", t.num_notes);
    check_close("note durations", got, want, 10, 1e-7f, 0);
    // Features: pitch classes A B C D C E G D E F -> C 2, D 2, E 2, F 1, G 1, A 1, B 1 of 10.
    double f[MUSIC_FEATURE_TOTAL];
    CHECK(music_tune_features(&t, f) == 1, "a tune with notes has features");
    const double *pc = f + music_feature_offset[FEATURE_pitch_class];
    CHECK(pc[0] == 0.2 && pc[2] == 0.2 && pc[4] == 0.2 && pc[5] == 0.1 && pc[9] == 0.1 && pc[1] == 0,
          "pitch-class histogram");
    // Intervals: A3 B3 c d C E G d e f = 57 59 60 62 48 52 55 62 64 65: steps
    // +2 +1 +2 -14 +4 +3 +7 +2 +1: +2 three times of 9, -14 clipped to -12.
    const double *iv = f + music_feature_offset[FEATURE_interval];
    CHECK(fabs(iv[12 + 2] - 3.0 / 9) < 1e-12 && fabs(iv[0] - 1.0 / 9) < 1e-12 && fabs(iv[12 + 7] - 1.0 / 9) < 1e-12,
          "interval histogram");
    // Lengths: 1/4 once, 1/8 once, 3/16 once, 1/16 once, 1/2 three times;
    // 1/12 is nearest 3/32 in log2 (three times).
    const double *ln = f + music_feature_offset[FEATURE_note_length];
    CHECK(ln[5] == 0.1 && ln[3] == 0.1 && ln[4] == 0.1 && ln[1] == 0.1 && fabs(ln[7] - 0.3) < 1e-12 &&
              fabs(ln[2] - 0.3) < 1e-12,
          "note-length histogram");
    CHECK(f[music_feature_offset[FEATURE_pitch_range]] == 65 - 48, "pitch range 17");
    // Distinct steps: +2 +1 -14 +4 +3 +7 (+2 and +1 again): 6.
    music_tune_metrics(&t, 0, NULL, &m);
    CHECK(m.distinct_intervals == 6, "distinct intervals: %d, want 6", m.distinct_intervals);
    tune_free(&t);

    // Edit distance over bars: abc vs abd: 1 substitution of 3; vs empty: 1.
    uint64_t a[3] = {1, 2, 3}, b[3] = {1, 2, 4}, c[2] = {2, 3};
    CHECK(fabs(music_edit_distance(a, 3, b, 3) - 1.0 / 3) < 1e-12 && music_edit_distance(a, 3, c, 2) == 1.0 / 3 &&
              music_edit_distance(a, 3, NULL, 0) == 1 && music_edit_distance(NULL, 0, NULL, 0) == 0,
          "bar edit distances");

    // Densities: a sample against itself overlaps entirely with KL 0; two
    // samples far apart overlap almost nowhere.
    double p[6] = {1, 2, 2, 3, 3, 4}, q[6] = {40, 41, 41, 42, 42, 43};
    double oa, kl;
    music_density_compare(p, 6, p, 6, &oa, &kl);
    CHECK(fabs(oa - 1) < 1e-9 && fabs(kl) < 1e-9, "a sample against itself: overlap %g, KL %g", oa, kl);
    music_density_compare(p, 6, q, 6, &oa, &kl);
    CHECK(oa < 0.01 && kl > 5, "samples far apart: overlap %g, KL %g", oa, kl);
    // Yang & Lerch on pitch range: a set like the reference scores near 1,
    // one with ranges far off near 0.
    double ref[8 * MUSIC_FEATURE_TOTAL] = {0}, same[8 * MUSIC_FEATURE_TOTAL] = {0}, off[8 * MUSIC_FEATURE_TOTAL] = {0};
    int at = music_feature_offset[FEATURE_pitch_range];
    for (int i = 0; i < 8; i++) {
        ref[i * MUSIC_FEATURE_TOTAL + at] = 10 + i;
        same[i * MUSIC_FEATURE_TOTAL + at] = 10 + (7 - i);
        off[i * MUSIC_FEATURE_TOTAL + at] = 60 + i;
    }
    double oa_same, kl_same, oa_off, kl_off;
    music_yang_lerch(ref, 8, same, 8, FEATURE_pitch_range, &oa_same, &kl_same);
    music_yang_lerch(ref, 8, off, 8, FEATURE_pitch_range, &oa_off, &kl_off);
    CHECK(oa_same > 0.8 && oa_off < 0.05 && kl_off > kl_same, "Yang & Lerch: same %g (KL %g), off %g (KL %g)", oa_same,
          kl_same, oa_off, kl_off);
}

static void count_tune(const char *text, size_t len, void *ctx) {
    (void)text, (void)len;
    (*(int *)ctx)++;
}

static void test_split_and_novelty(void) {
    const char *many = "% a comment\nX:1\nK:C\nABcd|\n\nX:2\nK:C\nabcd|\nX:3\nK:G\nGABc|\n\n\n";
    int n = 0;
    CHECK(music_split_tunes(many, strlen(many), count_tune, &n) == 3 && n == 3, "three tunes, got %d", n);
    n = 0;
    const char *bare = "ABcd|\n";
    CHECK(music_split_tunes(bare, strlen(bare), count_tune, &n) == 1 && n == 1, "text with no X: is one tune");

    // Training bars: |ABcd|efga|gfed|cBAG| and |CDEF|GABc|.
    const char *train = "X:1\nM:4/4\nL:1/4\nK:C\nABcd|efga|gfed|cBAG|]\n\nX:2\nM:4/4\nL:1/4\nK:C\nCDEF|GABc|]\n";
    NoveltyIndex ix;
    novelty_init(&ix);
    novelty_add_text(&ix, train, strlen(train));
    CHECK(ix.tunes == 2 && ix.bars.count == 6 && ix.spans4.count == 1, "index: 2 tunes, 6 bars, 1 span");
    // Generated: 5 bars; "A B c d" (spaces aside) and "efga", "gfed", "cBAG" are
    // in the training split, "GGGG" is not: 4 of 5 bars. Spans: bars 0-3 are
    // training's span (1 of 2).
    MusicTune t = parse("X:9\nM:4/4\nL:1/4\nK:C\nA B c d|efga|gfed|cBAG|GGGG|]\n");
    TuneMetrics m;
    music_tune_metrics(&t, 0, &ix, &m);
    CHECK(m.novelty_bars == 5 && m.novelty_bars_in_train == 4, "4 of 5 bars seen, got %d of %d",
          m.novelty_bars_in_train, m.novelty_bars);
    CHECK(m.novelty_spans == 2 && m.novelty_spans_in_train == 1, "1 of 2 spans seen, got %d of %d",
          m.novelty_spans_in_train, m.novelty_spans);
    tune_free(&t);
    // A bar differing in one note is new; spans need the bars in order.
    t = parse("X:9\nM:4/4\nL:1/4\nK:C\nABce|efga|cBAG|gfed|]\n");
    music_tune_metrics(&t, 0, &ix, &m);
    CHECK(m.novelty_bars_in_train == 3 && m.novelty_spans_in_train == 0, "one changed bar, reordered span");
    tune_free(&t);

    // Copying. "A B c d|efga|gfed|cBAG|GGGG": its first four bars are
    // training tune 1's, in order: a run of 4. Its distinct bars {ABcd efga
    // gfed cBAG GGGG} share 4 with tune 1's 4: Jaccard 4 / (5 + 4 - 4),
    // distance 0.2.
    t = parse("X:9\nM:4/4\nL:1/4\nK:C\nA B c d|efga|gfed|cBAG|GGGG|]\n");
    music_tune_metrics(&t, 0, &ix, &m);
    CHECK(m.longest_copied_run == 4 && fabs(m.nn_distance - 0.2) < 1e-12, "copied run %d (want 4), NN %g (want 0.2)",
          m.longest_copied_run, m.nn_distance);
    tune_free(&t);
    // "ABce|efga|cBAG|gfed": no two of its bars follow each other in training
    // (there gfed comes before cBAG): a run of 1; 3 of 4 + 4 - 3 shared: 0.4.
    t = parse("X:9\nM:4/4\nL:1/4\nK:C\nABce|efga|cBAG|gfed|]\n");
    music_tune_metrics(&t, 0, &ix, &m);
    CHECK(m.longest_copied_run == 1 && fabs(m.nn_distance - 0.4) < 1e-12, "copied run %d (want 1), NN %g (want 0.4)",
          m.longest_copied_run, m.nn_distance);
    tune_free(&t);
    // Nothing in common: run 0, distance 1.
    t = parse("X:9\nM:4/4\nL:1/4\nK:C\nGGGG|FFFF|]\n");
    music_tune_metrics(&t, 0, &ix, &m);
    CHECK(m.longest_copied_run == 0 && m.nn_distance == 1, "no copying: run %d, NN %g", m.longest_copied_run,
          m.nn_distance);
    tune_free(&t);
    novelty_free(&ix);

    // The hash set survives growth and never loses a key.
    HashSet64 hs;
    hashset_init(&hs);
    for (uint64_t k = 0; k < 5000; k++) hashset_add(&hs, k * 0x9e3779b97f4a7c15ULL);
    int all = 1;
    for (uint64_t k = 0; k < 5000; k++) all &= hashset_has(&hs, k * 0x9e3779b97f4a7c15ULL);
    CHECK(all && hs.count == 5000 && !hashset_has(&hs, 12345), "hash set of 5000 keys");
    hashset_free(&hs);
}

// Control codes: two identical 4-bar sections, each closed by :|, are S:2,
// B:4 and B:4, and E:10 between them (TunesFormer's rules, data/control_codes.h).
static void control_case(const char *codes, int s_match, int b_match, int b_total, int e_match,
                         int e_total) {
    char text[512];
    snprintf(text, sizeof text,
             "X:1\n%sL:1/8\nM:4/4\nK:C\nabcd efga|gfed cBAG|abcd efga|gfed c4:|"
             "abcd efga|gfed cBAG|abcd efga|gfed c4:|\n",
             codes);
    TuneMetrics m;
    memset(&m, 0, sizeof m);
    music_control_adherence(text, strlen(text), &m);
    CHECK(m.control_present == 1 && m.control_s_match == s_match && m.control_b_match == b_match &&
              m.control_b_total == b_total && m.control_e_match == e_match && m.control_e_total == e_total,
          "control codes %s: S %d, B %d/%d, E %d/%d; want S %d, B %d/%d, E %d/%d", codes,
          m.control_s_match, m.control_b_match, m.control_b_total, m.control_e_match, m.control_e_total,
          s_match, b_match, b_total, e_match, e_total);
}

static void test_control_codes(void) {
    control_case("S:2\nB:4\nE:10\nB:4\n", 1, 2, 2, 1, 1);              // all kept
    control_case("S:2\nB:4\nE:3\nB:8\n", 1, 1, 2, 0, 1);               // second B and E missed
    control_case("S:3\nB:4\nE:10\nB:4\nE:5\nE:5\nB:4\n", 0, 2, 3, 1, 3);  // a third section never came
    TuneMetrics m;
    memset(&m, 0, sizeof m);
    const char *plain = "X:1\nT:no codes\nM:4/4\nL:1/8\nK:C\nabcd efga|]\n";
    music_control_adherence(plain, strlen(plain), &m);
    CHECK(m.control_present == 0 && m.control_s_match == -1, "a tune without codes is not scored");
}

static void test_distributions(void) {
    // W1 between {0,1} and {1,2}: shifting by 1 moves all mass 1.
    double a[] = {0, 1}, b[] = {1, 2}, c[] = {1, 1, 2, 2}, d[] = {2, 2, 3, 3}, e[] = {0, 0, 0, 4};
    CHECK(fabs(music_wasserstein1(a, 2, b, 2) - 1.0) < 1e-12, "W1 of a shift by 1");
    CHECK(music_wasserstein1(c, 4, c, 4) == 0.0, "W1 to itself is 0");
    // {0,0,0,4} vs {1,1,2,2}: CDF gap 3/4 on [0,1), 1/4 on [1,2), 1/4 on [2,4): 0.75+0.25+0.5.
    CHECK(fabs(music_wasserstein1(e, 4, c, 4) - 1.5) < 1e-12, "W1 of uneven samples %g",
          music_wasserstein1(e, 4, c, 4));
    CHECK(fabs(music_overlap(c, 4, d, 4) - 0.5) < 1e-12, "overlap of half-shared histograms");
    CHECK(fabs(music_overlap(c, 4, c, 4) - 1.0) < 1e-12, "overlap with itself");
    CHECK(music_overlap(a, 1, d, 4) == 0.0, "disjoint histograms");
    MusicStats s;
    double x[] = {4, 1, 3, 2};
    music_stats(x, 4, &s);
    CHECK(s.mean == 2.5 && s.median == 2.5 && s.min == 1 && s.max == 4 &&
              fabs(s.std - sqrt(5.0 / 3.0)) < 1e-12,
          "stats of 1..4");
}

// abc2midi's verdict and error count (abcmidi is in the test dependencies).
static void test_abc2midi(void) {
    if (!music_tool_available("abc2midi")) {
        CHECK(0, "abc2midi is not installed: run 'bash scripts/deps.sh build' (Debian package abcmidi)");
        return;
    }
    char dir[] = "/tmp/tb_test_music_XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    const char *good = "X:1\nM:4/4\nL:1/8\nK:G\nGABc d2B2|c2A2 G4|]\n";
    const char *bad = "X:1\nM:4/4\nL:1/8\nK:Q\nGABc d2B2|]\n";  // abc2midi: no valid K: field
    TuneMetrics m;
    memset(&m, 0, sizeof m);
    CHECK(music_run_abc2midi(good, strlen(good), dir, &m) == 0 && m.abc2midi_run && m.abc2midi_valid &&
              m.abc2midi_errors == 0,
          "a good tune passes abc2midi (errors %d)", m.abc2midi_errors);
    memset(&m, 0, sizeof m);
    CHECK(music_run_abc2midi(bad, strlen(bad), dir, &m) == 0 && !m.abc2midi_valid && m.abc2midi_errors >= 1,
          "a bad key fails abc2midi (errors %d)", m.abc2midi_errors);
    // A missing program is named with its Debian package.
    const char *argv[] = {"tunebench-no-such-tool", NULL};
    int status;
    CHECK(music_run_tool(argv, "some-package", NULL, &status) != 0 &&
              strstr(tb_last_error(), "some-package") != NULL,
          "a missing tool names its package: %s", tb_last_error());

    // End to end: a folder of two tunes, one valid, one not.
    char path[256];
    snprintf(path, sizeof path, "%s/a.abc", dir);
    tb_write_file_atomic(path, good, strlen(good));
    snprintf(path, sizeof path, "%s/b.abc", dir);
    const char *pickup = "X:2\nM:4/4\nL:1/8\nK:G\nGABc d2B|c2A2 G4|]\n";
    tb_write_file_atomic(path, pickup, strlen(pickup));
    MusicEvalOptions opt = {.input = dir, .label = "test", .use_abc2midi = 1, .ref = dir};
    cJSON *j = music_evaluate(&opt);
    CHECK(j != NULL, "music_evaluate: %s", tb_last_error());
    if (j) {
        const cJSON *s = cJSON_GetObjectItem(j, "summary");
        // Bars: a: 2 consistent; b: 'GABc d2B' 7/8 first bar (short, allowed as a pickup), 'c2A2 G4' ok.
        CHECK(cJSON_GetObjectItem(s, "tunes")->valueint == 2, "two tunes scored");
        CHECK(cJSON_GetObjectItem(s, "bar_consistency")->valuedouble == 1.0, "bar consistency 1");
        CHECK(cJSON_GetObjectItem(s, "checker_valid_rate")->valuedouble == 1.0, "both pass the checker");
        const cJSON *w = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "vs_reference"), "bars"),
                                             "wasserstein1");
        CHECK(w && w->valuedouble == 0.0, "a set against itself has W1 0");
        cJSON_Delete(j);
    }
    unlink(path);
    snprintf(path, sizeof path, "%s/a.abc", dir);
    unlink(path);
    rmdir(dir);
}

// A hand-made MIDI file: a header, one track of note on, note on by running
// status, note off, end of track (4 events), and an unknown chunk skipped.
static void test_midi_events(void) {
    const unsigned char midi[] = {
        'M', 'T', 'h', 'd', 0, 0, 0, 6, 0, 0, 0, 1, 0, 96,
        'X', 'x', 'x', 'x', 0, 0, 0, 2, 1, 2,
        'M', 'T', 'r', 'k', 0, 0, 0, 16,
        0x00, 0x90, 60, 100,        // note on
        0x81, 0x40, 64, 100,        // delta 192 (two bytes), running status
        0x60, 0x80, 60, 0,          // note off
        0x00, 0xFF, 0x2F, 0x00,     // end of track
    };
    CHECK(music_midi_event_count(midi, sizeof midi) == 4, "MIDI events: %ld, want 4",
          music_midi_event_count(midi, sizeof midi));
    CHECK(music_midi_event_count((const unsigned char *)"RIFF....", 8) == -1, "not MIDI");
}

// Valid UTF-8 throughout: tb_utf8_clean changes nothing.
static int is_utf8(const char *text) {
    char *copy = tb_strdup(text);
    tb_utf8_clean(copy);
    int same = strcmp(copy, text) == 0;
    free(copy);
    return same;
}

static void count_each(const char *text, size_t len, const char *source, int index, void *ctx) {
    (void)text, (void)len, (void)source, (void)index;
    ++*(int *)ctx;
}

static void test_empty_folder_and_utf8(const char *tunebench) {
    char dir[] = "/tmp/tb_test_music_empty_XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    // No *.abc at all (the file list is empty: nothing to sort).
    int n = 0;
    CHECK(music_for_each_tune(dir, count_each, &n) < 0 && strstr(tb_last_error(), "no tunes"),
          "a folder without tunes: %s", tb_last_error());
    MusicEvalOptions opt = {.input = dir, .label = "empty"};
    cJSON *j = music_evaluate(&opt);
    CHECK(j == NULL && strstr(tb_last_error(), dir), "evaluate-music on an empty folder: %s", tb_last_error());
    cJSON_Delete(j);

    // A title with the bytes \xff\xfe.
    char abc[300], out[300], cmd[1200];
    snprintf(abc, sizeof abc, "%s/bad.abc", dir);
    const char *tune = "X:1\nT:Bad \xff\xfe title\nM:4/4\nL:1/8\nK:G\nGABc d2B2|c2A2 G4|]\n";
    tb_write_file_atomic(abc, tune, strlen(tune));
    snprintf(out, sizeof out, "%s/out.json", dir);
    snprintf(cmd, sizeof cmd, "%s evaluate-music --file %s --no-abc2midi --out %s >/dev/null 2>&1", tunebench, abc,
             out);
    CHECK(system(cmd) == 0, "evaluate-music --file on a title with \\xff\\xfe failed");
    char *text = tb_read_file(out, NULL);
    cJSON *parsed = text ? cJSON_Parse(text) : NULL;
    CHECK(text && is_utf8(text) && parsed && strstr(text, "Bad ?? title"),
          "evaluate-music wrote JSON that is not UTF-8: %s", text ? text : "(none)");
    cJSON_Delete(parsed);
    free(text);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0, "cleanup");
}

int main(int argc, char **argv) {
    (void)argc;
    char tunebench[512] = "build/tunebench";  // <build>/tunebench for <build>/tests/test_music_metrics
    const char *tests_dir = strstr(argv[0], "/tests/");
    if (tests_dir) snprintf(tunebench, sizeof tunebench, "%.*s/tunebench", (int)(tests_dir - argv[0]), argv[0]);
    test_fields();
    test_durations();
    test_bar_consistency();
    test_pitch_and_key();
    test_checker();
    test_absurd_durations(tunebench);
    test_structure_and_features();
    test_split_and_novelty();
    test_distributions();
    test_control_codes();
    test_midi_events();
    test_abc2midi();
    test_empty_folder_and_utf8(tunebench);
    return test_summary("test_music_metrics");
}
