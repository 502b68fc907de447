// test_music_samples.c: scripts/samples.sh and the index page, end to end.
//
// Renders three tunes (two good, one that is not ABC at all) and checks that
// the good ones get MIDI, WAV, MP3 and an SVG score, the bad one is counted
// invalid without stopping the batch, every file the page references exists,
// and headless Chromium loads the page with no resource errors. The
// screenshot is kept at build/test_music_samples.png.
//
// Needs the Debian packages of `bash scripts/deps.sh samples` (make test
// installs them). Without chromium the browser part is skipped, loudly.
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/common.h"
#include "../src/music/music_tools.h"
#include "test.h"

static const char *good1 =
    "X:1\nT:Good one\nM:6/8\nL:1/8\nK:D\nA|d2e fed|c2B A3|d2e fed|e3 d2:|\n";
static const char *good2 =
    "X:2\nT:Good two\nM:4/4\nL:1/8\nK:Ador\n|:EA A2 ABcd|e2 dc BA A2:|\n";
static const char *bad = "this is not a tune at all\n";

static long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

// Every src="..." and href="..." that is a relative path must exist under root.
static void check_links(const char *html, const char *root, int *svg_refs, int *audio_refs) {
    int missing = 0;
    *svg_refs = *audio_refs = 0;
    const char *attrs[] = {"src=\"", "href=\""};
    for (int a = 0; a < 2; a++) {
        for (const char *p = strstr(html, attrs[a]); p; p = strstr(p + 1, attrs[a])) {
            const char *v = p + strlen(attrs[a]);
            const char *end = strchr(v, '"');
            if (!end || *v == '#' || end - v >= 512) continue;
            char rel[512], path[1024];
            memcpy(rel, v, (size_t)(end - v));
            rel[end - v] = '\0';
            snprintf(path, sizeof path, "%s/%s", root, rel);
            if (!tb_file_exists(path)) {
                missing++;
                fprintf(stderr, "index.html references a missing file: %s\n", rel);
            }
            size_t n = strlen(rel);
            if (a == 0 && n > 4 && strcmp(rel + n - 4, ".svg") == 0) (*svg_refs)++;
            if (a == 0 && n > 4 && strcmp(rel + n - 4, ".mp3") == 0) (*audio_refs)++;
        }
    }
    CHECK(missing == 0, "%d files referenced by index.html are missing", missing);
}

int main(void) {
    const char *tools[] = {"abc2midi", "abcm2ps", "fluidsynth", "lame"};
    for (int i = 0; i < 4; i++) {
        if (!music_tool_available(tools[i])) {
            CHECK(0, "%s is missing: run 'bash scripts/deps.sh samples'", tools[i]);
            return test_summary("test_music_samples");
        }
    }
    char root[] = "/tmp/tb_test_samples_XXXXXX";
    CHECK(mkdtemp(root) != NULL, "mkdtemp");
    char tunes[300], out[300], path[600], cmd[2048];
    snprintf(tunes, sizeof tunes, "%s/tunes", root);
    snprintf(out, sizeof out, "%s/samples", root);
    tb_mkdirs(tunes);
    const char *texts[] = {good1, good2, bad};
    const char *names[] = {"a_good", "b_good", "c_bad"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s.abc", tunes, names[i]);
        tb_write_file_atomic(path, texts[i], strlen(texts[i]));
    }
    snprintf(cmd, sizeof cmd, "bash scripts/samples.sh --limit 8 %s gen=%s > %s/log.txt 2>&1", out, tunes, root);
    int rc = system(cmd);
    CHECK(rc == 0, "scripts/samples.sh failed (exit %d); see %s/log.txt", rc, root);

    // Good tunes get every file; the bad one gets none but is listed.
    for (int i = 0; i < 2; i++) {
        const char *exts[] = {"mid", "wav", "mp3", "svg"};
        for (int k = 0; k < 4; k++) {
            snprintf(path, sizeof path, "%s/gen/%s.%s", out, names[i], exts[k]);
            CHECK(file_size(path) > 44, "%s was not rendered", path);
        }
    }
    // The WAV is 44.1 kHz, 16-bit PCM: check its header.
    snprintf(path, sizeof path, "%s/gen/a_good.wav", out);
    FILE *f = fopen(path, "rb");
    unsigned char hdr[44] = {0};
    if (f) {
        CHECK(fread(hdr, 1, 44, f) == 44, "short WAV");
        fclose(f);
    }
    unsigned rate = hdr[24] | hdr[25] << 8 | hdr[26] << 16 | (unsigned)hdr[27] << 24;
    CHECK(memcmp(hdr, "RIFF", 4) == 0 && rate == 44100 && hdr[34] == 16, "WAV is 44.1 kHz 16-bit (rate %u, bits %d)",
          rate, hdr[34]);
    snprintf(path, sizeof path, "%s/gen/render.tsv", out);
    char *tsv = tb_read_file(path, NULL);
    CHECK(tsv && strstr(tsv, "c_bad\t0\t0\t0\t0") && strstr(tsv, "a_good\t1\t1\t1\t1"),
          "render.tsv records what each tool did");
    free(tsv);

    // metrics.json counts the bad tune as invalid.
    snprintf(path, sizeof path, "%s/gen/metrics.json", out);
    char *mtext = tb_read_file(path, NULL);
    cJSON *m = mtext ? cJSON_Parse(mtext) : NULL;
    free(mtext);
    CHECK(m != NULL, "metrics.json is missing or not JSON");
    if (m) {
        const cJSON *s = cJSON_GetObjectItem(m, "summary");
        CHECK(cJSON_GetObjectItem(s, "tunes")->valueint == 3, "3 tunes scored");
        // 2 of 3 valid, by our checker and by abc2midi.
        float got[2] = {(float)cJSON_GetObjectItem(s, "checker_valid_rate")->valuedouble,
                        (float)cJSON_GetObjectItem(s, "abc2midi_valid_rate")->valuedouble};
        float want[2] = {2.0f / 3, 2.0f / 3};
        check_close("valid rates", got, want, 2, 1e-6f, 0);
        cJSON_Delete(m);
    }

    // The page: every link exists; two scores and two players.
    snprintf(path, sizeof path, "%s/index.html", out);
    char *html = tb_read_file(path, NULL);
    CHECK(html != NULL, "index.html was not written");
    if (html) {
        int svgs, audios;
        check_links(html, out, &svgs, &audios);
        CHECK(svgs == 2 && audios == 2, "index.html shows %d scores and %d players, want 2 and 2", svgs, audios);
        CHECK(strstr(html, "Good one") && strstr(html, "c_bad"), "titles and the bad tune are listed");
        // The summary table (3 tunes, a share as a percentage) and one table per tune.
        CHECK(strstr(html, "<table class=summary>\n<tr><th>tunes</th><td>3</td></tr>") &&
                  strstr(html, "<tr><th>valid (our checker)</th><td>") && strstr(html, "%</td></tr>"),
              "index.html's summary table");
        int tables = 0;
        for (const char *p = strstr(html, "<table class=metrics>"); p; p = strstr(p + 1, "<table class=metrics>"))
            tables++;
        CHECK(tables == 3, "index.html has %d per-tune metric tables, want 3", tables);
        free(html);
    }

    // Headless Chromium: the page loads with no resource errors; screenshot.
    if (!music_tool_available("chromium")) {
        SKIP("the browser check: chromium is not installed and 'bash scripts/deps.sh samples' could not "
             "install it");
    } else {
        snprintf(cmd, sizeof cmd,
                 "timeout 120 chromium --headless --no-sandbox --disable-gpu --virtual-time-budget=8000 "
                 "--dump-dom file://%s/index.html > %s/dom.html 2>/dev/null",
                 out, root);
        rc = system(cmd);
        snprintf(path, sizeof path, "%s/dom.html", root);
        char *dom = tb_read_file(path, NULL);
        CHECK(rc == 0 && dom, "chromium --dump-dom failed (exit %d)", rc);
        CHECK(dom && strstr(dom, "data-load-errors=\"0\""), "the page had resource errors in chromium: %.200s",
              dom && strstr(dom, "id=\"status\"") ? strstr(dom, "id=\"status\"") : "(no status)");
        free(dom);
        tb_mkdirs("build");
        snprintf(cmd, sizeof cmd,
                 "timeout 120 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars "
                 "--window-size=1200,1600 --virtual-time-budget=8000 --screenshot=build/test_music_samples.png "
                 "file://%s/index.html > /dev/null 2>&1",
                 out);
        unlink("build/test_music_samples.png");
        rc = system(cmd);
        f = fopen("build/test_music_samples.png", "rb");
        unsigned char sig[8] = {0};
        if (f) {
            if (fread(sig, 1, 8, f) != 8) sig[0] = 0;
            fclose(f);
        }
        CHECK(rc == 0 && memcmp(sig, "\x89PNG", 4) == 0 && file_size("build/test_music_samples.png") > 10000,
              "chromium screenshot build/test_music_samples.png (exit %d)", rc);
    }
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", root);
    return test_summary("test_music_samples");
}
