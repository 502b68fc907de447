// music_control.c: control-code adherence. A tune generated from a prompt
// carries the requested S:, B:, E: in its header (the prompt is its start);
// the same codes are recomputed from what the model wrote, by the data
// pipeline's own TunesFormer rules (data/control_codes.h), and compared.
//
// Scores are against the request: B is compared section by section for the
// sections the prompt asked for (a missing section counts as a mismatch), and
// E for every requested pair (i, j < i).
#include <string.h>

#include "../../data/control_codes.h"
#include "music_metrics.h"

void music_control_adherence(const char *text, size_t len, TuneMetrics *m) {
    ControlCodes want, got;
    m->control_present = cc_parse_header(text, len, &want) == 0 && want.sections > 0;
    if (!m->control_present) {
        m->control_s_match = -1;
        return;
    }
    // cc_compute reads what follows the X: line.
    const char *body = text;
    size_t body_len = len;
    if (len >= 2 && text[0] == 'X' && text[1] == ':') {
        const char *nl = memchr(text, '\n', len);
        body = nl ? nl + 1 : text + len;
        body_len = len - (size_t)(body - text);
    }
    CcStatus status = cc_compute(body, body_len, &got);
    m->control_status = (int)status;
    int have = status == CC_OK ? got.sections : 0;
    m->control_s_match = status == CC_OK && got.sections == want.sections;
    m->control_b_total = want.sections;
    m->control_b_match = 0;
    m->control_e_total = m->control_e_match = 0;
    for (int i = 0; i < want.sections; i++) {
        if (i < have && got.bars[i] == want.bars[i]) m->control_b_match++;
        for (int j = 0; j < i; j++) {
            m->control_e_total++;
            if (i < have && got.similarity[i][j] == want.similarity[i][j]) m->control_e_match++;
        }
    }
}
