# music.mk: generated music, its metrics, scores and audio (issue 7).
#
#   make samples     render every experiment's generated tunes and a sample of the
#                    real validation tunes to MIDI, WAV, MP3 and SVG, score them,
#                    and write results/samples/index.html
#   make music-eval  results/music/<set>.json: evaluate-music on each experiment's
#                    generated tunes and on the real validation tunes
#   make music-tables  paper/tables/music_metrics.{tex,md,dat} and plots/music_metrics.pdf
#                    (the runner's `make tables` / `make plots` can depend on it)
#   make representation-table  paper/tables/representation.{tex,md,json}
#                    (REPR_SAMPLE tunes rendered to audio, default 100; 0 = all)
#
# Generated tunes are read from results/generated/<experiment>/*.abc (what
# `tunebench generate --out results/generated/<experiment>` writes).

SAMPLES_DIR    ?= results/samples
GENERATED_DIR  ?= results/generated
SAMPLES_LIMIT  ?= 16
CORPUS_STYLE   ?= irishman
VAL_SPLIT      ?= data/corpus/$(CORPUS_STYLE)/val.abc
TRAIN_SPLIT    ?= data/corpus/$(CORPUS_STYLE)/train.abc
VOCAB          ?= data/corpus/$(CORPUS_STYLE)/vocab.tok
MUSIC_DIR      ?= results/music
REPR_SAMPLE    ?= 100

.PHONY: deps-samples samples
deps-samples:
	@bash scripts/deps.sh samples || echo "*** tunebench: WARNING: the samples tools (abcmidi abcm2ps fluidsynth fluid-soundfont-gm lame chromium) could not be installed: test_music_samples will fail or skip its browser check ***"

# The samples test renders audio and opens the page in Chromium.
test: deps-samples

samples: deps-samples $(BUILD)/tunebench
	@sets=""; \
	for d in $(GENERATED_DIR)/*/; do [ -d "$$d" ] && sets="$$sets $$(basename $$d)=$$d"; done; \
	[ -f "$(VAL_SPLIT)" ] && sets="$$sets validation=$(VAL_SPLIT)"; \
	if [ -z "$$sets" ]; then echo "make samples: nothing to render: no $(GENERATED_DIR)/<experiment>/ folders and no $(VAL_SPLIT)" >&2; exit 1; fi; \
	bash scripts/samples.sh --limit $(SAMPLES_LIMIT) --tunebench $(BUILD)/tunebench $(SAMPLES_DIR) $$sets

.PHONY: music-eval music-tables representation-table
music-eval: $(BUILD)/tunebench
	@test -f "$(VAL_SPLIT)" || { echo "make music-eval: $(VAL_SPLIT) is missing; run make data" >&2; exit 1; }
	@mkdir -p $(MUSIC_DIR)
	$(BUILD)/tunebench evaluate-music --file $(VAL_SPLIT) --train $(TRAIN_SPLIT) --ref $(VAL_SPLIT) \
	  --label validation --out $(MUSIC_DIR)/validation.json
	@for d in $(GENERATED_DIR)/*/; do [ -d "$$d" ] || continue; e=$$(basename $$d); \
	  $(BUILD)/tunebench evaluate-music --dir $$d --train $(TRAIN_SPLIT) --ref $(VAL_SPLIT) \
	    --label $$e --out $(MUSIC_DIR)/$$e.json || exit 1; done

music-tables: music-eval
	@mkdir -p paper/tables plots
	@sets=""; for f in $(MUSIC_DIR)/*.json; do e=$$(basename $$f .json); \
	  [ $$e = validation ] || sets="$$sets $$e=$$f"; done; \
	$(BUILD)/tunebench music-table --out paper/tables/music_metrics $$sets validation=$(MUSIC_DIR)/validation.json
	gnuplot -e "data='paper/tables/music_metrics.dat'; out='plots/music_metrics.pdf'" scripts/music_figure.gp

representation-table: deps-samples $(BUILD)/tunebench
	@test -f "$(VAL_SPLIT)" || { echo "make representation-table: $(VAL_SPLIT) is missing; run make data" >&2; exit 1; }
	$(BUILD)/tunebench representation-table --val $(VAL_SPLIT) --tokenizer $(VOCAB) \
	  --sample $(REPR_SAMPLE) --out paper/tables/representation
