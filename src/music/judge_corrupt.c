// judge_corrupt.c: shuffled bars, random pitches, truncation (judge_corrupt.h).
#include "judge_corrupt.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "lib/common.h"

const char *corruption_name(Corruption c) {
    static const char *const names[] = {
#define X(id, name) name,
        JUDGE_CORRUPTIONS(X)
#undef X
    };
    return (unsigned)c < CORRUPT_COUNT ? names[c] : "unknown";
}

// Where the body starts: after the first K: line (0 when there is none).
static size_t body_start(const char *s, size_t len) {
    for (size_t i = 0; i < len;) {
        size_t end = i;
        while (end < len && s[end] != '\n') end++;
        if (end - i >= 2 && s[i] == 'K' && s[i + 1] == ':') return end < len ? end + 1 : len;
        i = end + 1;
    }
    return 0;
}

// The length of a bar line at s[i] (| || |] |: :| :: |1 :|2,3), 0 if none.
static size_t bar_line_at(const char *s, size_t i, size_t len) {
    if (!(s[i] == '|' || (s[i] == ':' && i + 1 < len && (s[i + 1] == '|' || s[i + 1] == ':')))) return 0;
    size_t j = i;
    while (j < len && (s[j] == '|' || s[j] == ':')) j++;
    if (j < len && s[j] == ']') j++;
    while (j < len && (isdigit((unsigned char)s[j]) || (s[j] == ',' && j + 1 < len && isdigit((unsigned char)s[j + 1]))))
        j++;
    return j - i;
}

// Skips text that is not music at s[i]: "chord symbols", !decorations!,
// +decorations+, [K:inline fields], % comments and field lines. Returns the
// index after it, or i when s[i] starts music.
static size_t skip_non_music(const char *s, size_t i, size_t len, int line_start) {
    char c = s[i];
    if (c == '"' || c == '!' || c == '+') {
        const char *end = memchr(s + i + 1, c, len - i - 1);
        return end ? (size_t)(end - s) + 1 : len;
    }
    if (c == '[' && i + 2 < len && isalpha((unsigned char)s[i + 1]) && s[i + 2] == ':') {
        const char *end = memchr(s + i, ']', len - i);
        return end ? (size_t)(end - s) + 1 : len;
    }
    if (c == '%' || (line_start && isalpha((unsigned char)c) && i + 1 < len && s[i + 1] == ':')) {
        const char *end = memchr(s + i, '\n', len - i);
        return end ? (size_t)(end - s) : len;
    }
    return i;
}

typedef struct {
    size_t start, len;
    int is_bar;  // holds a note or rest: shuffled; else it stays
} Segment;

// Splits s[0..len) into alternating bar contents and bar lines.
static Segment *split_bars(const char *s, size_t len, int *count) {
    int cap = 64, n = 0;
    Segment *seg = tb_malloc((size_t)cap * sizeof *seg);
    size_t i = 0, start = 0;
    int has_music = 0;
    while (i <= len) {
        size_t bl = i < len ? bar_line_at(s, i, len) : 0;
        if (i == len || bl) {
            if (n + 2 > cap) {
                cap *= 2;
                seg = realloc(seg, (size_t)cap * sizeof *seg);
                if (!seg) tb_die("out of memory corrupting a tune");
            }
            if (i > start) seg[n++] = (Segment){start, i - start, has_music};
            if (i == len) break;
            seg[n++] = (Segment){i, bl, 0};
            i += bl, start = i, has_music = 0;
            continue;
        }
        size_t j = skip_non_music(s, i, len, i == 0 || s[i - 1] == '\n');
        if (j != i) {
            i = j;
            continue;
        }
        if (strchr("ABCDEFGabcdefgzx", s[i])) has_music = 1;
        i++;
    }
    *count = n;
    return seg;
}

char *corrupt_tune(const char *text, size_t len, Corruption c, uint64_t seed) {
    size_t b = body_start(text, len);
    const char *body = text + b;
    size_t blen = len - b;
    char *out = tb_malloc(len + 2);
    memcpy(out, text, b);
    char *o = out + b;
    Rng rng;
    rng_seed(&rng, seed);
    int n;
    Segment *seg = split_bars(body, blen, &n);
    if (c == CORRUPT_SHUFFLE) {
        int nb = 0;
        int *bars = tb_malloc((size_t)(n ? n : 1) * sizeof *bars);
        for (int k = 0; k < n; k++)
            if (seg[k].is_bar) bars[nb++] = k;
        int *order = tb_malloc((size_t)(nb ? nb : 1) * sizeof *order);
        for (int k = 0; k < nb; k++) order[k] = bars[k];
        for (int k = nb - 1; k > 0; k--) {
            int j = (int)rng_below(&rng, (uint32_t)(k + 1));
            int t = order[k];
            order[k] = order[j], order[j] = t;
        }
        for (int k = 0, next = 0; k < n; k++) {
            const Segment *from = seg[k].is_bar ? &seg[order[next++]] : &seg[k];
            memcpy(o, body + from->start, from->len);
            o += from->len;
        }
        free(bars), free(order);
    } else if (c == CORRUPT_RANDOMISE) {
        for (size_t i = 0; i < blen;) {
            size_t j = skip_non_music(body, i, blen, i == 0 || body[i - 1] == '\n');
            if (j != i) {
                memcpy(o, body + i, j - i);
                o += j - i, i = j;
                continue;
            }
            char ch = body[i++];
            if (ch >= 'A' && ch <= 'G') ch = (char)('A' + rng_below(&rng, 7));
            else if (ch >= 'a' && ch <= 'g') ch = (char)('a' + rng_below(&rng, 7));
            *o++ = ch;
        }
    } else {
        // The bar line nearest the middle of the body, kept; the rest dropped.
        size_t cut = blen / 2, best = (size_t)-1;
        for (int k = 0; k < n; k++) {
            if (seg[k].is_bar) continue;
            size_t end = seg[k].start + seg[k].len;
            size_t dist = end > blen / 2 ? end - blen / 2 : blen / 2 - end;
            if (end < blen && dist < best) best = dist, cut = end;
        }
        memcpy(o, body, cut);
        o += cut;
        if (cut == 0 || body[cut - 1] != '\n') *o++ = '\n';
    }
    *o = '\0';
    free(seg);
    return out;
}
