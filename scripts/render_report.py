"""Look at report.html as a person would: render it in headless Chromium (Debian's `chromium`),
take a screenshot, and check that the rendered page has its tables and its plots.

    python scripts/render_report.py RUN_DIR [OUT.png]
Exits 1 when a table or a plot is missing from the rendered page.
"""
from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

# Chromium as the workplace's probe runs it: no sandbox as root, no GPU, no network chatter.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars"]


def chromium(*args: str) -> str:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(["chromium", *FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=120, check=True).stdout


def main(run_dir: Path, png: Path) -> int:
    page = (run_dir / "report.html").resolve().as_uri()
    dom = chromium("--dump-dom", page)
    tables = len(re.findall(r"<table", dom))
    plots = len(re.findall(r'<img[^>]+src="data:image/png;base64,', dom))
    chromium(f"--screenshot={png.resolve()}", "--window-size=1400,2600", page)
    print(f"rendered {page}: {tables} tables, {plots} embedded plots; screenshot {png} ({png.stat().st_size} bytes)")
    expected_plots = len(list((run_dir / "plots").glob("*.png")))
    return 0 if tables > 0 and plots == expected_plots and png.stat().st_size > 10_000 else 1


if __name__ == "__main__":
    run = Path(sys.argv[1])
    sys.exit(main(run, Path(sys.argv[2]) if len(sys.argv) > 2 else run / "report.png"))
