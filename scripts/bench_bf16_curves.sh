#!/usr/bin/env bash
# bench_bf16_curves.sh BUILD OUT.json: bf16 mixed precision against the fp32
# curve on the 6M models (make bench-bf16-curves). Each model of BF16_MODELS
# trains BF16_STEPS (200) steps on the CPU twice, --precision fp32 and bf16,
# from its experiment's config with the same seed, the same batches and the
# same threads; only the precision differs. The batch is smaller than the
# experiment's (BF16_BATCH x BF16_SEQ, 4 x 128) so that the six runs take
# minutes, the warmup is 20 steps (the config's 1000 would leave the rate at
# a fifth of its peak), and validation (asked for at the end only; the runner
# raises a short run to ten validations, every STEPS / 10 steps) runs on
# BF16_EVAL_BATCHES (16) batches. Needs a CPU with AVX512-BF16 (the bf16 run
# says so in one line otherwise). About 25 minutes on 2 shared cores.
#
# Per model, OUT holds both curves' final and best training loss, the
# largest and the final |bf16 - fp32| training-loss difference (any step, and
# the mean of the last 20 steps), both final validation bits per byte, and
# the verdict against the stated bound:
#   |mean of the last 20 steps' loss, bf16 - fp32| <= WINDOW_TOL nats,
#   |final validation bpb, bf16 - fp32|             <= VAL_TOL bpb,
#   every step's |bf16 - fp32| loss                  <= STEP_TOL nats.
# Writes OUT (a temporary file, then rename), with the load averages before
# and after (timings are not the point: the losses are deterministic), and
# exits non-zero when a model is outside the bound.
set -euo pipefail
build=${1:?usage: bench_bf16_curves.sh BUILD OUT.json}
out=${2:?usage: bench_bf16_curves.sh BUILD OUT.json}
MODELS=${BF16_MODELS:-gpt2-6m mamba-6m lstm-6m}
STEPS=${BF16_STEPS:-200}
BATCH=${BF16_BATCH:-4}
SEQ=${BF16_SEQ:-128}
EVAL_BATCHES=${BF16_EVAL_BATCHES:-16}
THREADS=${BF16_THREADS:-2}
DATA=${BF16_DATA:-}  # another prepared corpus than the experiments' (the test's)
WINDOW=20
# The stated bound (tests/test_bf16_curves.sh narrows it to see a failure).
WINDOW_TOL=${BF16_WINDOW_TOL:-0.05}
VAL_TOL=${BF16_VAL_TOL:-0.05}
STEP_TOL=${BF16_STEP_TOL:-0.2}
tb=$(cd "$(dirname "$build/tunebench")" && pwd)/tunebench
tmp=$(mktemp -d /tmp/tb_bench_bf16_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# section_rows RECORD SECTION KEY: "step value" for every row of the
# record's top-level array SECTION ("curve", "validation") that has KEY.
# Records are cJSON's printout: one key a line, tab-indented.
section_rows() {
  awk -v want="$2" -v key="$3" '
    /^\t"[a-z_]+":/ { sec = $0; sub(/^\t"/, "", sec); sub(/".*/, "", sec) }
    sec == want && /^\t\t\t"step":/ { s = $0; gsub(/[^0-9]/, "", s) }
    sec == want && $0 ~ "^\t\t\t\"" key "\":" { v = $0; sub(/.*:\t/, "", v); sub(/,$/, "", v); print s, v }
  ' "$1"
}

rows=""
for model in $MODELS; do
  for precision in fp32 bf16; do
    id=$model-$precision
    echo "bench-bf16-curves: $model, $STEPS steps at $BATCH x $SEQ, $precision"
    "$tb" train --config "experiments/$model.json" --steps "$STEPS" --batch "$BATCH" \
      --threads "$THREADS" --precision "$precision" --set seq_len="$SEQ" --set log_interval=1 \
      --set optimizer.warmup_steps=20 --set eval.interval="$STEPS" --set eval.batches="$EVAL_BATCHES" \
      --set eval.max_share=1 --set checkpoint.interval="$STEPS" --set inference.repeats=0 \
      --set samples.count=0 ${DATA:+--data "$DATA"} --results "$tmp/runs" --run-id "$id" >"$tmp/$id.log" 2>&1 ||
      { echo "bench-bf16-curves: $model $precision failed:"; tail -n 5 "$tmp/$id.log"; exit 1; }
    rec=$tmp/runs/$model/$id.json
    section_rows "$rec" curve train_loss >"$tmp/$id.loss"
    section_rows "$rec" validation bpb | tail -n 1 >"$tmp/$id.val"
    n=$(wc -l <"$tmp/$id.loss")
    [ "$n" = "$STEPS" ] || { echo "bench-bf16-curves: $rec has $n training losses, not $STEPS"; exit 1; }
  done
  row=$(paste -d' ' "$tmp/$model-fp32.loss" "$tmp/$model-bf16.loss" | awk \
    -v model="$model" -v w="$WINDOW" -v wt="$WINDOW_TOL" -v vt="$VAL_TOL" -v st="$STEP_TOL" \
    -v val32="$(cut -d' ' -f2 "$tmp/$model-fp32.val")" -v val16="$(cut -d' ' -f2 "$tmp/$model-bf16.val")" '
    function abs(x) { return x < 0 ? -x : x }
    $1 != $3 { print "step mismatch: " $0 > "/dev/stderr"; exit 1 }
    { n++; a[n] = $2; b[n] = $4; d = abs($4 - $2); if (d > worst) { worst = d; at = $1 } }
    END {
      for (i = n - w + 1; i <= n; i++) { wa += a[i]; wb += b[i] }
      wa /= w; wb /= w
      best_a = a[1]; best_b = b[1]
      for (i = 2; i <= n; i++) { if (a[i] < best_a) best_a = a[i]; if (b[i] < best_b) best_b = b[i] }
      wd = abs(wb - wa); vd = abs(val16 - val32)
      pass = wd <= wt && vd <= vt && worst <= st
      printf "{\"model\": \"%s\", \"steps\": %d, \"first_loss\": {\"fp32\": %.4f, \"bf16\": %.4f}, ", model, n, a[1], b[1]
      printf "\"final_loss\": {\"fp32\": %.4f, \"bf16\": %.4f}, ", a[n], b[n]
      printf "\"last_%d_mean_loss\": {\"fp32\": %.4f, \"bf16\": %.4f}, ", w, wa, wb
      printf "\"max_abs_loss_diff\": %.4f, \"max_abs_loss_diff_step\": %d, \"final_abs_loss_diff\": %.4f, ", worst, at, abs(b[n] - a[n])
      printf "\"last_%d_mean_abs_diff\": %.4f, \"val_bpb\": {\"fp32\": %.4f, \"bf16\": %.4f}, \"val_bpb_abs_diff\": %.4f, ", w, wd, val32, val16, vd
      printf "\"pass\": %s}", pass ? "true" : "false"
    }')
  echo "  $row"
  rows="$rows${rows:+,
    }$row"
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
fails=$(printf '%s\n' "$rows" | grep -c '"pass": false' || true)

cat >"$out.tmp" <<EOF
{
  "benchmark": "bf16_curves",
  "command": "make bench-bf16-curves",
  "git_commit": "$(git rev-parse HEAD 2>/dev/null || echo unknown)",
  "cpu": "$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')",
  "backend": "cpu",
  "threads": $THREADS,
  "batch_size": $BATCH,
  "seq_len": $SEQ,
  "steps": $STEPS,
  "schedule": "each experiment's rate, warmup 20 steps, cosine to the config's floor at step $STEPS; seed and batches as the config, the same for both precisions",
  "validation_batches": $EVAL_BATCHES,
  "bound": {"last_${WINDOW}_mean_abs_diff_nats": $WINDOW_TOL, "val_bpb_abs_diff": $VAL_TOL, "max_abs_loss_diff_nats": $STEP_TOL},
  "load_average_start": "$load_start",
  "load_average_end": "$load_end",
  "models": [
    $rows
  ],
  "all_pass": $([ "$fails" = 0 ] && echo true || echo false)
}
EOF
mv "$out.tmp" "$out"
echo "bench-bf16-curves: wrote $out ($fails of $(echo $MODELS | wc -w) models outside the bound)"
[ "$fails" = 0 ]
