"""benchmarks/device_check.py --smoke runs on the CPU (CI) and prints every row of the GPU check's table."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

ROWS = [("fast", "64²"), ("gatys", "64 px"), ("adain", "64²"), ("adain", "96²"), ("adain", "64² video"),
        ("sanet", "64²"), ("sanet", "96²"), ("sanet", "64² video"), ("pix2pix train", "256² b1"),
        ("pix2pix train", "256² b2"), ("fast cuda vs cpu", "48²"), ("adain cuda vs cpu", "48²"),
        ("sanet cuda vs cpu", "48²"), ("gatys cuda vs cpu", "48²")]


def test_device_check_smoke_prints_the_table(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), CUDA_VISIBLE_DEVICES="", OMP_NUM_THREADS="2")
    out = tmp_path / "rows.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "device_check.py"), "--smoke", "--json",
                           str(out)], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = proc.stdout
    assert re.search(r"^CPU: \S", text, re.M) and re.search(r"^GPU: none", text, re.M)
    lines = text.splitlines()
    for name, size in ROWS:
        assert any(ln.startswith(f"{name:<20} {size:<14}") for ln in lines), (name, size, text)
    rows = json.loads(out.read_text())["rows"]
    assert [(r["name"], r["size"]) for r in rows] == ROWS
    timed = [r for r in rows if "cuda vs cpu" not in r["name"]]
    assert all(r["seconds"] and r["seconds"] > 0 for r in timed), timed
    assert all(re.search(r"[\d.]+ (img|frames|it|steps)/s", r["rate"]) for r in timed)
    # same device twice must agree exactly (the CUDA run prints the real CUDA-vs-CPU difference here)
    for r in rows:
        if "cuda vs cpu" in r["name"]:
            m = re.search(r"max \|diff\| ([\d.]+)", r["note"])
            assert m and float(m.group(1)) == 0.0, r
