// mamba.h: what mamba.c (the model) and mamba_formats.c (its configs,
// checkpoint formats and registry entry) share.
#ifndef TB_MODELS_MAMBA_H
#define TB_MODELS_MAMBA_H

#include "model.h"

#define MAMBA_NORM_EPS 1e-5f
#define MAMBA_EMBED_STD 0.02f
#define MAMBA_DT_MIN 1e-3
#define MAMBA_DT_MAX 0.1
#define MAMBA_DT_FLOOR 1e-4

// The tensor table has transformers' MambaForCausalLM names
// (backbone.layers.N.mixer.in_proj.weight, ...). mamba_ssm's
// MambaLMHeadModel names every tensor the same but the embedding.
#define MAMBA_EMBEDDING "backbone.embeddings.weight"

extern const ModelVtbl mamba_vtbl;
// transformers' MambaConfig, so that MambaForCausalLM.from_pretrained(dir)
// builds this model.
cJSON *mamba_config_json(const Model *m);

#endif
