# configs/default.yaml once (it also warms the compile caches: every point of the 2026-11-26 config is
# in it), then the 2026-11-26 default config twice back to back (adaptive, burst on: the defaults),
# then compare the two at 2%. Each run is SIGTERMed (the report of what finished) after its limit.
source scripts/device_env.sh > /dev/null || exit 3
mkdir -p /tmp/b
old=docs/results/2026-12-01-h200-burst/commands/default-2026-11-26.yaml
go() {  # name config limit_s
  s=$(date +%s.%N); timeout -s TERM "$3" python3 -m orchestrator run -c "$2" -o "/tmp/b/$1" > "/tmp/b/$1.log" 2>&1
  echo "$1 rc $? wall_s $(python3 -c "print(round($(date +%s.%N) - $s, 1))") started $(date -u -d @${s%.*} +%FT%TZ)" \
    | tee -a /tmp/b/walls.txt
}
go default configs/default.yaml "${1:-230}"
go run1 $old "${2:-175}"
go run2 $old "${2:-175}"
python3 -m orchestrator compare /tmp/b/run1 /tmp/b/run2 --threshold 0.02 --fail-on never -o /tmp/b/compare.csv \
  > /tmp/b/compare.txt 2>&1; echo "compare rc $?"; tail -4 /tmp/b/compare.txt
for r in default run1 run2; do gzip -f /tmp/b/$r/samples.jsonl; rm -rf /tmp/b/$r/results.parquet /tmp/b/$r/plots; done
tar czf "$OUT/runs.tgz" -C /tmp b
