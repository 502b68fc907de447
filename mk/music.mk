# music.mk: generated music, its metrics, scores and audio (issue 7).
#
#   make samples     render every experiment's generated tunes and a sample of the
#                    real validation tunes to MIDI, WAV, MP3 and SVG, score them,
#                    and write results/samples/index.html
#   make music-tables  paper/tables/music_metrics.{tex,md} and the figure
#   make representation-table  paper/tables/representation.{tex,md}
#
# Generated tunes are read from results/generated/<experiment>/*.abc (what
# `tunebench generate --out results/generated/<experiment>` writes).

SAMPLES_DIR    ?= results/samples
GENERATED_DIR  ?= results/generated
SAMPLES_LIMIT  ?= 16
VAL_SPLIT      ?= data/corpus/val.abc
TRAIN_SPLIT    ?= data/corpus/train.abc

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
