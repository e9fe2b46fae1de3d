# adaptive (the new default) then fixed (today's), same call, fresh compile caches each, Ray start-up included
source scripts/device_env.sh > /dev/null
sed 's/^  warmup_reps: 3/  protocol: fixed\n  warmup_reps: 3/' configs/default.yaml > /tmp/fixed.yaml
mkdir -p /tmp/runs
go() {
  export TORCHINDUCTOR_CACHE_DIR=/tmp/ind_$1 TRITON_CACHE_DIR=/tmp/tri_$1
  s=$(date +%s.%N); python3 -m orchestrator run -c $2 -o /tmp/runs/$1 > /tmp/runs/$1.log 2>&1; rc=$?; e=$(date +%s.%N)
  echo "$1 rc $rc wall_s $(python3 -c "print(round($e-$s,1))") started $(date -u -d @${s%.*} +%FT%TZ)" | tee -a /tmp/runs/walls.txt
  gzip -f /tmp/runs/$1/samples.jsonl; rm -rf /tmp/runs/$1/results.parquet /tmp/runs/$1/plots
  tar czf $OUT/runs.tgz -C /tmp/runs .
}
go ${1:-adaptive} configs/default.yaml
go ${2:-fixed} /tmp/fixed.yaml
