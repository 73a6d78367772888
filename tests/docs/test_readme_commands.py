"""The README's command-line example runs as written (STYLE.md habit 12: docs are tested)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _example_block() -> str:
    readme = (ROOT / "README.md").read_text("utf-8")
    match = re.search(r"Example:\n\n```sh\n(.*?)```", readme, re.DOTALL)
    assert match, "README.md has no 'Example:' shell block"
    return match.group(1)


def test_readme_example_runs(tmp_path: Path) -> None:
    (tmp_path / "poem.txt").write_text("Salt on the window,\nthe harbour still asleep.\n")
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["HALLMARK_HOME"] = str(tmp_path / "instance")
    env.pop("HALLMARK_DATABASE_URL", None)
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", _example_block()],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "poem.txt.hallmark.json").exists()
    assert "VALID" in result.stdout
