build-sanitize/data/irishman.o: data/irishman.c src/common.h \
 data/corpus.h
src/common.h:
data/corpus.h:
