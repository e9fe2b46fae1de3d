# configs/default.yaml twice back to back (adaptive, the new default) on every GPU of this host, then compare at 2%
source scripts/device_env.sh > /dev/null
mkdir -p /tmp/rep; nvidia-smi --query-gpu=index,name,uuid,power.limit --format=csv > /tmp/rep/gpus.txt
for i in 1 2; do
  export TORCHINDUCTOR_CACHE_DIR=/tmp/ind_$i TRITON_CACHE_DIR=/tmp/tri_$i
  s=$(date +%s.%N); python3 -m orchestrator run -c configs/default.yaml -o /tmp/rep/run$i > /tmp/rep/run$i.log 2>&1; rc=$?; e=$(date +%s.%N)
  echo "run$i rc $rc wall_s $(python3 -c "print(round($e-$s,1))") started $(date -u -d @${s%.*} +%FT%TZ)" | tee -a /tmp/rep/walls.txt
  gzip -f /tmp/rep/run$i/samples.jsonl; rm -rf /tmp/rep/run$i/results.parquet /tmp/rep/run$i/plots
  tar czf $OUT/rep.tgz -C /tmp rep
done
python3 -m orchestrator compare /tmp/rep/run1 /tmp/rep/run2 --threshold 0.02 --fail-on never -o /tmp/rep/compare.csv > /tmp/rep/compare.txt 2>&1; echo compare rc $?
tail -25 /tmp/rep/compare.txt; tar czf $OUT/rep.tgz -C /tmp rep
