// test_augment.c: key transposition (data/augment.c, abc2abc -t) and
// `prepare --augment transpose`.
//   - Keys with modes (K:Dmix, K:Ador), accidentals, inline key changes and
//     chord symbols in quotes ("Am" -> "Bm" at +2) come out transposed; the
//     project's tune reader (src/music/tune.c) confirms that every note of
//     every transposition sounds exactly N semitones from the original.
//   - A copy abc2abc complains about is dropped and counted.
//   - prepare: the validation split and the vocabulary are byte-identical with
//     and without augmentation; the training split gains the copies, and the
//     manifest's counts add up.
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "../data/augment.h"
#include "../data/corpus.h"
#include "../src/music/tune.h"
#include "lib/common.h"
#include "test.h"

int cmd_prepare(int argc, char **argv);

static const char *const tunes_src[] = {
    "X:11\nT:Mixolydian\nM:6/8\nL:1/8\nK:Dmix\n\"D\"dcA \"Am\"ABc|\"G\"^fg=f _e2 B|]\n",
    "X:12\nT:Dorian\nM:4/4\nL:1/8\nK:Ador\n\"Am\"A2 ^G2 \"Em7\"e'2 C,2|[K:G] G4 \"C/E\"z4|]\n",
    "X:13\nT:Flats\nM:3/4\nL:1/4\nK:Bb\n\"Bb\"B _A =B|\"F7\"f2 e|]\n",
};
#define NUM_TUNES 3

static int has(const char *text, const char *part) { return text && strstr(text, part) != NULL; }

static const AugTune *copy_of(const AugSet *set, size_t source) {
    for (size_t i = 0; i < set->count; i++)
        if (set->tunes[i].source == source) return &set->tunes[i];
    return NULL;
}

// Every note of the copy sounds `semitones` from the original's, by tune.c.
static void check_pitches(const char *orig, const char *copy, int semitones) {
    MusicTune a = {0}, b = {0};
    tune_parse(&a, orig, strlen(orig));
    tune_parse(&b, copy, strlen(copy));
    CHECK(a.num_errors == 0 && b.num_errors == 0, "tune.c finds errors (%d, %d) in:\n%s\n%s", a.num_errors,
          b.num_errors, orig, copy);
    CHECK(a.num_notes == b.num_notes && a.num_notes > 0, "%+d: %d notes became %d", semitones, a.num_notes,
          b.num_notes);
    int wrong = 0;
    for (int i = 0; i < a.num_notes && i < b.num_notes; i++) wrong += b.notes[i].pitch - a.notes[i].pitch != semitones;
    CHECK(wrong == 0, "%+d: %d notes moved by another interval:\n%s\n%s", semitones, wrong, orig, copy);
    tune_free(&a);
    tune_free(&b);
}

static void test_transpose(void) {
    char *texts[NUM_TUNES];
    size_t lens[NUM_TUNES];
    for (int i = 0; i < NUM_TUNES; i++) texts[i] = corpus_normalize(tunes_src[i], strlen(tunes_src[i]), &lens[i]);

    AugSet up2 = {0};
    CHECK(augment_transpose(texts, lens, NUM_TUNES, 2, &up2) == 0, "abc2abc: %s", tb_last_error());
    CHECK(up2.count == NUM_TUNES, "+2: %zu copies of %d", up2.count, NUM_TUNES);
    const AugTune *mix = copy_of(&up2, 0), *dor = copy_of(&up2, 1), *flats = copy_of(&up2, 2);
    const char *m = mix ? mix->text : NULL, *d = dor ? dor->text : NULL, *f = flats ? flats->text : NULL;
    CHECK(has(m, "X:11\n") && has(m, "K:Emix\n") && has(m, "\"E\"edB \"Bm\"Bcd|\"A\"^ga=g =f2 c|]"),
          "K:Dmix +2:\n%s", m ? m : "(none)");
    CHECK(has(d, "X:12\n") && has(d, "K:Bdor\n") && has(d, "\"Bm\"B2 ^A2") && has(d, "\"F#m7\"f'2") &&
              has(d, "[K:Amaj]") && has(d, "\"D/F#\""),
          "K:Ador +2:\n%s", d ? d : "(none)");
    CHECK(has(f, "K:Cmaj\n") && has(f, "\"C\"c _B ^c|\"G7\"g2 f|]"), "K:Bb +2:\n%s", f ? f : "(none)");
    augset_free(&up2);

    // Every transposition the augmentation makes, note by note.
    for (int t = AUGMENT_MIN_SEMITONES; t <= AUGMENT_MAX_SEMITONES; t++) {
        if (t == 0) continue;
        AugSet set = {0};
        CHECK(augment_transpose(texts, lens, NUM_TUNES, t, &set) == 0, "abc2abc %+d: %s", t, tb_last_error());
        CHECK(set.count == NUM_TUNES, "%+d: %zu copies", t, set.count);
        for (size_t i = 0; i < set.count; i++) {
            CHECK(set.tunes[i].semitones == t, "semitones recorded");
            check_pitches(texts[set.tunes[i].source], set.tunes[i].text, t);
        }
        augset_free(&set);
    }

    // A note abc2abc reports as an error ("c," is not an ABC pitch it
    // accepts): the copy is dropped and counted, the others kept.
    char *bad[2];
    size_t bad_len[2];
    const char *bad_src = "X:1\nT:Bad\nM:2/4\nL:1/8\nK:G\nc,2 d2|]\n";
    bad[0] = corpus_normalize(bad_src, strlen(bad_src), &bad_len[0]);
    bad[1] = texts[0], bad_len[1] = lens[0];
    AugSet set = {0};
    CHECK(augment_transpose(bad, bad_len, 2, 3, &set) == 0, "abc2abc: %s", tb_last_error());
    CHECK(set.count == 1 && set.tunes[0].source == 1 && set.dropped[AUG_DROP_TOOL_ERROR] == 1,
          "abc2abc's %%Error: %zu kept, %llu dropped", set.count,
          (unsigned long long)set.dropped[AUG_DROP_TOOL_ERROR]);
    augset_free(&set);
    free(bad[0]);
    for (int i = 0; i < NUM_TUNES; i++) free(texts[i]);
}

static char *read_or_empty(const char *path, size_t *len) {
    char *s = tb_read_file(path, len);
    return s ? s : (*len = 0, tb_strdup(""));
}

static double number_at(const cJSON *m, const char *a, const char *b, const char *c) {
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(m, a);
    if (b) o = cJSON_GetObjectItemCaseSensitive(o, b);
    if (c) o = cJSON_GetObjectItemCaseSensitive(o, c);
    return cJSON_IsNumber(o) ? o->valuedouble : -1;
}

// prepare with and without --augment on one real collection (abc tokenizer).
static void test_prepare(void) {
    const char *input = "data/corpus/music21/abc/miscFolk";
    CHECK(tb_dir_exists(input), "%s is missing (run make data)", input);
    if (!tb_dir_exists(input)) return;
    char dir[] = "/tmp/tb_test_augment_XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    char *plain[] = {"prepare", "--out", dir, "--val-fraction", "0.2", (char *)input, NULL};
    char *aug[] = {"prepare", "--out", dir, "--val-fraction", "0.2", "--augment", "transpose", (char *)input, NULL};
    CHECK(cmd_prepare(6, plain) == 0, "prepare: %s", tb_last_error());
    CHECK(cmd_prepare(8, aug) == 0, "prepare --augment transpose: %s", tb_last_error());
    for (int s = 0; s < corpus_num_styles; s++) {
        const char *style = corpus_styles[s].name;
        static const char *const same[] = {"val.bin", "val.abc", "vocab.tok"};
        for (int k = 0; k < 3; k++) {
            char a[600], b[600];
            snprintf(a, sizeof a, "%s/local/%s/%s", dir, style, same[k]);
            snprintf(b, sizeof b, "%s/local/%s-transpose/%s", dir, style, same[k]);
            size_t la, lb;
            char *x = read_or_empty(a, &la), *y = read_or_empty(b, &lb);
            CHECK(la > 0 && la == lb && memcmp(x, y, la) == 0, "%s: %s differs with augmentation", style, same[k]);
            free(x), free(y);
        }
        char path[600];
        snprintf(path, sizeof path, "%s/local/%s/manifest.json", dir, style);
        char *text = tb_read_file(path, NULL);
        cJSON *base = text ? cJSON_Parse(text) : NULL;
        free(text);
        snprintf(path, sizeof path, "%s/local/%s-transpose/manifest.json", dir, style);
        text = tb_read_file(path, NULL);
        cJSON *m = text ? cJSON_Parse(text) : NULL;
        free(text);
        CHECK(base && m, "manifests of %s", style);
        if (base && m) {
            double train = number_at(base, "tunes", "train", NULL);
            double made = number_at(m, "augment", "copies_made", NULL), kept = number_at(m, "augment", "copies_kept", NULL);
            double lost = 0;
            for (int r = 0; r < AUG_DROP_COUNT; r++) lost += number_at(m, "augment", "dropped", augment_drop_name((AugDrop)r));
            double later = number_at(m, "augment", "dropped", "style") + number_at(m, "augment", "dropped", "round_trip");
            // Copies come from the tunes found on the training side (a style
            // may then drop some of the originals).
            CHECK(made + lost >= 11 * train && kept + later == made && kept > 5 * train,
                  "%s: %g train tunes, %g copies made, %g lost, %g kept, %g dropped later", style, train, made, lost,
                  kept, later);
            CHECK(number_at(m, "tunes", "train", NULL) == train && number_at(m, "tunes", "val", NULL) ==
                                                                         number_at(base, "tunes", "val", NULL),
                  "%s: the tune counts of the splits change with augmentation", style);
            CHECK(number_at(m, "train", "tunes", NULL) == train + kept,
                  "%s: train.bin holds %g tunes, want %g + %g", style, number_at(m, "train", "tunes", NULL), train, kept);
        }
        cJSON_Delete(base);
        cJSON_Delete(m);
    }
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0, "cleanup");
}

int main(void) {
    (void)check_close;
    test_transpose();
    test_prepare();
    return test_summary("test_augment");
}
