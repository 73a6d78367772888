"""The README's Content Credentials example runs as written, and its check prints Trusted
(STYLE.md habit 12: docs are tested)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.services.helpers_credentials import image_bytes

ROOT = Path(__file__).resolve().parents[2]


def _blocks() -> tuple[str, str]:
    readme = (ROOT / "README.md").read_text("utf-8")
    match = re.search(
        r"Content Credentials example:\n\n```sh\n(.*?)```.*?```python\n(.*?)```", readme, re.DOTALL
    )
    assert match, "README.md has no 'Content Credentials example:' shell and Python blocks"
    return match.group(1), match.group(2)


def test_readme_content_credentials_example_runs(tmp_path: Path) -> None:
    shell, python = _blocks()
    (tmp_path / "photo.png").write_bytes(image_bytes("image/png", seed=51))
    env = {k: v for k, v in os.environ.items() if not k.startswith("HALLMARK_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["HALLMARK_HOME"] = str(tmp_path / "instance")
    made = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", shell],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stdout + made.stderr
    assert (tmp_path / "photo.c2pa.png").is_file() and (tmp_path / "c2pa-root.pem").is_file()
    checked = subprocess.run(
        [sys.executable, "-c", python],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.strip() == "Trusted"
