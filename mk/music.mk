# music.mk: generated music, its metrics, scores and audio.
##@ Generated music
## generated        GEN_N tunes (128) from each experiment's best checkpoint (else latest) under RECORDS, prompted with validation headers: results/generated/<experiment>/ (GEN_EXPERIMENTS= only those)
## music-eval       results/music/<set>.json: the music metrics of each experiment's tunes and of the real validation tunes
## samples          render the generated and some real tunes to MIDI, WAV, MP3 and SVG: results/samples/index.html
## listening        a blind pairwise listening page from the samples: results/samples/listening.html (LISTEN_PAIRS=40)
## deps-samples     install the rendering tools (abcmidi, abcm2ps, fluidsynth, lame, chromium); make test needs them
##@ Figures, tables and the paper
## music-table      paper/tables/music_metrics.{tex,md,dat} from results/music (part of make tables)
## music-figure     the same metrics as a figure (part of make plots)
## music-tables     music-eval, then music-table and music-figure
## representation-table  paper/tables/representation.*: the validation tunes' size as audio, MIDI and ABC (REPR_SAMPLE=100; 0 = all)
#
# Generated tunes are read from results/generated/<experiment>/*.abc (what
# `tunebench generate --out results/generated/<experiment>` writes).

SAMPLES_DIR    ?= results/samples
GENERATED_DIR  ?= results/generated
SAMPLES_LIMIT  ?= 16
VAL_SPLIT      ?= $(CORPUS)/val.abc
TRAIN_SPLIT    ?= $(CORPUS)/train.abc
VOCAB          ?= $(CORPUS)/vocab.tok
MUSIC_DIR      ?= results/music
REPR_SAMPLE    ?= 100

.PHONY: deps-samples samples listening
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

# make listening: every rendered set under SAMPLES_DIR (the models and the
# validation tunes) in LISTEN_PAIRS blind pairs; the key stays beside the page.
LISTEN_PAIRS ?= 40
LISTEN_SEED  ?= 1
listening: $(BUILD)/tunebench
	@sets=""; for d in $(SAMPLES_DIR)/*/; do [ -d "$$d" ] && [ "$$(basename $$d)" != listening ] && \
	  ls $$d/*.mp3 >/dev/null 2>&1 && sets="$$sets $$(basename $$d)"; done; \
	[ -n "$$sets" ] || { echo "make listening: no rendered sets under $(SAMPLES_DIR) (run make samples)" >&2; exit 1; }; \
	$(BUILD)/tunebench listening-page --samples $(SAMPLES_DIR) --pairs $(LISTEN_PAIRS) --seed $(LISTEN_SEED) $$sets

.PHONY: generated music-eval music-table music-figure music-tables representation-table

# make generated: GEN_N tunes from each experiment's latest run under
# $(RECORDS) (the runner's reference set unless told), from that run's best
# checkpoint (RUN.best/) when it keeps one (tunebench generate says which), into
# $(GENERATED_DIR)/<experiment>/. Every model gets the same prompts: the
# headers of the validation tunes (meter, unit, key and the control codes),
# in one order drawn from GEN_SEED, so that control-code adherence is
# comparable across models. An experiment without a checkpoint keeps its
# tunes; GEN_EXPERIMENTS="a b" limits it to those (make reference
# REF_EXPERIMENTS=... does).
GEN_EXPERIMENTS ?= $(EXPERIMENTS)
GEN_N      ?= 128
GEN_SEED   ?= 1
GEN_PROMPT ?= --prompts-from $(VAL_SPLIT)
GEN_SAMPLING ?= --temperature 1 --top-p 0.95
generated: $(BUILD)/tunebench
	@test -f "$(VOCAB)" || { echo "make generated: $(VOCAB) is missing; run make data" >&2; exit 1; }
	@found=0; for e in $(GEN_EXPERIMENTS); do \
	  ckpt=$$(ls -d $(RECORDS)/$$e/*/ 2>/dev/null | grep -v '\.best/$$' | sort | tail -n 1); \
	  if [ -z "$$ckpt" ] || [ ! -f "$$ckpt/model.safetensors" ]; then \
	    echo "make generated: no checkpoint for $$e under $(RECORDS)/$$e/ (run make exp-$$e or make reference)"; continue; fi; \
	  found=1; rm -rf $(GENERATED_DIR)/$$e; \
	  echo "generate: $$e from $$ckpt"; \
	  if [ -f "$${ckpt%/}.json" ]; then ckpt=$${ckpt%/}.json; fi; \
	  $(BUILD)/tunebench generate --ckpt $$ckpt --tokenizer $(VOCAB) --n $(GEN_N) --seed $(GEN_SEED) \
	    $(GEN_PROMPT) $(GEN_SAMPLING) --out $(GENERATED_DIR)/$$e || exit 1; done; \
	[ $$found = 1 ] || { echo "make generated: no checkpoints under $(RECORDS)" >&2; exit 1; }

# make music-eval: re-scores everything (needs the corpus); the JSON it writes
# is what music-table reads, so `make tables` works without the corpus.
music-eval: $(BUILD)/tunebench
	@test -f "$(VAL_SPLIT)" || { echo "make music-eval: $(VAL_SPLIT) is missing; run make data" >&2; exit 1; }
	@mkdir -p $(MUSIC_DIR)
	$(BUILD)/tunebench evaluate-music --file $(VAL_SPLIT) --train $(TRAIN_SPLIT) --ref $(VAL_SPLIT) \
	  --label validation --out $(MUSIC_DIR)/validation.json
	@for d in $(GENERATED_DIR)/*/; do [ -d "$$d" ] || continue; e=$$(basename $$d); \
	  $(BUILD)/tunebench evaluate-music --dir $$d --train $(TRAIN_SPLIT) --ref $(VAL_SPLIT) \
	    --label $$e --out $(MUSIC_DIR)/$$e.json || exit 1; done

# make music-table (part of make tables): the metrics of each model's tunes
# and of the real tunes, from $(MUSIC_DIR)/*.json, and the generation settings
# (from the first set's index.json) for the paper. The sets are taken in the
# order of MUSIC_SETS (the figures' order, "experiment<TAB>label" lines that
# plot_data and make_tables write) when it exists, else in EXPERIMENTS' order.
# $(call music_table,PREFIX,LABELS) writes PREFIX.{md,tex,dat} and
# PREFIX_generation.tex; LABELS=labels names the rows by the sets' labels
# ("GPT-2 6M", for the figure) instead of the experiments.
MUSIC_SETS ?=
music_table = if [ ! -f $(MUSIC_DIR)/validation.json ]; then \
	  rm -f $(1).md $(1).tex $(1).dat $(1)_generation.tex; \
	  echo "music-table: no $(MUSIC_DIR)/validation.json yet (make generated music-eval); no music table"; \
	else mkdir -p $(dir $(1)); gen=""; set --; \
	  if [ -n "$(MUSIC_SETS)" ] && [ -f "$(MUSIC_SETS)" ]; then order=$$(cut -f1 "$(MUSIC_SETS)"); else order="$(EXPERIMENTS)"; fi; \
	  for e in $$order; do label=$$e; \
	    [ "$(2)" = labels ] && [ -f "$(MUSIC_SETS)" ] && label=$$(awk -F'\t' -v e=$$e '$$1 == e { print $$2 }' "$(MUSIC_SETS)"); \
	    [ -f $(MUSIC_DIR)/$$e.json ] && set -- "$$@" "$$label=$(MUSIC_DIR)/$$e.json"; \
	    [ -z "$$gen" ] && [ -f $(GENERATED_DIR)/$$e/index.json ] && gen="--generation $(GENERATED_DIR)/$$e/index.json"; done; \
	  $(BUILD)/tunebench music-table --out $(1) --claim-a $(CLAIM_A_ARCHS) $$gen "$$@" validation=$(MUSIC_DIR)/validation.json >/dev/null && \
	  echo "music-table: $(1).{md,tex,dat} from $(MUSIC_DIR)"; fi
# The study's claim (a) is about the Transformer and Mamba: the experiments'
# architectures it names (the claims table tests (b) for every architecture).
CLAIM_A_ARCHS ?= gpt2,mamba
music-table: $(BUILD)/tunebench
	@$(call music_table,$(TABLES_OUT)/music_metrics)

# make music-figure (part of make plots): the same numbers as bars, PNG and SVG.
music-figure: $(BUILD)/tunebench
	@$(call music_table,$(PLOTS_OUT)/data/music_metrics,labels)
	@if [ -f $(PLOTS_OUT)/data/music_metrics.dat ]; then for f in png svg; do \
	  gnuplot -e "music='$(PLOTS_OUT)/data/music_metrics.dat'; out='$(PLOTS_OUT)/music_metrics'; fmt='$$f'" \
	    plots/music_metrics.gp || exit 1; done; echo "plots: $(PLOTS_OUT)/music_metrics.{png,svg}"; fi

music-tables: music-eval
	@$(MAKE) --no-print-directory music-table music-figure

representation-table: deps-samples $(BUILD)/tunebench
	@test -f "$(VAL_SPLIT)" || { echo "make representation-table: $(VAL_SPLIT) is missing; run make data" >&2; exit 1; }
	$(BUILD)/tunebench representation-table --val $(VAL_SPLIT) --tokenizer $(VOCAB) \
	  --sample $(REPR_SAMPLE) --out paper/tables/representation
