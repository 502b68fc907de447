build-sanitize/tests/test_tokenizer.o: tests/test_tokenizer.c \
 tests/../data/shards.h src/common.h tests/../data/tokenizer.h \
 tests/../src/common.h tests/test.h
tests/../data/shards.h:
src/common.h:
tests/../data/tokenizer.h:
tests/../src/common.h:
tests/test.h:
