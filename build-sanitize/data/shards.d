build-sanitize/data/shards.o: data/shards.c data/shards.h src/common.h
data/shards.h:
src/common.h:
