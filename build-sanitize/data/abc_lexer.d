build-sanitize/data/abc_lexer.o: data/abc_lexer.c data/abc_lexer.h
data/abc_lexer.h:
