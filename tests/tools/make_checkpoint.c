// make_checkpoint.c: writes a freshly initialised checkpoint, for the
// interoperability check tests/check_hf_transformers.py.
//   make_checkpoint CONFIG VOCAB_SIZE SEED OUT_DIR [NOISE]
// NOISE adds U(-NOISE, NOISE) to every parameter, so that every tensor (the
// norms' weights, the biases, D) moves the logits away from uniform.
#include <stdlib.h>

#include "lib/common.h"
#include "models/checkpoint.h"

int main(int argc, char **argv) {
    if (argc != 5 && argc != 6) tb_die("usage: make_checkpoint CONFIG VOCAB_SIZE SEED OUT_DIR [NOISE]");
    ModelSpec spec;
    if (model_spec_by_name(&spec, argv[1], atoi(argv[2])) != 0) tb_die("%s", tb_last_error());
    Model *m = model_create(&spec, backend_cpu());
    if (!m) tb_die("%s", tb_last_error());
    uint64_t seed = strtoull(argv[3], NULL, 10);
    m->vt->init_weights(m, seed);
    float noise = argc == 6 ? strtof(argv[5], NULL) : 0.0f;
    if (noise > 0) {
        size_t bytes = m->params.num_params * sizeof(float);
        float *p = tb_malloc(bytes);
        m->be->to_host(p, m->params.values, bytes);
        Rng r;
        rng_seed(&r, seed + 1);
        for (size_t i = 0; i < m->params.num_params; i++) p[i] += noise * (2.0f * rng_uniform(&r) - 1.0f);
        m->be->to_device(m->params.values, p, bytes);
        free(p);
    }
    if (checkpoint_save(argv[4], m, NULL, NULL) != 0) tb_die("%s", tb_last_error());
    model_destroy(m);
    return 0;
}
