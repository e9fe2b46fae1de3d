# configs/default.yaml again, right after run1.sh on the same machine (caches warm), SIGTERM at 330 s;
# then do_bench(warmup=1000, rep=2000) at the tutorial shape and the FA-style forward points, and
# run2's sustained median against it.
source scripts/device_env.sh > /dev/null || exit 3
export FLASH_ATTENTION_CUTE_DSL_CACHE_ENABLED=1
s=$(date +%s.%N)
timeout -s TERM 330 python3 -m orchestrator run -c configs/default.yaml -o /tmp/b/run2 > /tmp/b/run2.log 2>&1
echo "run2 rc $? wall_s $(python3 -c "print(round($(date +%s.%N) - $s, 1))")" | tee -a /tmp/b/walls.txt; tail -2 /tmp/b/run2.log
timeout 180 python3 benchmarks/do_bench_loop.py configs/default.yaml /tmp/b/do_bench.json --warmup 1000 --rep 2000 \
  --sweeps tutorial,fa_style_s1024,fa_style_s4096 --match ' fwd( |$)' > /tmp/b/do_bench.log 2>&1
echo "do_bench loop rc $?"; tail -1 /tmp/b/do_bench.log
python3 benchmarks/against_do_bench.py /tmp/b/run2 /tmp/b/do_bench.json /tmp/b/against_do_bench.json \
  > /tmp/b/against_do_bench.txt 2>&1; tail -10 /tmp/b/against_do_bench.txt
gzip -kf /tmp/b/run2/samples.jsonl
tar czf "$OUT/run2.tgz" -C /tmp/b --exclude=run1 --exclude=run2/samples.jsonl --exclude=run2/results.parquet \
  --exclude=run2/plots .
