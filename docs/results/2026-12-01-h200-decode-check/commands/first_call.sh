# The first call on a fresh machine: copy the first wheel folder (see decode_check.sh), then the read
# kernel's launch shapes, which need only torch and Triton (there already).
mkdir -p /tmp/all-store && cp .dev-1/* /tmp/all-store/
source scripts/device_env.sh > /dev/null || exit 3
timeout 150 python3 benchmarks/read_kernel_shapes.py 2>&1 | tee "$OUT/read_kernel_shapes.txt"
