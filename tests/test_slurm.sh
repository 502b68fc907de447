#!/usr/bin/env bash
# test_slurm.sh: a grid on a real Slurm. Starts a single-node cluster on this
# machine from a slurm.conf generated into a temporary folder (munged with its
# own key and socket, slurmctld and slurmd on free ports, proctrack/linuxproc,
# no cgroups), submits a tiny grid with `make grid SCHEDULER=slurm`, follows
# it with `make grid-status SCHEDULER=slurm`, waits for it (bounded), checks
# every record with `tunebench check-record`, and stops the daemons it
# started. Slurm and munge come from scripts/deps.sh's slurm group (.ci/run
# installs it); without them the test says why and counts itself skipped.
set -u
cd "$(dirname "$0")/.."
build=$(printf '%s' "${MAKEFLAGS:-}" | grep -o 'BUILD=[^ ]*' | head -n 1 | cut -d= -f2)
build=${build:-build}
tb=$build/tunebench
# The longest the grid may take once submitted (4 tiny runs of 5 steps take seconds).
WAIT_SECONDS=180
passed=0; failed=0

for p in /usr/sbin/munged /usr/sbin/slurmctld /usr/sbin/slurmd sbatch squeue sinfo; do
  if ! command -v "$p" >/dev/null 2>&1; then
    echo "SKIP test_slurm: $p is not installed (bash scripts/deps.sh slurm installs slurm-wlm and munge)"
    echo "test_slurm: 0 passed, 0 failed, 1 skipped"; exit 0
  fi
done
if [ "$(id -u)" != 0 ]; then
  echo "SKIP test_slurm: slurmd runs jobs as their user only when it runs as root, and this is uid $(id -u)"
  echo "test_slurm: 0 passed, 0 failed, 1 skipped"; exit 0
fi

tmp=$(mktemp -d /tmp/tb_test_slurm_XXXXXX)
chmod 755 "$tmp"  # munged wants the socket's folder reachable by all
check() {  # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@" >>"$tmp/checks.log" 2>&1; then passed=$((passed + 1)); else
    failed=$((failed + 1)); echo "FAIL test_slurm: $what"; tail -n 5 "$tmp/checks.log"; fi
}
# The daemons this test started, by their pid files; then the folder.
stop() {
  [ -n "${SLURM_CONF:-}" ] && scancel --quiet --name "tb-t-tiny-gpt2" --name "tb-t-tiny-mamba" 2>/dev/null
  for d in slurmd slurmctld munged; do
    [ -s "$tmp/$d.pid" ] && kill "$(cat "$tmp/$d.pid")" 2>/dev/null
  done
  for d in slurmd slurmctld munged; do  # wait for them to go, a few seconds at most
    for _ in $(seq 50); do [ -s "$tmp/$d.pid" ] && kill -0 "$(cat "$tmp/$d.pid")" 2>/dev/null || break; sleep 0.1; done
  done
  rm -rf "$tmp"
}
trap stop EXIT

# Two free TCP ports: nothing answers on them.
free_port() {
  local p
  for _ in $(seq 50); do
    p=$(( 20000 + RANDOM % 20000 ))
    (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null || { echo $p; return; }
  done
  echo 0
}
ctld_port=$(free_port); d_port=$(free_port)
while [ "$d_port" = "$ctld_port" ]; do d_port=$(free_port); done

dd if=/dev/urandom of="$tmp/munge.key" bs=1024 count=1 2>/dev/null; chmod 600 "$tmp/munge.key"
mkdir -p "$tmp/state" "$tmp/spool"
mem_mb=$(awk '/MemTotal/ { print int($2 / 1024) - 512 }' /proc/meminfo)
cat >"$tmp/slurm.conf" <<EOF
ClusterName=tunebench-test
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$ctld_port
SlurmdPort=$d_port
AuthType=auth/munge
AuthInfo=socket=$tmp/munge.sock
CredType=cred/munge
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/slurmctld.log
SlurmdLogFile=$tmp/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SwitchType=switch/none
MpiDefault=none
ReturnToService=2
NodeName=tbnode NodeHostname=localhost NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=$mem_mb State=UNKNOWN
PartitionName=tb Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$tmp/slurm.conf

/usr/sbin/munged --force --socket="$tmp/munge.sock" --key-file="$tmp/munge.key" --log-file="$tmp/munged.log" \
  --pid-file="$tmp/munged.pid" --seed-file="$tmp/munged.seed" >>"$tmp/daemons.log" 2>&1
check "munged starts (log $tmp/munged.log)" bash -c "munge -S '$tmp/munge.sock' -n </dev/null | unmunge -S '$tmp/munge.sock' >/dev/null"
/usr/sbin/slurmctld -i -f "$tmp/slurm.conf" >>"$tmp/daemons.log" 2>&1
/usr/sbin/slurmd -N tbnode -f "$tmp/slurm.conf" >>"$tmp/daemons.log" 2>&1
idle=0
for _ in $(seq 100); do
  [ "$(sinfo -h -o %T 2>/dev/null)" = idle ] && { idle=1; break; }
  sleep 0.2
done
if [ "$idle" != 1 ]; then
  echo "FAIL test_slurm: the single-node cluster did not come up in 20 s: $(tail -n 3 "$tmp/slurmctld.log" "$tmp/slurmd.log" "$tmp/daemons.log" 2>&1 | tr '\n' ' ')"
  echo "test_slurm: $passed passed, $((failed + 1)) failed"; exit 1
fi
passed=$((passed + 1))

# The tiny grid: two architectures x two seeds, 5 steps, one CPU each.
for a in gpt2 mamba; do
  sed -e "s/\"experiment\": \"$a-6m\"/\"experiment\": \"tiny-$a\"/" -e "s/\"model\": \"$a-6m\"/\"model\": \"tiny-$a\"/" \
      -e 's/"seq_len": 256/"seq_len": 16/' "experiments/$a-6m.json" >"$tmp/tiny-$a.json"
done
cat >"$tmp/g.json" <<EOF
{"name": "t", "results": "$tmp/results", "experiments": ["$tmp/tiny-gpt2.json", "$tmp/tiny-mamba.json"],
 "seeds": [1, 2], "steps": 5,
 "set": {"batch_size": 2, "eval.batches": 1, "inference.repeats": 1, "samples.count": 1, "samples.max_tokens": 8},
 "slurm": {"partition": "tb", "resources": {"default": {"cpus": 1, "mem": "500M", "time": "00:05:00"}}}}
EOF
make --no-print-directory grid GRID="$tmp/g.json" SCHEDULER=slurm >"$tmp/submit.log" 2>&1; rc=$?
check "make grid SCHEDULER=slurm submits (exit $rc; log $tmp/submit.log)" \
  bash -c "[ $rc = 0 ] && [ \$(grep -c 'submitted .* as job' '$tmp/submit.log') = 2 ]"
check "the job ids are kept for grid-status" bash -c "[ \$(wc -l <'$tmp/results/slurm/jobs.txt') = 2 ]"
make --no-print-directory grid-status GRID="$tmp/g.json" SCHEDULER=slurm >"$tmp/status1.log" 2>&1
check "make grid-status SCHEDULER=slurm reads the queue" grep -q 'in the Slurm queue' "$tmp/status1.log"

deadline=$(( $(date +%s) + WAIT_SECONDS ))
while [ "$(date +%s)" -lt "$deadline" ]; do
  [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
  sleep 1
done
check "the queue drained within $WAIT_SECONDS s" bash -c "[ -z \"\$(squeue -h -o %i)\" ]"

records=$(ls "$tmp"/results/tiny-*/*.json 2>/dev/null)
check "4 records, one per array task" [ "$(printf '%s\n' $records | grep -c json)" = 4 ]
check "every record is valid and completed" "$tb" check-record --completed $records
check "each task wrote its Slurm log" bash -c "[ \$(ls '$tmp'/results/logs/slurm-*_*.out | wc -l) = 4 ]"
check "the tasks ran the grid's runs (their logs say so)" \
  bash -c "cat '$tmp'/results/logs/slurm-*.out | grep -c 'grid t: starting tiny-' | grep -qx 4"
make --no-print-directory grid-status GRID="$tmp/g.json" SCHEDULER=slurm >"$tmp/status2.log" 2>&1
check "make grid-status: 4 completed, none queued" grep -q '4 runs: 4 completed.*; 0 in the Slurm queue' "$tmp/status2.log"
make --no-print-directory grid GRID="$tmp/g.json" SCHEDULER=slurm >"$tmp/submit2.log" 2>&1
check "a finished grid submits nothing" grep -q 'nothing to submit' "$tmp/submit2.log"

echo "test_slurm: $passed passed, $failed failed"
[ "$failed" = 0 ]
