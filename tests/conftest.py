"""Shared fixtures: an isolated weights cache, the shared data folder, CLI runner, checkpoint makers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable
from typing import Any
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
EXAMPLES = ROOT / "examples"


@pytest.fixture(autouse=True)
def painterly_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets an empty weights cache; nothing ever touches ~/.cache or the network."""
    home = tmp_path_factory.mktemp("painterly_home")
    monkeypatch.setenv("PAINTERLY_HOME", str(home))
    return home


@pytest.fixture
def shared_data() -> Path:
    """../shared/data (real photos, paintings, facades); tests using it skip cleanly when it is absent."""
    if not SHARED.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (for test servers)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 600,
            input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m painterly ARGS`` in a subprocess (the real entry point, real exit codes)."""
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + e.get("PYTHONPATH", "")
    e.setdefault("PYTHONUNBUFFERED", "1")
    if env:
        e.update(env)
    return subprocess.run([sys.executable, "-m", "painterly", *map(str, args)], capture_output=True,
                          text=True, env=e, timeout=timeout, input=input)


@pytest.fixture
def cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    return run_cli


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    """Exit code != 0, stderr is a single 'error: …' line (no traceback) containing every needle."""
    assert proc.returncode != 0, proc.stdout + proc.stderr
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    for n in needles:
        assert n in lines[0], (n, lines[0])


def noise_image(path: Path, size: tuple[int, int] = (48, 32), seed: int = 0, mode: str = "RGB") -> Path:
    """A small random RGB image saved to ``path`` (format by extension)."""
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(arr, "RGB").convert(mode).save(path)
    return path


def smooth_image(path: Path, size: tuple[int, int] = (48, 32), seed: int = 0) -> Path:
    """A small smooth colourful image (gradients + blobs): more photo-like than noise."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w] / max(w, h)
    chans = []
    for _ in range(3):
        a, b, c = rng.uniform(-3, 3, 3)
        chans.append(0.5 + 0.5 * np.sin(a * xx * 6 + b * yy * 6 + c))
    arr = (np.stack(chans, -1) * 255).astype(np.uint8)
    Image.fromarray(arr, "RGB").save(path)
    return path


def random_state_dict(layout: dict[str, tuple[int, ...]], seed: int = 0, std: float | None = None
                      ) -> dict[str, Any]:
    """Random tensors in a given {key: shape} layout (He-scaled for conv weights so activations stay sane)."""
    import torch  # lazily: the light-core tests run in a venv without torch

    g = torch.Generator().manual_seed(seed)
    out = {}
    for k, shape in layout.items():
        if len(shape) > 1:
            fan_in = int(np.prod(shape[1:]))
            s = std if std is not None else (2.0 / fan_in) ** 0.5
            out[k] = torch.randn(shape, generator=g) * s
        else:
            out[k] = torch.randn(shape, generator=g) * 0.01
    return out


@pytest.fixture
def random_vgg_file(tmp_path: Path) -> Callable[[str], Path]:
    """Write a random-weight checkpoint in a published VGG layout ('torchvision', 'caffe', 'normalised')."""
    import torch

    from painterly.nn.vgg import normalised_layout, torchvision_layout

    def make(convention: str, seed: int = 0, with_classifier: bool = False) -> Path:
        layout = normalised_layout() if convention == "normalised" else torchvision_layout()
        sd = random_state_dict(layout, seed)
        if convention == "caffe":
            # Caffe weights expect 0-255 BGR input: scale the first layer down so activations stay sane
            sd["features.0.weight"] = sd["features.0.weight"] / 255.0
        if convention == "normalised":
            sd["0.weight"] = torch.eye(3).reshape(3, 3, 1, 1).clone()
            sd["0.bias"] = torch.zeros(3)
        if with_classifier:
            sd["classifier.0.weight"] = torch.randn(8, 8)
            sd["classifier.0.bias"] = torch.randn(8)
        p = tmp_path / f"vgg-{convention}-{seed}.pth"
        torch.save(sd, p)
        return p

    return make
