# configs/inference.yaml on the lent H200 after an independent do_bench(warmup=1000, rep=2000) of the
# decode callables at batch 8 and 128, KV 8192, Llama-3.1-8B TP1 (dense and paged 16), same call.
# The run stops (SIGTERM: the report of what finished) after $1 seconds (default 300).
source scripts/device_env.sh > /dev/null || exit 3
mkdir -p /tmp/inf
timeout 110 python3 benchmarks/do_bench_loop.py configs/inference.yaml /tmp/inf/do_bench_decode.json \
  --warmup 1000 --rep 2000 --sweeps decode_8b_paged,decode_8b_dense --match '^b(8|128) q1 kv8192 ' \
  > /tmp/inf/do_bench_decode.log 2>&1; echo "do_bench loop rc $?"; tail -1 /tmp/inf/do_bench_decode.log
s=$(date +%s.%N)
timeout -s TERM "${1:-300}" python3 -m orchestrator run -c configs/inference.yaml -o /tmp/inf/run > /tmp/inf/run.log 2>&1
echo "run rc $? wall_s $(python3 -c "print(round($(date +%s.%N) - $s, 1))")"; tail -2 /tmp/inf/run.log
python3 benchmarks/against_do_bench.py /tmp/inf/run /tmp/inf/do_bench_decode.json /tmp/inf/against_decode.json \
  > /tmp/inf/against_decode.txt 2>&1; tail -8 /tmp/inf/against_decode.txt
gzip -f /tmp/inf/run/samples.jsonl; rm -rf /tmp/inf/run/results.parquet /tmp/inf/run/plots
tar czf "$OUT/inference.tgz" -C /tmp inf
