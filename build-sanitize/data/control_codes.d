build-sanitize/data/control_codes.o: data/control_codes.c \
 data/control_codes.h src/common.h
data/control_codes.h:
src/common.h:
