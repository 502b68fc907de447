// corpus.c: splitting ABC files into tunes, checking them, the two styles,
// duplicate keys and the train/validation split (see corpus.h).
#include "corpus.h"

#include <stdlib.h>
#include <string.h>

#include "lib/common.h"
#include "control_codes.h"

const char *corpus_skip_name(SkipReason reason) {
    static const char *names[SKIP_REASON_COUNT] = {
        "text_outside_tunes", "binary", "invalid_utf8", "too_long", "no_key", "empty_body",
        "multi_voice", "control_codes_no_sections", "control_codes_over_8_sections",
        "control_codes_over_32_bars", "control_codes_leading_ending", "json_record_without_abc"};
    return (unsigned)reason < SKIP_REASON_COUNT ? names[reason] : "?";
}

void tuneset_free(TuneSet *set) {
    for (size_t i = 0; i < set->count; i++) free(set->tunes[i].text);
    free(set->tunes);
    memset(set, 0, sizeof *set);
}

// A growable byte buffer, local to this file.
typedef struct {
    char *data;
    size_t len, cap;
} Buf;

static void buf_put(Buf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->data = realloc(b->data, b->cap);
        if (!b->data) tb_die("out of memory preparing tunes");
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void buf_puts(Buf *b, const char *s) { buf_put(b, s, strlen(s)); }

int corpus_valid_utf8(const char *text, size_t len) {
    const unsigned char *p = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
        unsigned c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        int extra;
        uint32_t min;
        if (c >= 0xc2 && c <= 0xdf) extra = 1, min = 0x80;
        else if (c >= 0xe0 && c <= 0xef) extra = 2, min = 0x800;
        else if (c >= 0xf0 && c <= 0xf4) extra = 3, min = 0x10000;
        else return 0;
        if (i + (size_t)extra >= len) return 0;
        uint32_t cp = c & (0x3f >> extra);
        for (int k = 1; k <= extra; k++) {
            if ((p[i + k] & 0xc0) != 0x80) return 0;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
        i += 1 + (size_t)extra;
    }
    return 1;
}

char *corpus_normalize(const char *text, size_t len, size_t *out_len) {
    char *out = tb_malloc(len + 2);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\r') {
            out[n++] = '\n';
            if (i + 1 < len && text[i + 1] == '\n') i++;
        } else {
            out[n++] = text[i];
        }
    }
    // Drop trailing blank lines (and trailing spaces on the last line).
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' ' || out[n - 1] == '\t')) n--;
    out[n++] = '\n';
    out[n] = '\0';
    *out_len = n;
    return out;
}

static int is_field_line(const char *line, size_t len) {
    return len >= 2 && ((line[0] >= 'A' && line[0] <= 'Z') || (line[0] >= 'a' && line[0] <= 'z')) &&
           line[1] == ':';
}

// Offset just past the K: line (the end of the header), or 0 if none.
static size_t header_end(const char *tune, size_t len) {
    for (size_t pos = 0; pos < len;) {
        const char *nl = memchr(tune + pos, '\n', len - pos);
        size_t line_len = nl ? (size_t)(nl - (tune + pos)) : len - pos;
        if (line_len >= 2 && tune[pos] == 'K' && tune[pos + 1] == ':') return pos + line_len + (nl != NULL);
        pos += line_len + 1;
    }
    return 0;
}

SkipReason corpus_check_tune(const char *tune, size_t len) {
    size_t control = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)tune[i];
        if (c == 0) return SKIP_BINARY;
        if ((c < 0x20 && c != '\n' && c != '\t' && c != '\f') || c == 0x7f) control++;
    }
    if (control > 0) return SKIP_BINARY;
    if (!corpus_valid_utf8(tune, len)) return SKIP_INVALID_UTF8;
    if (len > CORPUS_MAX_TUNE_BYTES) return SKIP_TOO_LONG;
    size_t body = header_end(tune, len);
    if (body == 0) return SKIP_NO_KEY;
    // The body must hold something besides blank lines and comments.
    for (size_t pos = body; pos < len;) {
        const char *nl = memchr(tune + pos, '\n', len - pos);
        size_t line_len = nl ? (size_t)(nl - (tune + pos)) : len - pos;
        const char *line = tune + pos;
        size_t k = 0;
        while (k < line_len && (line[k] == ' ' || line[k] == '\t')) k++;
        if (k < line_len && line[k] != '%' && !is_field_line(line + k, line_len - k)) return SKIP_REASON_COUNT;
        pos += line_len + 1;
    }
    return SKIP_EMPTY_BODY;
}

static int starts_tune(const char *text, size_t pos, size_t len) {
    return pos + 1 < len && text[pos] == 'X' && text[pos + 1] == ':' && (pos == 0 || text[pos - 1] == '\n' || text[pos - 1] == '\r');
}

static int is_blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r') return 0;
    return 1;
}

size_t corpus_split_text(TuneSet *set, const char *text, size_t len, int collection) {
    size_t added = 0, pos = 0;
    // Find the first tune.
    while (pos < len && !starts_tune(text, pos, len)) pos++;
    if (pos > 0 && !is_blank(text, pos)) {
        // Comments (the file's preamble) are not text that was lost.
        int only_comments = 1;
        for (size_t i = 0; i < pos;) {
            size_t j = i;
            while (j < pos && text[j] != '\n') j++;
            size_t k = i;
            while (k < j && (text[k] == ' ' || text[k] == '\t' || text[k] == '\r')) k++;
            if (k < j && text[k] != '%') only_comments = 0;
            i = j + 1;
        }
        if (!only_comments) set->skipped[SKIP_TEXT_OUTSIDE_TUNES]++;
    }
    while (pos < len) {
        size_t end = pos + 2;
        while (end < len && !starts_tune(text, end, len)) end++;
        size_t norm_len;
        char *tune = corpus_normalize(text + pos, end - pos, &norm_len);
        SkipReason why = corpus_check_tune(tune, norm_len);
        if (why != SKIP_REASON_COUNT) {
            set->skipped[why]++;
            free(tune);
        } else {
            if (set->count == set->cap) {
                set->cap = set->cap ? set->cap * 2 : 1024;
                set->tunes = realloc(set->tunes, set->cap * sizeof *set->tunes);
                if (!set->tunes) tb_die("out of memory collecting tunes");
            }
            set->tunes[set->count++] = (Tune){tune, norm_len, collection, corpus_music_key(tune, norm_len), CORPUS_UNSPLIT};
            added++;
        }
        pos = end;
    }
    return added;
}

// ---------------------------------------------------------------- styles

// Copies the value of a header field line (after "K:"), trimmed.
static void field_value(const char *line, size_t len, Buf *out) {
    size_t a = 2, b = len;
    while (a < b && (line[a] == ' ' || line[a] == '\t')) a++;
    while (b > a && (line[b - 1] == ' ' || line[b - 1] == '\t')) b--;
    buf_put(out, line + a, b - a);
}

// Field lines TunesFormer's filter removes from the body (its list, with
// "G:" for its "G", which would also have removed music lines starting
// with the note G), plus E:, which the control codes use.
static int dropped_field(char c) { return strchr("ABCDEFGHNORrSTVWwXZ", c) != NULL && c != 0; }

char *corpus_plain_style(const char *tune, size_t len, size_t *out_len, SkipReason *why,
                         size_t *dropped_bytes) {
    char *copy = tb_malloc(len + 1);
    memcpy(copy, tune, len);
    copy[len] = '\0';
    *out_len = len;
    *why = SKIP_REASON_COUNT;
    *dropped_bytes = 0;
    return copy;
}

char *corpus_control_style(const char *tune, size_t len, size_t *out_len, SkipReason *why,
                           size_t *dropped_bytes) {
    *dropped_bytes = 0;
    size_t body = header_end(tune, len);
    if (body == 0) {
        *why = SKIP_NO_KEY;
        return NULL;
    }
    // TunesFormer keeps one-voice tunes only (its test: "V:2" anywhere).
    for (size_t i = 0; i + 2 < len; i++)
        if (tune[i] == 'V' && tune[i + 1] == ':' && tune[i + 2] == '2') {
            *why = SKIP_MULTI_VOICE;
            return NULL;
        }
    Buf l = {0}, m = {0}, k = {0};
    for (size_t pos = 0; pos < body;) {
        const char *nl = memchr(tune + pos, '\n', body - pos);
        size_t line_len = nl ? (size_t)(nl - (tune + pos)) : body - pos;
        const char *line = tune + pos;
        if (line_len >= 2 && line[1] == ':') {
            Buf *dst = line[0] == 'L' ? &l : line[0] == 'M' ? &m : line[0] == 'K' ? &k : NULL;
            if (dst && dst->len == 0) {
                buf_put(dst, line, 2);
                field_value(line, line_len, dst);
                buf_puts(dst, "\n");
            }
        }
        pos += line_len + 1;
    }
    Buf text = {0};
    if (l.len) buf_put(&text, l.data, l.len);
    if (m.len) buf_put(&text, m.data, m.len);
    buf_put(&text, k.data, k.len);
    free(l.data), free(m.data), free(k.data);
    size_t header_len = text.len;
    for (size_t pos = body; pos < len;) {
        const char *nl = memchr(tune + pos, '\n', len - pos);
        size_t line_len = nl ? (size_t)(nl - (tune + pos)) : len - pos;
        const char *line = tune + pos;
        pos += line_len + 1;
        if (line_len == 0 || line[0] == '%') continue;
        if (line_len >= 2 && line[1] == ':' && dropped_field(line[0])) continue;
        const char *pct = memchr(line, '%', line_len);
        size_t keep = pct ? (size_t)(pct - line) : line_len;
        if (is_blank(line, keep)) continue;
        buf_put(&text, line, keep);
        buf_puts(&text, "\n");
    }
    // TunesFormer strips the score, so the body ends at its last character.
    while (text.len > header_len && (text.data[text.len - 1] == '\n' || text.data[text.len - 1] == ' '))
        text.len--;
    if (text.len == header_len) {
        free(text.data);
        *why = SKIP_EMPTY_BODY;
        return NULL;
    }
    ControlCodes cc;
    CcStatus st = cc_compute(text.data, text.len, &cc);
    if (st != CC_OK) {
        free(text.data);
        *why = st == CC_TOO_MANY_SECTIONS ? SKIP_CC_TOO_MANY_SECTIONS
               : st == CC_TOO_MANY_BARS   ? SKIP_CC_TOO_MANY_BARS
               : st == CC_LEADING_ENDING  ? SKIP_CC_LEADING_ENDING
                                          : SKIP_CC_NO_SECTIONS;
        return NULL;
    }
    *dropped_bytes = text.len - cc.kept_len;
    char codes[1024];
    int codes_len = cc_format(&cc, codes, sizeof codes);
    char *kept = tb_malloc(text.len + 2);
    size_t kept_len = cc_kept_text(text.data, &cc, kept);
    free(text.data);
    Buf out = {0};
    buf_puts(&out, "X:1\n");
    buf_put(&out, codes, (size_t)codes_len);
    buf_put(&out, kept, kept_len);
    if (out.data[out.len - 1] != '\n') buf_puts(&out, "\n");
    free(kept);
    *why = SKIP_REASON_COUNT;
    *out_len = out.len;
    return out.data;
}

// ---------------------------------------------------------------- duplicates and split

// The note content of the body: pitches with accidentals, octave marks and
// lengths, rests and bar lines; without spacing, chord symbols, annotations,
// decorations, slurs, comments, lyrics and other field lines. Two tunes with
// the same key are the same music for the purpose of the split.
uint64_t corpus_music_key(const char *tune, size_t len) {
    size_t body = header_end(tune, len);
    uint64_t h = TB_HASH64_SEED;
    for (size_t pos = body; pos < len;) {
        const char *nl = memchr(tune + pos, '\n', len - pos);
        size_t line_len = nl ? (size_t)(nl - (tune + pos)) : len - pos;
        const char *line = tune + pos;
        pos += line_len + 1;
        if (is_field_line(line, line_len)) continue;
        for (size_t i = 0; i < line_len; i++) {
            char c = line[i];
            if (c == '%') break;
            if (c == '"' || c == '!') {  // skip "..." and !...!
                const char *close = memchr(line + i + 1, c, line_len - i - 1);
                if (close) i = (size_t)(close - line);
                continue;
            }
            if (c == '[' && i + 2 < line_len && line[i + 2] == ':') {  // inline field
                const char *close = memchr(line + i, ']', line_len - i);
                if (close) i = (size_t)(close - line);
                continue;
            }
            if ((c >= 'A' && c <= 'G') || (c >= 'a' && c <= 'g') || c == 'z' || c == 'Z' ||
                (c >= '0' && c <= '9') || strchr("^_=,'/|", c)) {
                unsigned char u = (unsigned char)c;
                h = tb_hash64(&u, 1, h);
            }
        }
    }
    return h;
}

int corpus_is_val(uint64_t music_key, uint64_t seed, double val_fraction) {
    // splitmix64 of key ^ seed: a uniform number in [0, 1) per music key.
    uint64_t z = music_key ^ (seed * 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (double)(z >> 11) * (1.0 / 9007199254740992.0) < val_fraction;
}
