#!/usr/bin/env bash
# test_stop_signal.sh: SIGTERM and Ctrl-C (SIGINT) stop a training run with a
# checkpoint and a record, on the backend under test, as a user or a job
# scheduler sends them to a child run:
#   - SIGTERM twice in a row, as coreutils `timeout` sends it (to the child,
#     then to its process group), once the run is training: tiny-gpt2 and
#     tiny-mamba;
#   - one SIGINT (Ctrl-C);
#   - a signal during the setup (after the backend and the model are made,
#     before the first step);
# each time: exit status 128 + the signal, "stopped by signal" in the log, a
# checkpoint that `tunebench eval` loads (its checksums hold), and a record
# with status "interrupted" that matches the schema. The run then resumes
# from that checkpoint.
#
#   make test       runs it on the CPU with the build under test
#   make test-gpu   runs it with TB_STOP_BIN=build/tunebench-cuda TB_STOP_BACKEND=cuda
set -u
cd "$(dirname "$0")/.."
build=$(printf '%s' "${MAKEFLAGS:-}" | grep -o 'BUILD=[^ ]*' | head -n 1 | cut -d= -f2)
bin=${TB_STOP_BIN:-${build:-build}/tunebench}
backend=${TB_STOP_BACKEND:-cpu}
tmp=$(mktemp -d /tmp/tb_test_stop_XXXXXX)
passed=0; failed=0
check() {  # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@" >>"$tmp/checks.log" 2>&1; then passed=$((passed + 1)); else
    failed=$((failed + 1)); echo "FAIL test_stop_signal ($backend): $what"; tail -n 5 "$tmp/checks.log"; fi
}

# A corpus of synthetic tunes, prepared by the binary under test (byte tokenizer).
awk 'BEGIN { srand(7); notes = "CDEFGABcdefgab";
  for (t = 1; t <= 300; t++) { printf "X:%d\nT:Tune %d\nM:6/8\nL:1/8\nK:D\n", t, t;
    for (b = 0; b < 8; b++) { for (i = 0; i < 6; i++) printf "%s", substr(notes, int(rand() * 14) + 1, 1); printf "|" }
    printf "\n\n" } }' >"$tmp/tunes.abc"
check "prepare a corpus" bash -c "'$bin' prepare --tokenizer bytes --style plain --out '$tmp/corpus' '$tmp/tunes.abc' >'$tmp/prepare.log' 2>&1"
corpus=$tmp/corpus/local/plain-bytes

config() {  # config MODEL: a run far longer than the test, validating every 20 steps
  cat >"$tmp/$1.json" <<EOF
{"experiment": "stop", "model": "$1", "data": "$corpus", "results": "$tmp/results", "backend": "$backend",
 "threads": 1, "seed": 3, "steps": 1000000, "batch_size": 4, "seq_len": 16, "log_interval": 10,
 "optimizer": {"warmup_steps": 10}, "eval": {"interval": 20, "batches": 1}, "checkpoint": {"interval": 100000},
 "inference": {"repeats": 0}, "samples": {"count": 0}}
EOF
}

validations() { grep -c '"bpb"' "$1" 2>/dev/null || echo 0; }

# wait_for PID: its exit status; a run still going after two minutes is killed.
wait_for() {
  local i=0
  while kill -0 "$1" 2>/dev/null && [ $i -lt 2400 ]; do sleep 0.05; i=$((i + 1)); done
  kill -9 "$1" 2>/dev/null
  wait "$1"
}

# stop_run NAME MODEL SIGNAL COPIES [ENV=VALUE]: starts a run, waits until its
# record holds two validations (steps 0 and 20), sends SIGNAL COPIES times in
# a row and checks how it ended. With ENV (a test hook), the run signals itself.
stop_run() {
  local name=$1 model=$2 sig=$3 copies=$4 env=${5:-}
  local rec=$tmp/results/stop/$name.json ckpt=$tmp/results/stop/$name
  config "$model"
  env $env "$bin" train --config "$tmp/$model.json" --run-id "$name" >"$tmp/$name.log" 2>&1 &
  local pid=$! i=0
  if [ -z "$env" ]; then
    while [ "$(validations "$rec")" -lt 2 ] && kill -0 "$pid" 2>/dev/null && [ $i -lt 6000 ]; do
      sleep 0.05; i=$((i + 1)); done
    # Copies 5 ms apart: the first has been taken when the next arrives
    # (timeout's two are microseconds apart; one request either way).
    for c in $(seq "$copies"); do [ "$c" = 1 ] || sleep 0.005; kill -s "$sig" "$pid" 2>/dev/null; done
  fi
  wait_for "$pid"; local rc=$?
  local want=$((128 + $(kill -l "$sig")))
  check "$name: exit status $want (got $rc)" test "$rc" = "$want"
  check "$name: the log says it stopped" grep -q "stopped by signal $(kill -l "$sig") after step" "$tmp/$name.log"
  check "$name: a checkpoint" test -s "$ckpt/model.safetensors" -a -s "$ckpt/train_state.bin" -a -s "$ckpt/config.json"
  check "$name: the record says interrupted" grep -Eq '"status":[[:space:]]*"interrupted"' "$rec"
  check "$name: the record names the checkpoint" grep -Eq '"checkpoint_step":[[:space:]]*[1-9]' "$rec"
  check "$name: the record matches the schema" "$bin" check-record "$rec"
  check "$name: the record names its corpus and style (from the manifest)" \
    bash -c "grep -Eq '\"corpus\":[[:space:]]*\"local\"' '$rec' && grep -Eq '\"style\":[[:space:]]*\"plain\"' '$rec'"
  check "$name: the checkpoint loads (checksums hold)" \
    bash -c "'$bin' eval --ckpt '$ckpt' --data '$corpus/val.bin' --backend $backend --batch 4 >'$tmp/$name-eval.log' 2>&1"
}

stop_run timeout-gpt2 tiny-gpt2 TERM 2
stop_run timeout-mamba tiny-mamba TERM 2
stop_run ctrl-c tiny-gpt2 INT 1
stop_run setup tiny-gpt2 TERM 0 TUNEBENCH_FAULT_SIGNAL_SETUP=1

# The stopped run resumes from its checkpoint (and stops again three steps on).
rec=$tmp/results/stop/ctrl-c.json
step=$(grep -Eo '"checkpoint_step":[[:space:]]*[0-9]+' "$rec" | grep -Eo '[0-9]+$')
TUNEBENCH_FAULT_STOP_STEP=$((step + 3)) "$bin" train --resume "$tmp/results/stop/ctrl-c" >"$tmp/resumed.log" 2>&1 &
wait_for $!; rc=$?
check "resume: stops again at step $((step + 3)) (exit $rc)" test "$rc" = 143
check "resume: the record holds the checkpoint of step $((step + 3))" \
  grep -Eq "\"checkpoint_step\":[[:space:]]*$((step + 3))[^0-9]" "$rec"
check "resume: the record matches the schema" "$bin" check-record "$rec"

if [ "$failed" = 0 ] && [ -z "${KEEP:-}" ]; then rm -rf "$tmp"; else echo "kept $tmp for inspection"; fi
echo "test_stop_signal: $passed passed, $failed failed"
[ "$failed" = 0 ]
