"""methods/base.py Pipeline + api: sizes, colour preservation, masks, alpha, options — with a recording
test method so the shared behaviour is checked independently of any real method."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import assert_one_line_error, smooth_image
from painterly.nn.convert import to_pil, to_tensor
from painterly import api
from painterly import image as im
from painterly.errors import PainterlyError
from painterly.methods import METHODS
from painterly.methods.base import Method, Output, StyleSpec, build_config, normalised_weights, split_weight


@dataclasses.dataclass(frozen=True)
class _Cfg:
    gain: float = 1.0


class Recorder(Method):
    """Returns the content scaled by `gain`, recording what it was given."""

    name = "recorder"
    default_size = 40
    seen: list[dict[str, Any]] = []

    def configure(self, options: dict[str, Any]) -> None:
        self.config = build_config(_Cfg, _Cfg(), options, self.name)

    def prepare(self, styles: Any) -> Any:
        Recorder.seen.append({"prepare": [to_tensor(s.picture.rgb) for s in styles]})
        return styles

    def run(self, content: np.ndarray, prepared: Any, labels: im.Labels | None) -> Output:
        x = torch.from_numpy(content.copy())
        Recorder.seen.append({"content": x, "labels": labels})
        return Output(to_pil((x * self.config.gain).clamp(0, 1)), {"steps": 0})


@pytest.fixture(autouse=True)
def _register(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(METHODS, "recorder", f"{__name__}:Recorder")
    Recorder.seen = []


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    return {"content": smooth_image(tmp_path / "c.png", (80, 60), 1),
            "style": smooth_image(tmp_path / "s.png", (50, 50), 2),
            "style2": smooth_image(tmp_path / "s2.png", (30, 50), 3)}


def test_size_default_native_and_explicit(files: dict[str, Path]) -> None:
    assert api.stylize(files["content"], files["style"], "recorder").size == (40, 30)   # method default
    assert api.stylize(files["content"], files["style"], "recorder", size=0).size == (80, 60)  # native
    assert api.stylize(files["content"], files["style"], "recorder", size=64).size == (64, 48)


def test_styles_prepared_once_for_many_contents(files: dict[str, Path]) -> None:
    pipe = api.pipeline("recorder", [files["style"]])
    for _ in range(3):
        pipe(im.load_image(files["content"]))
    assert sum("prepare" in s for s in Recorder.seen) == 1


def test_luminance_preservation_keeps_content_chroma(files: dict[str, Path]) -> None:
    out = api.stylize(files["content"], files["style"], "recorder", preserve_color="luminance", gain=0.7, size=0)
    run = next(s for s in Recorder.seen if "content" in s)
    given = run["content"]
    assert torch.allclose(given[:, 0], given[:, 1]) and torch.allclose(given[:, 1], given[:, 2])  # grey in
    # the style the method saw is grey with the content's luminance mean/std
    st = next(s for s in Recorder.seen if "prepare" in s)["prepare"][0]
    c_y = torch.from_numpy(im.rgb_to(im.to_array(Image.open(files["content"]).convert("RGB"))))[:, 0]
    assert torch.allclose(st[:, 0], st[:, 2])
    assert abs(st[:, 0].mean().item() - c_y.mean().item()) < 0.01
    # output chroma (I, Q) equals the content's, luminance is the method's
    yo = torch.from_numpy(im.rgb_to(im.to_array(out)))
    yc = torch.from_numpy(im.rgb_to(im.to_array(Image.open(files["content"]).convert("RGB"))))
    inside = (to_tensor(out) > 2 / 255).all(1) & (to_tensor(out) < 253 / 255).all(1)  # not clipped
    assert (yo[:, 1:] - yc[:, 1:]).abs()[:, :, inside[0]].max() < 2.5 / 255
    assert (yo[:, 0] - 0.7 * yc[:, 0]).abs()[inside].max() < 2.5 / 255


def test_histogram_preservation_recolours_styles(files: dict[str, Path]) -> None:
    api.stylize(files["content"], files["style"], "recorder", preserve_color="histogram", size=0)
    st = next(s for s in Recorder.seen if "prepare" in s)["prepare"][0][0].reshape(3, -1).double()
    c = to_tensor(Image.open(files["content"]).convert("RGB"))[0].reshape(3, -1).double()
    assert torch.allclose(st.mean(1), c.mean(1), atol=0.02)
    assert np.allclose(np.cov(st.numpy()), np.cov(c.numpy()), atol=0.01)


def test_mask_labels_reach_the_method(files: dict[str, Path], tmp_path: Path) -> None:
    m = np.zeros((60, 80, 3), np.uint8)
    m[:, 40:] = 255
    Image.fromarray(m).save(tmp_path / "m.png")
    api.stylize(files["content"], [files["style"], files["style2"]], "recorder", mask=tmp_path / "m.png", size=40)
    labels = next(s for s in Recorder.seen if "content" in s)["labels"]
    assert labels.labels.shape == (30, 40) and labels.labels[0, 0] == 0 and labels.labels[0, 39] == 1
    with pytest.raises(PainterlyError, match="2 regions but only 1 style"):
        api.stylize(files["content"], files["style"], "recorder", mask=tmp_path / "m.png")


def test_alpha_survives(tmp_path: Path, files: dict[str, Path]) -> None:
    rgba = Image.open(files["content"]).convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(rgba.size))
    rgba.save(tmp_path / "a.png")
    out = api.stylize(tmp_path / "a.png", files["style"], "recorder", size=40)
    assert out.mode == "RGBA" and out.size == (40, 30)
    assert np.asarray(out)[..., 3].min() < 20 and np.asarray(out)[..., 3].max() > 230


def test_weights_and_options() -> None:
    assert split_weight("a.jpg:0.25") == ("a.jpg", 0.25)
    assert split_weight("a.jpg") == ("a.jpg", 1.0)
    assert split_weight("C:/x.jpg") == ("C:/x.jpg", 1.0)
    with pytest.raises(PainterlyError):
        split_weight("a.jpg:-1")
    specs = [StyleSpec("a", 3.0), StyleSpec("b", 1.0)]
    assert normalised_weights(specs) == [0.75, 0.25]
    with pytest.raises(PainterlyError):
        normalised_weights([StyleSpec("a", 0.0)])
    with pytest.raises(PainterlyError, match="--alpha does not apply to --method recorder.*--gain"):
        api.make_method("recorder", alpha=0.5)
    with pytest.raises(PainterlyError, match="--size must be"):
        api.make_method("recorder", size=-1)
    with pytest.raises(PainterlyError, match="unknown method"):
        api.make_method("picasso")


def test_expand_inputs(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    for n in ("b.png", "a.jpg", "notes.txt"):
        (tmp_path / "d" / n).write_bytes(b"x")
    assert [p.name for p in api.expand_inputs([tmp_path / "d"])] == ["a.jpg", "b.png"]
    assert [p.name for p in api.expand_inputs([str(tmp_path / "d" / "*.png")])] == ["b.png"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(PainterlyError, match="no image files"):
        api.expand_inputs([tmp_path / "empty"])
    with pytest.raises(PainterlyError, match="not found"):
        api.expand_inputs([tmp_path / "missing.jpg"])


# -- the CLI's shared behaviour, through the real entry point ------------------------------------------

class _Proc:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


@pytest.fixture
def _cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """Run painterly.cli.main in-process (the recorder method is registered only in this process)."""
    from painterly import cli

    def call(*args: Any) -> _Proc:
        monkeypatch.setattr("sys.argv", ["painterly", *map(str, args)])
        code = 0
        try:
            cli.main()
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        out = capsys.readouterr()
        return _Proc(code, out.out, out.err)

    return call


def test_cli_bad_inputs_leave_no_output(tmp_path: Path, files: dict[str, Path], _cli: Any) -> None:
    out = tmp_path / "out.png"
    cases = [
        (["missing.jpg", "-s", files["style"]], "not found"),
        ([files["content"], "-s", tmp_path / "nostyle.jpg"], "not found"),
        ([files["content"], "-s", files["style"], "--size", "-3"], "--size must be"),
        ([files["content"], "-s", files["style"], "--preserve-color", "sepia"], "--preserve-color"),
        ([files["content"], "-s", files["style"], "--alpha", "0.5"], "does not apply"),
    ]
    notimg = tmp_path / "fake.jpg"
    notimg.write_text("not an image")
    cases.append(([notimg, "-s", files["style"]], "not an image"))
    for args, needle in cases:
        proc = _cli("stylize", *args, "-m", "recorder", "-o", out)
        assert_one_line_error(proc, needle)
        assert not out.exists()
    proc = _cli("stylize", files["content"], "-s", files["style"], "-m", "recorder", "-o", tmp_path / "o.gif2")
    assert_one_line_error(proc, "unknown extension")


def test_cli_grid_sheet_and_json(tmp_path: Path, files: dict[str, Path], _cli: Any) -> None:
    import json

    (tmp_path / "styles").mkdir()
    Image.open(files["style"]).save(tmp_path / "styles" / "one.png")
    Image.open(files["style2"]).save(tmp_path / "styles" / "two.png")
    proc = _cli("stylize", files["content"], files["content"], "-s", tmp_path / "styles", "-m", "recorder",
                "-o", tmp_path / "res", "--sheet", tmp_path / "sheet.jpg", "--json", "-q")
    assert proc.returncode == 0, proc.stderr
    rep = json.loads(proc.stdout)
    assert len(rep) == 4 and {Path(r["output"]).name for r in rep} == {"c-one.png", "c-two.png"}
    assert all(r["method"] == "recorder" and r["size"] == [40, 30] for r in rep)
    assert Image.open(tmp_path / "sheet.jpg").size[0] > 2 * 256
