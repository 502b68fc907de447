// make_checkpoint.c: writes a freshly initialised checkpoint, for the
// dev-time interoperability check tests/check_hf_transformers.py.
//   make_checkpoint CONFIG VOCAB_SIZE SEED OUT_DIR
#include <stdlib.h>

#include "lib/common.h"
#include "models/checkpoint.h"

int main(int argc, char **argv) {
    if (argc != 5) tb_die("usage: make_checkpoint CONFIG VOCAB_SIZE SEED OUT_DIR");
    ModelSpec spec;
    if (model_spec_by_name(&spec, argv[1], atoi(argv[2])) != 0) tb_die("%s", tb_last_error());
    Model *m = model_create(&spec, backend_cpu());
    if (!m) tb_die("%s", tb_last_error());
    m->vt->init_weights(m, strtoull(argv[3], NULL, 10));
    if (checkpoint_save(argv[4], m, NULL, NULL) != 0) tb_die("%s", tb_last_error());
    model_destroy(m);
    return 0;
}
