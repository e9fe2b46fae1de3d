import json, sys
a = [json.loads(l) for l in open(sys.argv[1] + "/results.jsonl")]
b = [json.loads(l) for l in open(sys.argv[2] + "/results.jsonl")]
print("rows", len(a), len(b))
ka = {r["job_id"]: r for r in a}; kb = {r["job_id"]: r for r in b}
print("same ids:", set(ka) == set(kb), "same order:", [r["job_id"] for r in a] == [r["job_id"] for r in b])
timing = {"median_ms","iqr_ms","min_ms","n_reps","ci_rel","stop_reason","tflops","duration_s","finished_at","warmup_ms","window_ms","peak_mem_mib","err_ratio","max_abs_err","math_max_abs_err","rel_l2_err","grad_err_ratio","ceiling_float16_tflops","ceiling_bfloat16_tflops","ceiling_float32_tflops","ceiling_copy_gbs", "error"}
diffs = {}
for j in ka:
    if j not in kb: continue
    ra, rb = ka[j], kb[j]
    for c in set(ra) & set(rb):
        if c in timing: continue
        if ra[c] != rb[c]:
            diffs.setdefault(c, []).append((ra[c], rb[c]))
print("status equal:", all(ka[j]["status"] == kb[j]["status"] for j in ka if j in kb))
print("columns only before:", sorted(set().union(*map(set, a)) - set().union(*map(set, b))))
print("columns only after:", sorted(set().union(*map(set, b)) - set().union(*map(set, a))))
print("differences in shared non-timing columns:", {c: v[:3] for c, v in diffs.items()})
