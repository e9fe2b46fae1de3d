"""sdpa-bench's orchestration: config, sweep expansion, Ray workers, the driver loop, the CLI."""
