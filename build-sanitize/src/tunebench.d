build-sanitize/src/tunebench.o: src/tunebench.c src/common.h \
 src/commands.def
src/common.h:
src/commands.def:
