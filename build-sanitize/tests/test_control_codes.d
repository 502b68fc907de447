build-sanitize/tests/test_control_codes.o: tests/test_control_codes.c \
 tests/../data/control_codes.h tests/../src/common.h tests/test.h
tests/../data/control_codes.h:
tests/../src/common.h:
tests/test.h:
