build-sanitize/tests/test_common.o: tests/test_common.c \
 tests/../src/common.h tests/test.h
tests/../src/common.h:
tests/test.h:
