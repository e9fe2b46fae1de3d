# Three decode points (decode_check.yaml: Llama-3.1-8B TP1, one token, KV 8192, batch 1, 8, 128,
# paged 16 and dense) in one call: an independent do_bench(warmup=1000, rep=2000) of each
# implementation's own callable, then sdpa-bench over the same points, then each against the other.
# Run after the wheels are installed (.dev-1 .. .dev-6 copied to /tmp/all-store, .dev-6/install.sh).
source scripts/device_env.sh > /dev/null || exit 3
export FLASH_ATTENTION_CUTE_DSL_CACHE_ENABLED=1
d=docs/results/2026-12-01-h200-decode-check/commands
mkdir -p /tmp/dc && cp "$OUT/env.txt" /tmp/dc/
timeout 200 python3 benchmarks/do_bench_loop.py $d/decode_check.yaml /tmp/dc/do_bench.json --warmup 1000 --rep 2000 \
  > /tmp/dc/do_bench.log 2>&1; echo "do_bench loop rc $?"; tail -1 /tmp/dc/do_bench.log
s=$(date +%s.%N)
timeout -s TERM 250 python3 -m orchestrator run -c $d/decode_check.yaml -o /tmp/dc/run > /tmp/dc/run.log 2>&1
echo "run rc $? wall_s $(python3 -c "print(round($(date +%s.%N) - $s, 1))")"; tail -2 /tmp/dc/run.log
python3 benchmarks/against_do_bench.py /tmp/dc/run /tmp/dc/do_bench.json /tmp/dc/against.json > /tmp/dc/against.txt 2>&1
tail -12 /tmp/dc/against.txt
gzip -f /tmp/dc/run/samples.jsonl; rm -rf /tmp/dc/run/results.parquet /tmp/dc/run/plots
tar czf "$OUT/decode_check.tgz" -C /tmp dc
