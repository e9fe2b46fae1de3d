"""Error text is cut at its source: a row's error keeps its head and its tail and says how much
was cut between them, so one job's huge exception never costs the run its journal."""
from base.schema import MAX_ERROR_CHARS, clip
from orchestrator.worker import failure_text


def test_clip_keeps_head_and_tail_within_the_limit_and_says_so():
    text = "HEAD" + "x" * 100_000 + "TAIL"
    cut = clip(text, 1000)
    assert len(cut) <= 1000 and cut.startswith("HEAD") and cut.endswith("TAIL")
    kept = cut.replace("x", "")
    assert kept.startswith("HEAD\n[... ") and kept.endswith(" characters cut ...]\nTAIL")
    said = int(cut.split("[... ")[1].split(" ")[0])
    assert said + cut.count("x") == 100_000  # what it says was cut is what was cut
    assert clip("short", 1000) == "short"


def test_failure_text_of_a_huge_message_keeps_the_frames():
    def kernel():
        raise ValueError("m" * 2_000_000)
    try:
        kernel()
    except ValueError as err:
        text = failure_text(err)
    assert len(text) <= MAX_ERROR_CHARS and text.startswith("ValueError: mmm")
    assert "in kernel" in text and text.count("characters cut") == 2  # the message, and its line in the traceback
