build-sanitize/data/tokenizer_train.o: data/tokenizer_train.c \
 data/abc_lexer.h src/common.h data/tokenizer_internal.h data/tokenizer.h
data/abc_lexer.h:
src/common.h:
data/tokenizer_internal.h:
data/tokenizer.h:
