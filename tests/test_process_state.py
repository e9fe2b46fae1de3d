"""What the worker counts as left behind by a job, read in this process: a thread running code
counts, an idle pool's thread (torch.compile keeps one between jobs, by design) does not; a
replaced clock is named. (The child-process case needs a child: tests/test_worker_state.py.)"""
import concurrent.futures
import threading
import time

from jobs.process_state import busy_threads, clocks, replaced_clocks, threads


def test_a_running_thread_counts_and_an_idle_pool_thread_does_not():
    before, stop = threads(), threading.Event()
    pool = concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="idle-pool")
    pool.submit(sum, [1, 2]).result()
    spinner = threading.Thread(target=lambda: [None for _ in iter(stop.is_set, True)], name="spinner", daemon=True)
    spinner.start()
    time.sleep(0.05)
    try:
        assert busy_threads(before) == ["spinner"]
    finally:
        stop.set()
        spinner.join()
        pool.shutdown()
    assert busy_threads(before) == []


def test_a_replaced_clock_is_named(monkeypatch):
    start = clocks()
    assert replaced_clocks(start) == []
    monkeypatch.setattr(time, "monotonic", lambda: 0.0)
    assert replaced_clocks(start) == ["time.monotonic"]
