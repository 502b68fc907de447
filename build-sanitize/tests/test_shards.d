build-sanitize/tests/test_shards.o: tests/test_shards.c \
 tests/../data/shards.h src/common.h tests/../src/common.h tests/test.h
tests/../data/shards.h:
src/common.h:
tests/../src/common.h:
tests/test.h:
