// control_codes.c: TunesFormer's S/B/E control codes.
//
// Our reading of the rules. The TunesFormer repository (sander-wood/
// tunesformer) ships the model, not its data curation; the curation script,
// add_control_codes.py, is kept in the fork jeremy9959/tunesformer
// (data_curation/). It defines the codes as follows, and this file follows it
// step for step, quirks included, because the IrishMAN corpus that the
// reproduced study used was made with it:
//
//  1. Header. The leading lines that look like fields (a letter, then ':')
//     are the header; lines before the first such line count as header too.
//     The body is the rest of the text.
//  2. Sections. The body is cut after each section delimiter, scanning left
//     to right and trying  :|  ||  |]  ::  |:  [|  in that order at each
//     position. Empty pieces are dropped, a leading delimiter is glued to the
//     piece after it, and the pieces are then paired (piece 2i + piece 2i+1):
//     normally "music + its closing delimiter". An odd last piece (music
//     after the last delimiter) is dropped, from the codes and the tune.
//     A body with no delimiter at all is one section, its last '|' turned
//     into "|]". (Deviation: the original keeps any music after that new
//     "|]", which its own rule then drops when the codes are recomputed; we
//     drop it here, so that a prepared tune's header matches its body.)
//  3. Volta endings. A section whose first significant character is a digit
//     (before any letter, and before any '(' '"' '!') continues the previous
//     section: ":|2 ..." is an ending, not a new section. If the very first
//     section is such an ending the tune is dropped.
//  4. S = the number of sections; more than 8 drops the tune.
//  5. B = bars in a section: strip the characters of each delimiter from both
//     ends and replace the delimiter inside by '|', for each delimiter in the
//     order above, then count '|' and add one. More than 32 drops the tune.
//  6. E = for each section i > 0 and each earlier section j:
//     round(10 * (1 - levenshtein(i, j) / max(len i, len j))), Python's
//     round (half to even), lengths in Unicode code points.
// Two deviations, both for inputs the original never saw: a body that is
// empty is an error (CC_NO_SECTIONS) rather than "S:0", and two empty
// sections have similarity 10 rather than a division by zero.
#include "control_codes.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/common.h"

static const char *const delimiters[6] = {":|", "||", "|]", "::", "|:", "[|"};

static int is_ascii_alpha(int c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

// Which delimiter starts at p (index), or -1.
static int delimiter_at(const char *p, size_t left) {
    if (left < 2) return -1;
    for (int d = 0; d < 6; d++)
        if (p[0] == delimiters[d][0] && p[1] == delimiters[d][1]) return d;
    return -1;
}

// Decodes UTF-8 into code points (invalid bytes count as one code point
// each, so the function is total). Returns the count.
static size_t utf8_codepoints(const char *s, size_t len, uint64_t *out) {
    const unsigned char *p = (const unsigned char *)s;
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        unsigned c = p[i];
        int extra = c >= 0xf0 && c < 0xf8 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;
        if (c >= 0xf8) extra = 0;
        if (i + (size_t)extra >= len) extra = 0;
        int ok = 1;
        for (int k = 1; k <= extra; k++)
            if ((p[i + k] & 0xc0) != 0x80) ok = 0;
        if (!ok) extra = 0;
        uint32_t cp = extra == 0 ? c : extra == 1 ? c & 0x1f : extra == 2 ? c & 0x0f : c & 0x07;
        for (int k = 1; k <= extra; k++) cp = (cp << 6) | (p[i + k] & 0x3f);
        out[n++] = cp;
        i += 1 + (size_t)extra;
    }
    return n;
}

int cc_similarity(const char *a, size_t alen, const char *b, size_t blen) {
    uint64_t *ca = tb_malloc((alen + 1) * sizeof *ca), *cb = tb_malloc((blen + 1) * sizeof *cb);
    size_t n = utf8_codepoints(a, alen, ca), m = utf8_codepoints(b, blen, cb);
    size_t longest = n > m ? n : m;
    int sim = 10;
    if (longest > 0) {
        size_t d = tb_edit_distance(ca, n, cb, m);
        double s = 1.0 - (double)d / (double)longest;
        sim = (int)nearbyint(s * 10.0);  // default rounding: half to even, as Python's round
    }
    free(ca);
    free(cb);
    return sim;
}

// TunesFormer's num_alph: does this section start like a volta ending?
static int starts_with_ending(const char *s, size_t len) {
    int guarded = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)s[i];
        if (c >= '0' && c <= '9' && !guarded) return 1;
        if (is_ascii_alpha(c)) return 0;
        if (c == '(' || c == '"' || c == '!') guarded = 1;
    }
    return 0;
}

// Python's str.strip(chars) for a two-character set, in place on buf.
static size_t strip_chars(char *buf, size_t len, const char *set) {
    size_t start = 0, end = len;
    while (start < end && (buf[start] == set[0] || buf[start] == set[1])) start++;
    while (end > start && (buf[end - 1] == set[0] || buf[end - 1] == set[1])) end--;
    memmove(buf, buf + start, end - start);
    return end - start;
}

// Python's str.replace(delimiter, "|"), in place (the result is shorter).
static size_t replace_delimiter(char *buf, size_t len, const char *delim) {
    size_t j = 0;
    for (size_t i = 0; i < len;) {
        if (i + 1 < len && buf[i] == delim[0] && buf[i + 1] == delim[1]) {
            buf[j++] = '|';
            i += 2;
        } else {
            buf[j++] = buf[i++];
        }
    }
    return j;
}

static int count_bars(const char *s, size_t len) {
    char *buf = tb_malloc(len + 1);
    memcpy(buf, s, len);
    for (int d = 0; d < 6; d++) {
        len = strip_chars(buf, len, delimiters[d]);
        len = replace_delimiter(buf, len, delimiters[d]);
    }
    int bars = 1;
    for (size_t i = 0; i < len; i++) bars += buf[i] == '|';
    free(buf);
    return bars;
}

// Length of the header (step 1).
static size_t header_length(const char *text, size_t len) {
    size_t pos = 0, header_end = 0;
    int seen_field = 0;
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        if (!nl) break;  // the original only looks at lines that end in '\n'
        size_t line_len = (size_t)(nl - (text + pos)) + 1;
        int field = line_len > 2 && is_ascii_alpha((unsigned char)text[pos]) && text[pos + 1] == ':';
        if (field) seen_field = 1;
        else if (seen_field) break;
        pos += line_len;
        header_end = pos;
    }
    return header_end;
}

typedef struct {
    size_t start, len;
} Span;

CcStatus cc_compute(const char *text, size_t len, ControlCodes *cc) {
    memset(cc, 0, sizeof *cc);
    cc->closed_bar_at = -1;
    size_t body = header_length(text, len);

    // Step 2: pieces between and including delimiters, empty ones dropped.
    size_t max_pieces = 2 * (len - body) + 2;
    Span *pieces = tb_malloc(max_pieces * sizeof *pieces);
    size_t np = 0, text_start = body;
    for (size_t i = body; i < len;) {
        int d = delimiter_at(text + i, len - i);
        if (d < 0) {
            i++;
            continue;
        }
        if (i > text_start) pieces[np++] = (Span){text_start, i - text_start};
        pieces[np++] = (Span){i, 2};
        i += 2;
        text_start = i;
    }
    if (len > text_start) pieces[np++] = (Span){text_start, len - text_start};

    Span *sections = tb_malloc((np + 1) * sizeof *sections);
    size_t ns = 0;
    if (np == 0) {
        free(pieces);
        free(sections);
        return CC_NO_SECTIONS;
    }
    if (np == 1) {
        sections[ns++] = pieces[0];
        for (size_t i = pieces[0].start + pieces[0].len; i-- > pieces[0].start;)
            if (text[i] == '|') {
                cc->closed_bar_at = (long)i;
                // Unlike the original, the music after the new "|]" is dropped
                // too, as after any last delimiter: then the prepared tune is a
                // fixed point (its recomputed codes equal its header's).
                sections[0].len = i + 1 - sections[0].start;
                break;
            }
    } else {
        size_t first = 0;
        if (delimiter_at(text + pieces[0].start, pieces[0].len) >= 0 && pieces[0].len == 2) {
            pieces[1].len += pieces[1].start - pieces[0].start;
            pieces[1].start = pieces[0].start;
            first = 1;
        }
        for (size_t i = first; i + 1 < np; i += 2)
            sections[ns++] = (Span){pieces[i].start, pieces[i + 1].start + pieces[i + 1].len - pieces[i].start};
    }
    free(pieces);

    // Step 3: endings continue the previous section.
    size_t nm = 0;
    for (size_t s = 0; s < ns; s++) {
        if (starts_with_ending(text + sections[s].start, sections[s].len)) {
            if (nm == 0) {
                free(sections);
                return CC_LEADING_ENDING;
            }
            sections[nm - 1].len = sections[s].start + sections[s].len - sections[nm - 1].start;
        } else {
            sections[nm++] = sections[s];
        }
    }
    CcStatus status = CC_OK;
    if (nm == 0) status = CC_NO_SECTIONS;
    else if (nm > CC_MAX_SECTIONS) status = CC_TOO_MANY_SECTIONS;
    if (status != CC_OK) {
        free(sections);
        return status;
    }
    cc->sections = (int)nm;
    cc->kept_len = sections[nm - 1].start + sections[nm - 1].len;

    // The single-section rule edits the text; work on that version.
    char *work = NULL;
    const char *src = text;
    Span *sec = sections;
    if (cc->closed_bar_at >= 0) {
        work = tb_malloc(len + 2);
        cc_kept_text(text, cc, work);
        src = work;
        sec[0].len += 1;
    }
    // Step 5 and 6.
    for (size_t i = 0; i < nm; i++) {
        cc->bars[i] = count_bars(src + sec[i].start, sec[i].len);
        if (cc->bars[i] > CC_MAX_BARS) status = CC_TOO_MANY_BARS;
    }
    if (status == CC_OK)
        for (size_t i = 1; i < nm; i++)
            for (size_t j = 0; j < i; j++)
                cc->similarity[i][j] =
                    cc_similarity(src + sec[i].start, sec[i].len, src + sec[j].start, sec[j].len);
    free(work);
    free(sections);
    return status;
}

size_t cc_kept_text(const char *text, const ControlCodes *cc, char *out) {
    if (cc->closed_bar_at < 0) {
        memcpy(out, text, cc->kept_len);
        return cc->kept_len;
    }
    size_t at = (size_t)cc->closed_bar_at;
    memcpy(out, text, at + 1);
    out[at + 1] = ']';
    memcpy(out + at + 2, text + at + 1, cc->kept_len - at - 1);
    return cc->kept_len + 1;
}

const char *cc_status_name(CcStatus status) {
    switch (status) {
    case CC_OK: return "ok";
    case CC_NO_SECTIONS: return "control_codes_no_sections";
    case CC_TOO_MANY_SECTIONS: return "control_codes_over_8_sections";
    case CC_TOO_MANY_BARS: return "control_codes_over_32_bars";
    case CC_LEADING_ENDING: return "control_codes_leading_ending";
    }
    return "?";
}

int cc_format(const ControlCodes *cc, char *out, size_t cap) {
    size_t n = 0;
    int w = snprintf(out, cap, "S:%d\n", cc->sections);
    if (w < 0 || (size_t)w >= cap) return -1;
    n = (size_t)w;
    for (int i = 0; i < cc->sections; i++) {
        for (int j = 0; i > 0 && j < i; j++) {
            w = snprintf(out + n, cap - n, "E:%d\n", cc->similarity[i][j]);
            if (w < 0 || (size_t)w >= cap - n) return -1;
            n += (size_t)w;
        }
        w = snprintf(out + n, cap - n, "B:%d\n", cc->bars[i]);
        if (w < 0 || (size_t)w >= cap - n) return -1;
        n += (size_t)w;
    }
    return (int)n;
}

int cc_parse_header(const char *text, size_t len, ControlCodes *cc) {
    memset(cc, 0, sizeof *cc);
    cc->closed_bar_at = -1;
    int have_s = 0, section = 0, e_count = 0;
    for (size_t pos = 0; pos < len;) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t line_len = nl ? (size_t)(nl - (text + pos)) : len - pos;
        const char *line = text + pos;
        if (line_len >= 3 && line[1] == ':' && (line[0] == 'S' || line[0] == 'B' || line[0] == 'E')) {
            char num[16] = {0};
            size_t k = line_len - 2 < sizeof num - 1 ? line_len - 2 : sizeof num - 1;
            memcpy(num, line + 2, k);
            char *end;
            long v = strtol(num, &end, 10);
            if (end == num || v < 0 || v > 1000) return -1;
            if (line[0] == 'S') {
                if (v > CC_MAX_SECTIONS) return -1;
                cc->sections = (int)v, have_s = 1;
            } else if (line[0] == 'B') {
                if (!have_s || section >= cc->sections || e_count != section) return -1;
                cc->bars[section++] = (int)v, e_count = 0;
            } else {
                if (!have_s || section >= cc->sections || e_count >= section || v > 10) return -1;
                cc->similarity[section][e_count++] = (int)v;
            }
        }
        pos += line_len + 1;
    }
    return have_s && section == cc->sections ? 0 : -1;
}
