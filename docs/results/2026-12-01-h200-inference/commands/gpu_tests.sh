# pytest tests/gpu on the lent H200, FlashAttention-4 4.0.0b36 and FlashInfer 0.7.2.post1 installed
# (the carried wheels, installed into /tmp/site by the call before). Writes gpu_tests.log.
source scripts/device_env.sh > /dev/null || exit 3
python3 -c "import flash_attn.cute, flashinfer; print('flash_attn.cute and flashinfer import')" 2>&1 | tail -1
timeout 270 python3 -m pytest -q -p no:cacheprovider -rfE tests/gpu > "$OUT/gpu_tests.log" 2>&1; echo "pytest rc $?"
tail -25 "$OUT/gpu_tests.log"
