build-sanitize/data/corpus.o: data/corpus.c data/corpus.h src/common.h \
 data/control_codes.h
data/corpus.h:
src/common.h:
data/control_codes.h:
