build-sanitize/data/tokenizer.o: data/tokenizer.c \
 data/tokenizer_internal.h data/tokenizer.h data/abc_lexer.h src/common.h
data/tokenizer_internal.h:
data/tokenizer.h:
data/abc_lexer.h:
src/common.h:
