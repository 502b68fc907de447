// music_features.h: per-tune feature vectors and the comparison of a set's
// with the real tunes' (Yang & Lerch, "On the evaluation of generative
// models in music", Neural Computing and Applications, 2020).
//
// Features of one tune (tunes without notes have none):
//   pitch_class   12 bins, the share of notes on each pitch class
//   interval      25 bins, melodic steps between consecutive notes, -12..+12
//                 semitones (wider steps counted at the ends)
//   note_length   10 bins, note durations snapped (in log2) to 1/32, 1/16,
//                 3/32, 1/8, 3/16, 1/4, 3/8, 1/2, 3/4, 1 whole note
//   pitch_range   1 value, highest minus lowest MIDI pitch
// For each feature, the Euclidean distances between tunes of the reference
// set (intra-set) and between the set's tunes and the reference's
// (inter-set) are smoothed into densities (Gaussian kernels, Silverman's
// bandwidth, on a 512-point grid); the overlapping area of the two densities
// (1 = the set is as close to the real tunes as they are to each other) and
// KL(intra || inter) in nats (0 = the same) summarise the difference.
#ifndef TB_MUSIC_FEATURES_H
#define TB_MUSIC_FEATURES_H

#include "tune.h"

#define MUSIC_FEATURES(X) X(pitch_class, 12) X(interval, 25) X(note_length, 10) X(pitch_range, 1)

typedef enum {
#define X(name, dims) FEATURE_##name,
    MUSIC_FEATURES(X)
#undef X
        FEATURE_COUNT
} MusicFeature;

extern const char *const music_feature_names[FEATURE_COUNT];
extern const int music_feature_dims[FEATURE_COUNT];
extern const int music_feature_offset[FEATURE_COUNT];  // into one tune's vector
#define MUSIC_FEATURE_TOTAL (12 + 25 + 10 + 1)

// One tune's features, all of them back to back; 0 when it has no notes
// (out is then left zero), 1 otherwise.
int music_tune_features(const MusicTune *t, double out[MUSIC_FEATURE_TOTAL]);

// Overlapping area and KL(p || q) of the densities of two samples (see above).
void music_density_compare(const double *p, int np, const double *q, int nq, double *overlap, double *kl);

// Yang & Lerch for one feature: ref and set are n vectors of
// MUSIC_FEATURE_TOTAL values; the feature's slice is compared. NaN when
// either has fewer than 2 tunes.
void music_yang_lerch(const double *ref, int nref, const double *set, int nset, MusicFeature f, double *overlap,
                      double *kl);

#endif
