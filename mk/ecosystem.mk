# ecosystem.mk: tunebench checkpoints in Hugging Face transformers.
# `make test` runs tests/test_hf_transformers.sh, which uses the environment
# that test-ecosystem makes once it exists and otherwise says how to make it:
# making it needs PyPI and python3-torch, which `make test` does not assume.

##@ Build and test
## test-ecosystem    transformers loads GPT-2 and Mamba checkpoints and matches `tunebench score` (makes build/venv-ecosystem: python3-torch + transformers from PyPI)

.PHONY: test-ecosystem
test-ecosystem: $(BUILD)/tunebench $(BUILD)/libtunebench.a
	@bash scripts/ecosystem_venv.sh $(BUILD)/venv-ecosystem
	@bash tests/run_all.sh tests/test_hf_transformers.sh
