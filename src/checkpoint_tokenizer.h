// checkpoint_tokenizer.h: the tokenizer of a checkpoint, for the commands that
// read one (generate, eval, score).
#ifndef TB_CHECKPOINT_TOKENIZER_H
#define TB_CHECKPOINT_TOKENIZER_H

#include <stddef.h>

#include "data/tokenizer.h"

// The tokenizer for the checkpoint ckpt_dir. explicit_path (a vocabulary file
// or "bytes", or NULL) is what the user gave with `flag` (e.g. "--tokenizer").
//   - none given: the checkpoint's own (its vocab.tok, or the byte-level one);
//     a checkpoint that carries none needs one given (the error says so).
//   - one given: loaded, and refused if the checkpoint carries a different one.
// used (cap bytes) receives the path of the tokenizer loaded ("bytes" for the
// byte-level one). NULL with the error set on failure.
Tokenizer *tokenizer_for_checkpoint(const char *ckpt_dir, const char *explicit_path, const char *flag,
                                    char *used, size_t cap);

#endif
