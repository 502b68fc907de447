build-sanitize/data/prepare.o: data/prepare.c src/common.h data/corpus.h \
 data/shards.h data/tokenizer.h
src/common.h:
data/corpus.h:
data/shards.h:
data/tokenizer.h:
