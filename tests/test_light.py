"""The light core: what works without torch, that start-up never imports it, and the one-line error a torch
method gives where torch is missing. CI also runs this file in a venv made with plain `pip install -e .`
(PAINTERLY_LIGHT_ONLY=1), where torch really is absent; elsewhere its absence is simulated in a child
process (``sys.modules['torch'] = None`` makes both ``import torch`` and ``find_spec('torch')`` fail)."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import EXAMPLES, ROOT, assert_one_line_error, noise_image

LIGHT_ONLY = os.environ.get("PAINTERLY_LIGHT_ONLY") == "1"

# Runs the real CLI entry point in a child, optionally with torch made unimportable first, then reports
# whether torch was imported along the way (on stdout's last line, after the command's own output).
_CHILD = """
import sys
if {block}:
    sys.modules["torch"] = None
from painterly.cli import main
sys.argv = ["painterly", *{args!r}]
code = 0
try:
    main()
except SystemExit as exc:
    code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
sys.stdout.flush()
print("\\nTORCH_LOADED=" + str(sys.modules.get("torch") is not None), flush=True)
sys.exit(code)
"""


def run_child(*args: str, block_torch: bool = False) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    code = _CHILD.format(block=block_torch, args=[str(a) for a in args])
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)


def torch_loaded(proc: subprocess.CompletedProcess[str]) -> bool:
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("TORCH_LOADED="), proc.stdout
    return last.endswith("True")


def test_light_venv_really_has_no_torch() -> None:
    if not LIGHT_ONLY:
        pytest.skip("only meaningful in CI's torch-free venv")
    assert importlib.util.find_spec("torch") is None, "the light install pulled torch in"


@pytest.mark.parametrize("args", [("--help",), ("styles",), ("weights", "list"), ("stylize", "--help")])
def test_start_up_commands_never_import_torch(args: tuple[str, ...]) -> None:
    proc = run_child(*args)
    assert proc.returncode == 0, proc.stderr
    assert not torch_loaded(proc), f"`painterly {' '.join(args)}` imported torch"


def test_fast_stylize_runs_without_torch(tmp_path: Path) -> None:
    out = tmp_path / "o.png"
    proc = run_child("stylize", str(EXAMPLES / "chelsea.jpg"), "--style", "7", "--size", "64", "-o", str(out),
                     block_torch=True)
    assert proc.returncode == 0, proc.stderr
    assert not torch_loaded(proc)
    from PIL import Image

    with Image.open(out) as im:
        assert max(im.size) == 64


def test_fast_folder_with_a_style_image_runs_without_torch(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    for i in range(2):
        noise_image(src / f"c{i}.png", (40, 32), seed=i)
    proc = run_child("stylize", str(src), "--style", str(EXAMPLES / "brick.jpg"), "-o", str(tmp_path / "out"),
                     block_torch=True)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["c0.png", "c1.png", "manifest.jsonl"]


@pytest.mark.parametrize("method", ["gatys", "adain", "sanet"])
def test_torch_method_without_torch_is_one_line_before_weights(method: str, tmp_path: Path) -> None:
    out = tmp_path / "o.png"
    proc = run_child("stylize", str(EXAMPLES / "chelsea.jpg"), "--style", str(EXAMPLES / "brick.jpg"),
                     "-m", method, "-o", str(out), block_torch=True)
    # the error names the install command and not the (also missing) weights: torch is checked first
    assert_one_line_error(proc, 'pip install "painterly[torch]"')
    assert "weights" not in proc.stderr
    assert proc.returncode == 2 and not out.exists()


@pytest.mark.parametrize("args", [
    ("train", "adain", "--content-dir", ".", "--style-dir", ".", "--out", "RUN"),
    ("train", "pix2pix", "--data", ".", "--out", "RUN"),
    ("translate", str(EXAMPLES / "chelsea.jpg"), "--checkpoint", "x.pt", "-o", "OUT.png"),
    ("export", "onnx", "--method", "adain", "-o", "OUT.onnx"),
])
def test_other_torch_commands_without_torch(args: tuple[str, ...], tmp_path: Path) -> None:
    args = tuple(str(tmp_path / a) if a in ("RUN", "OUT.png", "OUT.onnx") else a for a in args)
    proc = run_child(*args, block_torch=True)
    assert_one_line_error(proc, 'pip install "painterly[torch]"')
    assert proc.returncode == 2
    assert not any(tmp_path.iterdir())


def test_weights_import_without_torch_checks_the_checksum_only(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Without torch the hub still stores a file whose sha256 is the published one (layout unchecked) and
    refuses one that differs; in-process, with the checker hooks emptied as a torch-free install has them."""
    from painterly import hub

    monkeypatch.setattr(hub, "_CHECKER", [])
    monkeypatch.setattr(hub, "torch_available", lambda: False)
    good = tmp_path / "decoder.pth"
    good.write_bytes(os.urandom(256))
    e = hub.REGISTRY["adain-decoder"]
    monkeypatch.setitem(hub.REGISTRY, "adain-decoder",
                        hub.Entry(**{**e.__dict__, "sha256": hashlib.sha256(good.read_bytes()).hexdigest()}))
    rep = hub.import_file("adain-decoder", good)
    assert rep.verified and "layout not checked" in rep.note
    assert hub.path("adain-decoder").read_bytes() == good.read_bytes()
    bad = tmp_path / "other.pth"
    bad.write_bytes(os.urandom(256))
    hub.path("adain-decoder").unlink()
    with pytest.raises(Exception, match="differs from the published"):
        hub.import_file("adain-decoder", bad)
    with pytest.raises(Exception, match="cannot be checked without torch"):
        hub.import_file("adain-decoder", bad, verify=False)
    assert not hub.path("adain-decoder").exists()

