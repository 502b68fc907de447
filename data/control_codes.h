// control_codes.h: TunesFormer's control codes for musical form.
//
// S: the number of sections, B: the bars in each section, E: the similarity
// (0 to 10, from Levenshtein distance) of each section to every earlier one.
// In a tune header they read, in order:
//   S:<n>, B:<bars of section 1>, then for each later section i:
//   one E:<similarity to section j> for each j < i, then B:<bars of i>.
// control_codes.c documents our reading of the TunesFormer rules.
#ifndef TB_CONTROL_CODES_H
#define TB_CONTROL_CODES_H

#include <stddef.h>

#define CC_MAX_SECTIONS 8
#define CC_MAX_BARS 32

typedef enum {
    CC_OK = 0,
    CC_NO_SECTIONS,        // no body text at all
    CC_TOO_MANY_SECTIONS,  // more than CC_MAX_SECTIONS (TunesFormer drops the tune)
    CC_TOO_MANY_BARS,      // a section longer than CC_MAX_BARS bars (dropped too)
    CC_LEADING_ENDING,     // the body starts with a volta ending (dropped too)
} CcStatus;

typedef struct {
    int sections;                                  // S
    int bars[CC_MAX_SECTIONS];                     // B per section
    int similarity[CC_MAX_SECTIONS][CC_MAX_SECTIONS];  // E[i][j], j < i, 0..10
    // The tune text as TunesFormer keeps it: text[0 .. kept_len), except
    // that when closed_bar_at >= 0 the single '|' at that offset becomes
    // "|]" (the rule for a body without any section delimiter). What follows
    // the last section is dropped, as the original does.
    size_t kept_len;
    long closed_bar_at;
} ControlCodes;

// Computes the codes of one tune, `text` being its header lines followed by
// its body (what follows X:). Returns CC_OK or why TunesFormer would drop it.
CcStatus cc_compute(const char *text, size_t len, ControlCodes *cc);
const char *cc_status_name(CcStatus status);
// Writes the kept tune text (see ControlCodes) into out (cap >= len + 1 is
// always enough); returns its length.
size_t cc_kept_text(const char *text, const ControlCodes *cc, char *out);
// Writes "S:..\nB:..\nE:..\n..." into out (NUL-terminated, at most cap
// bytes); returns the length, or -1 if cap is too small.
int cc_format(const ControlCodes *cc, char *out, size_t cap);
// Reads S:/B:/E: lines from a tune header back (to check a generated tune
// against its requested form). Returns 0, or -1 if none are present.
int cc_parse_header(const char *text, size_t len, ControlCodes *cc);
// The similarity 0..10 of two strings as TunesFormer defines it:
// round-half-even(10 * (1 - levenshtein(a, b) / max(len a, len b))), over
// Unicode code points.
int cc_similarity(const char *a, size_t alen, const char *b, size_t blen);

#endif
