// checkpoint_tokenizer.c: see checkpoint_tokenizer.h.
#include "checkpoint_tokenizer.h"

#include <stdio.h>

#include "lib/common.h"
#include "models/checkpoint.h"

static Tokenizer *load_named(const char *path) {
    return tb_streq(path, CHECKPOINT_TOKENIZER_BYTES) ? tok_new_bytes() : tok_load(path);
}

Tokenizer *tokenizer_for_checkpoint(const char *ckpt_dir, const char *explicit_path, const char *flag,
                                    char *used, size_t cap) {
    CheckpointTokenizer ct;
    if (checkpoint_tokenizer(ckpt_dir, &ct) != 0) return NULL;
    const char *own = ct.kind == CHECKPOINT_TOKENIZER_IN_FILE      ? ct.path
                      : ct.kind == CHECKPOINT_TOKENIZER_BYTE_LEVEL ? CHECKPOINT_TOKENIZER_BYTES
                                                                   : NULL;
    if (!explicit_path && !own) {
        tb_error("checkpoint %s carries no tokenizer (saved before checkpoints carried one): pass the one "
                 "it was trained with, %s data/corpus/<corpus>/<style>/vocab.tok (or %s bytes)",
                 ckpt_dir, flag, flag);
        return NULL;
    }
    snprintf(used, cap, "%s", explicit_path ? explicit_path : own);
    Tokenizer *tok = load_named(used);
    if (!tok || !explicit_path || !own) return tok;
    // Both: the one given must be the checkpoint's (the same vocabulary,
    // whatever the file is called).
    Tokenizer *ref = load_named(own);
    if (!ref) {
        tok_free(tok);
        return NULL;
    }
    unsigned long long given = tok_hash(tok), want = tok_hash(ref);
    tok_free(ref);
    if (given != want) {
        tok_free(tok);
        tb_error("%s %s is not the tokenizer checkpoint %s was trained with (vocabulary hash %016llx, "
                 "the checkpoint's %s has %016llx): leave out %s to use the checkpoint's own",
                 flag, explicit_path, ckpt_dir, given, own, want, flag);
        return NULL;
    }
    return tok;
}
