build-sanitize/data/tokenize_cmd.o: data/tokenize_cmd.c src/common.h \
 data/tokenizer.h
src/common.h:
data/tokenizer.h:
