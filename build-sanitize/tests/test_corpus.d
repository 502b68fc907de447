build-sanitize/tests/test_corpus.o: tests/test_corpus.c \
 tests/../data/corpus.h tests/../src/common.h tests/test.h
tests/../data/corpus.h:
tests/../src/common.h:
tests/test.h:
