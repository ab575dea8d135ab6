"""Resumable, shardable folder jobs (painterly.batch + ``painterly stylize DIR -o OUT``): skip what is done,
a manifest per output, bad inputs recorded and skipped, kill -9 then resume, torchrun sharding on CPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, free_port, noise_image, run_cli
from painterly import batch as B

FAST = ("--method", "fast", "--size", "32", "-q")


def _inputs(folder: Path, n: int, corrupt: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        noise_image(folder / f"img{i:02d}.png", (40, 28), seed=i)
    if corrupt:
        (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not a png")
    return folder


def _styles(folder: Path) -> list[str]:
    """Two style image files (a grid's styles are files: contents x styles)."""
    folder.mkdir(parents=True, exist_ok=True)
    return ["--style", str(noise_image(folder / "sa.png", (24, 24), seed=20)), "--pairs",
            "--style", str(noise_image(folder / "sb.png", (24, 24), seed=21))]


def _rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]


def _outputs(folder: Path) -> list[Path]:
    """Final output files (pathlib's glob also matches the hidden ``.name.*.part.png`` temporaries)."""
    return sorted(p for p in folder.glob("*.png") if not p.name.startswith("."))


def _pixels(folder: Path) -> dict[str, np.ndarray]:
    return {p.name: np.asarray(Image.open(p)) for p in _outputs(folder)}


# ----------------------------------------------------------------------------------------------------
# the helpers on their own
# ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [0, 1, 7, 10])
@pytest.mark.parametrize("world", [1, 2, 3, 4])
def test_shard_covers_every_item_exactly_once(n: int, world: int) -> None:
    items = [f"f{i}" for i in range(n)]
    shares = [B.shard(items, r, world) for r in range(world)]
    flat = [x for s in shares for x in s]
    assert sorted(flat) == sorted(items) and len(flat) == n
    assert max(map(len, shares)) - min(map(len, shares)) <= 1  # balanced
    assert shares == [B.shard(items, r, world) for r in range(world)]  # deterministic
    with pytest.raises(ValueError):
        B.shard(items, world, world)


def test_options_hash_ignores_run_only_options() -> None:
    base = {"method": "fast", "size": 32, "styles": ["3"]}
    h = B.options_hash(base)
    assert B.options_hash({**base, "device": "cuda", "progress": False, "allow_large": True}) == h
    assert B.options_hash({**base, "size": 64}) != h
    assert B.options_hash({**base, "styles": ["4"]}) != h
    assert B.options_hash(dict(reversed(list(base.items())))) == h  # key order is not part of it


def test_manifest_latest_line_wins_torn_line_ignored_and_merge(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.png").write_bytes(b"x")
    (out / "b.png").write_bytes(b"x")
    (out / "manifest.jsonl").write_text(
        json.dumps({"output": "a.png", "status": "error", "options_hash": "h"}) + "\n"
        + json.dumps({"output": "b.png", "status": "ok", "options_hash": "h"}) + "\n")
    # a killed rank's part: a later line for a.png, then a torn line
    (out / "manifest.rank1.jsonl").write_text(
        json.dumps({"output": "a.png", "status": "ok", "options_hash": "h"}) + "\n" + '{"output": "c.p')
    m = B.Manifest(out)
    rec = m.load()
    assert set(rec) == {"a.png", "b.png"}
    assert m.is_done(rec, out / "a.png", "h") and m.is_done(rec, out / "b.png", "h")
    assert not m.is_done(rec, out / "b.png", "other-hash")
    (out / "b.png").unlink()
    assert not m.is_done(rec, out / "b.png", "h")  # the record alone is not enough
    m.merge()
    assert not list(out.glob("manifest.rank*.jsonl"))
    assert [r["output"] for r in _rows(out)] == ["b.png", "a.png"] and _rows(out)[1]["status"] == "ok"


def test_pin_gpu_one_device_per_local_rank() -> None:
    d = B.Dist(rank=3, world=4, local_rank=1, local_world=2)
    env: dict[str, str] = {}
    d.pin_gpu("auto", env)
    assert env["CUDA_VISIBLE_DEVICES"] == "1"
    env = {"CUDA_VISIBLE_DEVICES": "4,5"}
    d.pin_gpu("cuda", env)
    assert env["CUDA_VISIBLE_DEVICES"] == "5"
    env = {}
    d.pin_gpu("cpu", env)
    B.Dist().pin_gpu("auto", env)  # a plain run, or one process per node, sees every GPU
    assert env == {}
    assert B.Dist.from_env({"WORLD_SIZE": "4", "RANK": "3", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"}) == d


# ----------------------------------------------------------------------------------------------------
# the CLI: skip, redo, bad inputs
# ----------------------------------------------------------------------------------------------------

def test_bad_input_recorded_others_written_then_resume_skips(tmp_path: Path) -> None:
    src, out = _inputs(tmp_path / "in", 3, corrupt=True), tmp_path / "out"
    proc = run_cli("stylize", src, "--style", "3", *FAST, "-o", out)
    assert proc.returncode == 1, proc.stderr  # some inputs failed
    assert "broken.png" in proc.stderr and "Traceback" not in proc.stderr
    assert [p.name for p in _outputs(out)] == ["img00.png", "img01.png", "img02.png"]
    rows = {r["output"]: r for r in _rows(out)}
    assert rows["broken.png"]["status"] == "error" and "broken.png" in rows["broken.png"]["error"]
    assert rows["broken.png"]["input"].endswith("broken.png")
    for name in ("img00.png", "img01.png", "img02.png"):
        r = rows[name]
        assert r["status"] == "ok" and r["style"] == ["3"] and r["input"].endswith(name)
        assert isinstance(r["seconds"], float) and len(r["options_hash"]) == 16
    stamps = {p.name: p.stat().st_mtime_ns for p in _outputs(out)}

    # same options: nothing is rewritten, the bad one is retried (and fails again)
    again = run_cli("stylize", src, "--style", "3", *FAST, "-o", out)
    assert again.returncode == 1 and "3 skipped" in again.stderr, again.stderr
    assert {p.name: p.stat().st_mtime_ns for p in _outputs(out)} == stamps
    assert len(_rows(out)) == 4  # merged: one line per output

    # fix the bad input: only it runs, exit 0
    noise_image(src / "broken.png", (40, 28), seed=9)
    fixed = run_cli("stylize", src, "--style", "3", *FAST, "-o", out)
    assert fixed.returncode == 0, fixed.stderr
    assert {p.name: p.stat().st_mtime_ns for p in _outputs(out) if p.name != "broken.png"} == stamps
    assert (out / "broken.png").is_file()
    assert all(r["status"] == "ok" for r in _rows(out)) and len(_rows(out)) == 4


def test_other_options_or_overwrite_redo(tmp_path: Path) -> None:
    src, out = _inputs(tmp_path / "in", 2), tmp_path / "out"
    assert run_cli("stylize", src, "--style", "3", *FAST, "-o", out).returncode == 0
    h1 = {r["output"]: r["options_hash"] for r in _rows(out)}
    bigger = run_cli("stylize", src, "--style", "3", "--method", "fast", "--size", "40", "-q", "-o", out)
    assert bigger.returncode == 0 and "skipped" not in bigger.stderr
    assert all(Image.open(p).size[0] == 40 for p in _outputs(out))
    h2 = {r["output"]: r["options_hash"] for r in _rows(out)}
    assert h1.keys() == h2.keys() and all(h1[k] != h2[k] for k in h1)
    stamps = {p.name: p.stat().st_mtime_ns for p in _outputs(out)}
    redo = run_cli("stylize", src, "--style", "3", "--method", "fast", "--size", "40", "-q", "--overwrite",
                   "-o", out)
    assert redo.returncode == 0 and "skipped" not in redo.stderr
    assert all(p.stat().st_mtime_ns != stamps[p.name] for p in _outputs(out))


# Runs the real CLI in a child whose save_image, on its 3rd call, writes half an image to the temporary
# file beside the target and then SIGKILLs its own process: a kill -9 in the middle of a write.
_KILL_CHILD = """
import os, signal, sys
import painterly.image as im
real, calls = im.save_image, [0]
def save_then_die(img, path, alpha=None, **kw):
    calls[0] += 1
    if calls[0] == 3:
        from pathlib import Path
        p = Path(path)
        tmp = p.parent / f".{p.stem}.killed.part{p.suffix}"
        real(img, tmp)
        tmp.write_bytes(tmp.read_bytes()[: tmp.stat().st_size // 2])
        os.kill(os.getpid(), signal.SIGKILL)
    return real(img, path, alpha, **kw)
im.save_image = save_then_die
from painterly.cli import main
sys.argv = ["painterly", *sys.argv[1:]]
main()
"""


def test_kill_9_midway_then_resume_equals_uninterrupted(tmp_path: Path) -> None:
    src = _inputs(tmp_path / "in", 6)
    ref, out = tmp_path / "ref", tmp_path / "out"
    args = ["stylize", str(src), *_styles(tmp_path / "styles"), *FAST]
    assert run_cli(*args, "-o", ref).returncode == 0
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    killed = subprocess.run([sys.executable, "-c", _KILL_CHILD, *args, "-o", str(out)], env=env,
                            capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9, killed.stderr
    assert len(_outputs(out)) == 2 and list(out.glob(".*.part.png"))  # midway, a torn temp file
    assert len(_rows(out)) == 2

    resumed = run_cli(*args, "-o", out)
    assert resumed.returncode == 0 and "2 skipped" in resumed.stderr, resumed.stderr
    assert not list(out.glob(".*part*"))  # the dead writer's temp file was cleared
    rows = _rows(out)
    assert sorted(r["output"] for r in rows) == [p.name for p in _outputs(ref)]  # once each
    assert all(r["status"] == "ok" for r in rows) and len(rows) == 12
    got, want = _pixels(out), _pixels(ref)
    assert got.keys() == want.keys()
    for k in want:
        np.testing.assert_array_equal(got[k], want[k], err_msg=k)


# ----------------------------------------------------------------------------------------------------
# torchrun
# ----------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_torchrun_two_ranks_cover_every_output_exactly_once(tmp_path: Path) -> None:
    src = _inputs(tmp_path / "in", 5, corrupt=True)
    ref, out = tmp_path / "ref", tmp_path / "out"
    args = ["stylize", str(src), *_styles(tmp_path / "styles"), *FAST]
    assert run_cli(*args, "-o", ref).returncode == 1
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node",
                           "2", "--master_port", str(free_port()), "-m", "painterly", *args, "-o", str(out)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr  # the broken input, reported by rank 0
    assert not list(out.glob("manifest.rank*.jsonl"))  # merged by rank 0
    rows = _rows(out)
    names = [r["output"] for r in rows]
    assert len(names) == len(set(names)) == 12  # 6 inputs x 2 styles, once each
    assert {r["rank"] for r in rows} == {0, 1}
    ok = sorted(r["output"] for r in rows if r["status"] == "ok")
    assert ok == [p.name for p in _outputs(ref)]
    assert sorted(r["output"] for r in rows if r["status"] == "error") == ["broken-sa.png", "broken-sb.png"]
    got, want = _pixels(out), _pixels(ref)
    for k in want:
        np.testing.assert_array_equal(got[k], want[k], err_msg=k)
    # the split follows the sorted output list: rank r has every 2nd name from r
    order = sorted(names)
    assert all(r["rank"] == order.index(r["output"]) % 2 for r in rows)


def test_batch_without_torch(tmp_path: Path) -> None:
    """The light install (no torch) runs a fast folder job, manifest and all, and never imports torch."""
    from test_light import run_child, torch_loaded

    src, out = _inputs(tmp_path / "in", 2, corrupt=True), tmp_path / "out"
    proc = run_child("stylize", str(src), "--style", "3", *FAST, "-o", str(out), block_torch=True)
    assert proc.returncode == 1, proc.stderr
    assert not torch_loaded(proc)
    assert sorted(r["status"] for r in _rows(out)) == ["error", "ok", "ok"]
