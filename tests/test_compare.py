"""`sdpa-bench compare` on a synthetic pair of runs: it flags exactly the planted regressions
and improvements, and nothing within the threshold or within the runs' measured spread."""
import pandas as pd

from analysis.compare import compare
from orchestrator.cli import main
from tests.conftest import synthetic_row, write_rows

# seq_len -> (A median, A IQR, B median, B IQR), in ms
PLANTED = {
    128: (1.0, 0.01, 1.20, 0.01),  # +20%: regression
    256: (2.0, 0.02, 1.60, 0.02),  # -20%: improvement
    384: (3.0, 0.03, 3.09, 0.03),  # +3%: under the 5% threshold
    512: (4.0, 0.40, 4.32, 0.40),  # +8%, but the runs spread 10%: noise
    640: (5.0, 0.05, 5.00, 0.05),  # unchanged
}


def runs(tmp_path):
    def rows(side):
        out = [synthetic_row(seq_len=s, median_ms=v[side], iqr_ms=v[side + 1], tflops=1 / v[side])
               for s, v in PLANTED.items()]
        if side == 0:  # only in A: nothing to compare it with
            out.append(synthetic_row(seq_len=768, median_ms=1.0, iqr_ms=0.0, tflops=1.0))
        out.append(synthetic_row(seq_len=128, status="oom", backend="math"))  # failures are not timings
        return out
    return write_rows(tmp_path / "a", rows(0)), write_rows(tmp_path / "b", rows(2))


def test_flags_exactly_the_planted_changes(tmp_path):
    a, b = runs(tmp_path)
    verdicts = compare(a, b).set_index("seq_len")["verdict"].to_dict()
    assert verdicts == {128: "regression", 256: "improvement", 384: "same", 512: "same", 640: "same"}


def test_ratios_are_b_over_a(tmp_path):
    both = compare(*runs(tmp_path)).set_index("seq_len")
    assert both.loc[128, "time_ratio"] == 1.2
    assert both.loc[256, "speed_ratio"] == 1.25


def test_exit_code_gates_ci(tmp_path, capsys):
    a, b = runs(tmp_path)
    assert main(["compare", str(a), str(b)]) == 1
    out = capsys.readouterr().out
    assert "5 points in both runs: 1 regression(s), 1 improvement(s), 3 within threshold or noise" in out
    assert main(["compare", str(a), str(b), "--fail-on", "never"]) == 0
    assert main(["compare", str(a), str(b), "--threshold", "0.25"]) == 0  # 20% is under 25%
    assert len(pd.read_csv(b / "compare.csv")) == 5
    assert main(["compare", str(a), str(tmp_path / "nope")]) == 2


def test_times_from_different_timers_are_never_compared(tmp_path):
    a = write_rows(tmp_path / "a", [synthetic_row(seq_len=128, median_ms=1.0, iqr_ms=0.0, tflops=1.0)])  # no timer: events
    b = write_rows(tmp_path / "b", [synthetic_row(seq_len=128, median_ms=0.2, iqr_ms=0.0, tflops=5.0, timer="cuda_graph"),
                                    synthetic_row(seq_len=128, median_ms=1.3, iqr_ms=0.0, tflops=0.8, timer="cuda_events")])
    both = compare(a, b)
    assert both["timer"].tolist() == ["cuda_events"]  # the journal without `timer` was timed with events
    assert both["verdict"].tolist() == ["regression"]  # 1.0 -> 1.3 ms; the graph time is not an improvement


def test_runs_timed_by_different_protocols_are_compared_with_a_note(tmp_path, capsys):
    a = write_rows(tmp_path / "a", [synthetic_row(seq_len=128, median_ms=1.0, iqr_ms=0.0, tflops=1.0)])  # before the column
    b = write_rows(tmp_path / "b", [synthetic_row(seq_len=128, median_ms=0.99, iqr_ms=0.0, tflops=1.0, protocol="adaptive")])
    assert main(["compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "Note: 1 of them were timed by different protocols (A fixed, B adaptive)" in out
    assert main(["compare", str(b), str(b)]) == 0
    assert "different protocols" not in capsys.readouterr().out


def test_burst_is_compared_with_burst_never_with_sustained(tmp_path):
    # sustained the same in both runs; the burst 20% slower in B: a burst regression, not a sustained one
    a = write_rows(tmp_path / "a", [synthetic_row(seq_len=128, median_ms=1.2, iqr_ms=0.001, tflops=1, burst_ms=1.0)])
    b = write_rows(tmp_path / "b", [synthetic_row(seq_len=128, median_ms=1.2, iqr_ms=0.001, tflops=1, burst_ms=1.2)])
    row = compare(a, b).iloc[0]
    assert (row["verdict"], row["burst_verdict"]) == ("same", "regression")
    assert row["time_ratio"] == 1.0 and row["burst_ratio"] == 1.2
