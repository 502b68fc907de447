// make_ssm_names_checkpoint.c: wrote tests/fixtures/mamba/ssm-names/, a
// tiny-mamba checkpoint as tunebench saved Mamba checkpoints when their
// tensors had mamba_ssm's names (backbone.embedding.weight) and config.json
// mamba_ssm's MambaConfig fields: step3/ (weights and train_state.bin after
// STEPS_SAVED steps) and step5/ (the weights after STEPS_LAST). It was built
// against that tunebench (commit 3c131a0, whose checkpoint_save takes three
// arguments), one thread:
//   git archive 3c131a0 | tar -x -C /tmp/old && make -C /tmp/old -j2 build/libtunebench.a
//   cc -O2 -std=c11 -fopenmp -D_GNU_SOURCE -I/tmp/old -I. tests/tools/make_ssm_names_checkpoint.c \
//      /tmp/old/build/libtunebench.a -lopenblas -lcjson -lm -o /tmp/mk
//   OMP_NUM_THREADS=1 /tmp/mk tests/fixtures/mamba/ssm-names
#include <stdio.h>
#include <string.h>

#include "models/checkpoint.h"
#include "tests/tools/mamba_steps.h"

int main(int argc, char **argv) {
    if (argc != 2) tb_die("usage: make_ssm_names_checkpoint OUT_DIR");
    ModelSpec spec;
    if (model_spec_by_name(&spec, "tiny-mamba", STEPS_V)) tb_die("%s", tb_last_error());
    Model *m = model_create(&spec, backend_cpu());
    if (!m || m->vt->alloc_activations(m, STEPS_B, STEPS_T)) tb_die("%s", tb_last_error());
    m->vt->init_weights(m, 11);
    OptimConfig oc;
    steps_optim(&oc);
    steps_train(m, &oc, 1, STEPS_SAVED);
    TrainState ts;
    memset(&ts, 0, sizeof ts);
    snprintf(ts.run_id, sizeof ts.run_id, "ssm-names");
    ts.step = STEPS_SAVED;
    rng_seed(&ts.rng, 5);
    ts.optim = oc;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/step3", argv[1]);
    if (checkpoint_save(dir, m, &ts)) tb_die("%s", tb_last_error());
    steps_train(m, &oc, STEPS_SAVED + 1, STEPS_LAST);
    snprintf(dir, sizeof dir, "%s/step5", argv[1]);
    if (checkpoint_save(dir, m, NULL)) tb_die("%s", tb_last_error());
    model_destroy(m);
    return 0;
}
