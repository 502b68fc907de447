build-sanitize/tests/test_abc_lexer.o: tests/test_abc_lexer.c \
 tests/../data/abc_lexer.h tests/../src/common.h tests/test.h
tests/../data/abc_lexer.h:
tests/../src/common.h:
tests/test.h:
