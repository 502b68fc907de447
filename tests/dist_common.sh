# dist_common.sh: what tests/test_dist.sh and tests/test_nccl.sh share, sourced
# by both after they set $tmp (a scratch folder) and $build: mpirun as root
# on one machine, the tiny configs, and reading a record's curves.

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
# Under the sanitizers (make test-sanitize) LeakSanitizer would report what
# OpenMPI itself keeps past MPI_Finalize, so the MPI runs check no leaks
# (test_train_resume and test_train_safety check the same train code for them).
# A launch that hangs (a collective one rank never joins) fails its check
# after 300 s instead of stopping `make test`.
mpi() { ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 timeout 300 mpirun --bind-to none -np "$@"; }
light="--steps 10 --set batch_size=4 --set log_interval=1 --set eval.batches=1 --set inference.repeats=1 --set samples.count=1 --set samples.max_tokens=8 --threads 1 --results $tmp/r"
# tiny_config ARCH: $tmp/tiny-ARCH.json, experiments/ARCH-6m.json with the tiny model and 16-token sequences.
tiny_config() {
  sed -e "s/\"experiment\": \"$1-6m\"/\"experiment\": \"tiny-$1\"/" -e "s/\"model\": \"$1-6m\"/\"model\": \"tiny-$1\"/" \
      -e 's/"seq_len": 256/"seq_len": 16/' "experiments/$1-6m.json" >"$tmp/tiny-$1.json"
}
# values KEY RECORD: the curve's values of KEY, one a line.
values() { grep -oE "\"$1\":[[:space:]]*[-0-9.e+]+" "$2" | grep -oE '[-0-9.e+]+$'; }
# same A B: the two records' loss and gradient-norm curves are the same bits (and not empty).
same() {
  local x y
  x=$(values train_loss "$1"; values grad_norm "$1"); y=$(values train_loss "$2"; values grad_norm "$2")
  [ "$(printf '%s\n' "$x" | wc -l)" = 20 ] && [ "$x" = "$y" ]
}
# close KEY A B: the two records' KEY curves have 10 rows and agree within 1e-5 relative.
close() {
  paste <(values "$1" "$2") <(values "$1" "$3") |
    awk '{ d = ($1 - $2) / $1; if (d < 0) d = -d; if (d > m) m = d } END { print "max relative difference", m; exit !(NR == 10 && m < 1e-5) }'
}
