"""The layers point one way: base/ under jobs/, analysis/ and orchestrator/; jobs/ (torch) and
analysis/ (pandas) never import each other or orchestrator/; only orchestrator/ imports Ray.
`--help`, `report` and `compare` load neither torch nor Ray, and a bad config is refused before Ray
loads. Checked on the real modules: their import statements, and sys.modules of real CLI processes."""
import ast
import subprocess
import sys

import pytest

from tests.conftest import ROOT, synthetic_row, write_run

HEAVY = ("torch", "ray")
# what the CLI process imported, printed from inside it at exit
PROBE = ("import atexit, sys; atexit.register(lambda: print('MODULES', *sorted({m.split('.')[0] for m in sys.modules}), "
         "file=sys.stderr)); from orchestrator.cli import main; sys.exit(main(sys.argv[1:]))")


def imported_packages(folder: str) -> dict[str, set[str]]:
    """file -> top-level packages its import statements name (anywhere in the file)."""
    found = {}
    for path in (ROOT / folder).glob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
        found[path.name] = names
    return found


@pytest.mark.parametrize("folder,forbidden", [("base", {"torch", "ray", "jobs", "orchestrator", "analysis", "pandas"}),
                                              ("jobs", {"ray", "orchestrator", "analysis", "pandas"}),
                                              ("analysis", {"torch", "ray", "orchestrator", "jobs"})])
def test_a_layer_imports_nothing_above_it(folder, forbidden):
    """orchestrator/ is the top: the three others must not import it, nor each other upward."""
    bad = {f: names & forbidden for f, names in imported_packages(folder).items() if names & forbidden}
    assert not bad, bad


def cli_modules(*args: str) -> tuple[subprocess.CompletedProcess, set[str]]:
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, cwd=ROOT, timeout=120)
    line = next(line for line in proc.stderr.splitlines() if line.startswith("MODULES"))
    return proc, set(line.split()[1:])


def two_runs(tmp_path):
    rows = [synthetic_row(job_id=str(s), seq_len=s, median_ms=1.0, iqr_ms=0.0, tflops=1.0) for s in (1, 2)]
    return write_run(tmp_path / "a", rows), write_run(tmp_path / "b", rows)


@pytest.mark.integration
@pytest.mark.parametrize("command", ["help", "report", "compare", "compare --help", "run --help"])
def test_commands_that_read_runs_load_neither_torch_nor_ray(command, tmp_path):
    a, b = two_runs(tmp_path)
    args = {"help": ["--help"], "report": ["report", str(a)], "compare": ["compare", str(a), str(b)]}.get(
        command, command.split())
    proc, modules = cli_modules(*args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert not modules & set(HEAVY), modules & set(HEAVY)


@pytest.mark.integration
def test_a_bad_config_is_refused_before_ray_loads(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("sweeps: [{name: s, grid: {batch: [0], heads: [1], seq_len: [1], head_dim: [1], "
                      "dtype: [float16], backend: [math]}}]\n")
    proc, modules = cli_modules("run", "-c", str(config), "-o", str(tmp_path / "run"))
    assert proc.returncode == 2 and "batch[0]: 0 is not allowed" in proc.stderr
    assert "ray" not in modules  # the config's jobs import torch; nothing has started
