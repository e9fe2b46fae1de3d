"""What the worker counts as left behind by a job, read in this process: a thread running code
counts, an idle pool's thread (torch.compile keeps one between jobs, by design) does not; a
replaced clock is named. (The child-process case needs a child: tests/test_worker_state.py.)
torch.compile's pool of compile workers, a real one: its reader thread and its child are kept."""
import concurrent.futures
import threading
import time

import pytest

from jobs.process_state import busy_threads, children, clocks, new_children, replaced_clocks, threads


def spin(stop: list) -> None:
    n = 0
    while not stop:
        n += 1


def test_a_running_thread_counts_and_an_idle_pool_thread_does_not():
    before, stop = threads(), []
    pool = concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="idle-pool")
    pool.submit(sum, [1, 2]).result()
    # spins in this file's code: a loop on threading.Event.is_set would be seen inside threading.py
    spinner = threading.Thread(target=spin, args=(stop,), name="spinner", daemon=True)
    spinner.start()
    time.sleep(0.05)
    try:
        assert busy_threads(before) == ["spinner"]
    finally:
        stop.append(True)
        spinner.join()
        pool.shutdown()
    assert busy_threads(before) == []


@pytest.mark.integration  # the pool is a subprocess
def test_torch_compile_s_pool_of_compile_workers_is_not_left_behind():
    from torch._inductor.compile_worker.subproc_pool import SubprocPool

    before, kids = threads(), set(children())
    pool = SubprocPool(1)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(t.name == "InductorSubproc" for t in threading.enumerate()):
            time.sleep(0.1)
        time.sleep(1)  # its reader is blocked on the pipe by now
        assert "InductorSubproc" in {t.name for t in threading.enumerate()}
        assert set(children()) - kids  # a real child process runs
        assert busy_threads(before) == [] and new_children(kids) == {}
    finally:
        pool.shutdown()


def test_a_replaced_clock_is_named(monkeypatch):
    start = clocks()
    assert replaced_clocks(start) == []
    monkeypatch.setattr(time, "monotonic", lambda: 0.0)
    assert replaced_clocks(start) == ["time.monotonic"]
