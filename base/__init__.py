"""sdpa-bench's base layer: what a run directory holds and the words every layer shares.

Torch-free and Ray-free, so the config, the report and `compare` load without either:
`vocab` (dtypes, modes, masks, backends, statuses, faults), `point` (one benchmark point and
its label), `schema` (a result row and its typed columns), `journal` (the append-only
results.jsonl), `manifest` (manifest.json), `settings` (timing and memory settings jobs read).
`jobs/`, `orchestrator/` and `analysis/` import this; it imports none of them.
"""
