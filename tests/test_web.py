"""The web UI through Gradio's own client against a real in-process server on a free port: stylise with
the fast method, bad uploads and unavailable methods come back as one-line messages, limits hold."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import assert_one_line_error, free_port, noise_image, smooth_image

gr = pytest.importorskip("gradio")
gradio_client = pytest.importorskip("gradio_client")

from painterly.nn.convert import to_pil, to_tensor
from painterly import hub, web
from painterly import image as im
from painterly.errors import PainterlyError
from painterly.methods import METHODS
from painterly.methods.base import Method, Output

MAX_UPLOAD_MB = 0.1       # small limits so "too large" needs no large test file
MAX_MEGAPIXELS = 0.05


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[gr.Blocks, str]]:
    # the module-wide server renders its thumbnails into its own cache, never ~/.cache, and offers a
    # method that needs weights the (empty) test cache does not have
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PAINTERLY_HOME", str(tmp_path_factory.mktemp("web_home")))
        mp.setitem(METHODS, "needsweights", f"{__name__}:NeedsWeights")
        cfg = web.ServeConfig(port=free_port(), max_upload_mb=MAX_UPLOAD_MB, max_megapixels=MAX_MEGAPIXELS,
                              max_size=256, queue_size=3)
        demo = web.launch(cfg, block=False)
        try:
            yield demo, f"http://127.0.0.1:{cfg.port}/"
        finally:
            demo.close()


@pytest.fixture(scope="module")
def client(server: tuple[gr.Blocks, str]) -> Any:
    return gradio_client.Client(server[1], verbose=False, download_files=True)


def settings(method: str = "fast", style_from: str = web.BUILTIN, builtins: list[str | None] | None = None,
             styles: list[Path | None] | None = None, weights: list[float] | None = None, strength: float = 1.0,
             stroke: float = 1.0, size: int = 64, preserve: str = "off", steps: int = 0) -> list[Any]:
    """The page's settings column in page order (what every tab sends), for gradio_client."""
    h = gradio_client.handle_file

    def pad(xs: list[Any] | None, fill: Any) -> list[Any]:
        xs = list(xs or [])
        return xs + [fill] * (web.MAX_STYLES - len(xs))

    return [method, style_from, *pad(builtins, None), *[h(str(p)) if p else None for p in pad(styles, None)],
            *pad(weights, 1.0), strength, stroke, size, preserve, steps]


def predict(client: Any, content: Path | None, method: str = "fast", style_from: str = web.BUILTIN,
            builtin: str | None = None, style: Path | None = None, strength: float = 1.0, size: int = 64,
            preserve: str = "off", steps: int = 0, *, regions: dict[str, Any] | None = None,
            **more: Any) -> tuple[str, str]:
    h = gradio_client.handle_file
    more.setdefault("builtins", [builtin])
    more.setdefault("styles", [style])
    return client.predict(h(str(content)) if content else None, regions,
                          *settings(method, style_from, strength=strength, size=size, preserve=preserve,
                                    steps=steps, **more),
                          api_name="/stylize")


def app_error(client: Any, *args: Any, **kw: Any) -> str:
    with pytest.raises(gradio_client.exceptions.AppError) as ei:
        predict(client, *args, **kw)
    msg = str(ei.value)
    assert "Traceback" not in msg and "\n" not in msg.strip(), msg
    return msg


class NeedsWeights(Method):
    """A method that needs a published checkpoint (so it is unavailable in the empty test cache)."""

    name = "needsweights"
    weights = ("vgg19",)

    def configure(self, options: dict[str, Any]) -> None:
        pass

    def run(self, content: np.ndarray, prepared: Any, labels: im.Labels | None) -> Output:
        raise AssertionError("must not run without its weights")


class Counting(Method):
    """Reports 4 progress steps and returns the content inverted."""

    name = "counting"

    def configure(self, options: dict[str, Any]) -> None:
        pass

    def run(self, content: np.ndarray, prepared: Any, labels: im.Labels | None) -> Output:
        for i in range(4):
            self.report(i + 1, 4, {"loss": 10.0 - i})
        return Output(im.from_array(1 - content))


# ----------------------------------------------------------------------------------------------------
# through the HTTP API
# ----------------------------------------------------------------------------------------------------

def test_server_is_local_queued_and_silent(server: tuple[gr.Blocks, str]) -> None:
    demo, url = server
    assert url.startswith("http://127.0.0.1:")
    assert demo.server_name == "127.0.0.1" and demo.share is False
    assert demo._queue.max_size == 3                      # bounded queue
    assert demo.max_file_size == int(MAX_UPLOAD_MB * 1024 * 1024)
    assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False" and demo.analytics_enabled is False


def test_stylize_fast_builtin_style(client: Any, tmp_path: Path) -> None:
    content = smooth_image(tmp_path / "photo.png", (90, 60), 1)
    names = web.builtin_styles()
    assert len(names) == 26
    out, report = predict(client, content, builtin=names[3], size=96)
    img = Image.open(out)
    assert img.size == (96, 64)
    assert "fast" in report and names[3] in report and "96×64" in report
    # the page gives exactly what the API gives for the same settings (PNG: lossless)
    from painterly import api

    want = api.stylize(content, names[3], method="fast", size=96, progress=False)
    diff = np.abs(np.asarray(img.convert("RGB"), np.int16) - np.asarray(want.convert("RGB"), np.int16))
    assert diff.max() <= 1


def test_stylize_fast_style_image_strength_zero_differs_from_one(client: Any, tmp_path: Path) -> None:
    content = smooth_image(tmp_path / "photo.png", (64, 64), 1)
    style = smooth_image(tmp_path / "style.png", (64, 64), 7)
    full, _ = predict(client, content, style_from=web.IMAGE, style=style, strength=1.0)
    none, _ = predict(client, content, style_from=web.IMAGE, style=style, strength=0.0)
    a, b = (np.asarray(Image.open(p).convert("RGB"), np.float32) for p in (full, none))
    assert a.shape == b.shape == (64, 64, 3)
    assert np.abs(a - b).mean() > 1.0   # the slider reaches the method


def test_non_image_upload_is_a_message(client: Any, tmp_path: Path) -> None:
    fake = tmp_path / "notes.png"
    fake.write_text("this is not a picture\n" * 20)
    msg = app_error(client, fake, builtin=web.builtin_styles()[0])
    assert "notes.png" in msg and "not an image" in msg


def test_too_many_pixels_is_a_message(client: Any, tmp_path: Path) -> None:
    big = smooth_image(tmp_path / "wide.png", (300, 200))     # 0.06 MP > 0.05 MP, but a small file
    msg = app_error(client, big, builtin=web.builtin_styles()[0])
    assert "300x200" in msg and "limit" in msg


def test_too_large_file_is_refused(client: Any, tmp_path: Path) -> None:
    heavy = noise_image(tmp_path / "heavy.png", (200, 200))  # ~120 kB of noise > 0.1 MB
    assert heavy.stat().st_size > MAX_UPLOAD_MB * 1024 * 1024
    with pytest.raises(Exception) as ei:
        predict(client, heavy, builtin=web.builtin_styles()[0])
    assert "size" in str(ei.value).lower() or "large" in str(ei.value).lower(), ei.value


def test_missing_photo_and_builtin_with_other_method(client: Any, tmp_path: Path) -> None:
    assert "upload a photo" in app_error(client, None, builtin=web.builtin_styles()[0])
    content = smooth_image(tmp_path / "photo.png", (40, 40))
    msg = app_error(client, content, builtin="no-such-style")
    assert "no-such-style" in msg


def test_unavailable_method_gives_the_hint(client: Any, tmp_path: Path) -> None:
    content = smooth_image(tmp_path / "photo.png", (40, 40))
    style = smooth_image(tmp_path / "style.png", (40, 40), 3)
    msg = app_error(client, content, method="needsweights", style_from=web.IMAGE, style=style)
    assert "needs the weights 'vgg19'" in msg and "painterly weights" in msg


def test_real_methods_without_weights_give_the_hint(client: Any, tmp_path: Path) -> None:
    content = smooth_image(tmp_path / "photo.png", (40, 40))
    style = smooth_image(tmp_path / "style.png", (40, 40), 3)
    for st in web.method_states():
        if st.name == "fast":
            assert st.available
            continue
        assert not st.available      # the test cache is empty
        msg = app_error(client, content, method=st.name, style_from=web.IMAGE, style=style)
        assert msg == st.hint


def pixels(path: str | Path | Image.Image) -> np.ndarray:
    img = path if isinstance(path, Image.Image) else Image.open(path)
    return np.asarray(img.convert("RGB"), np.int16)


def test_blend_weights_equal_the_api_blend(client: Any, tmp_path: Path) -> None:
    from painterly import api

    content = smooth_image(tmp_path / "photo.png", (80, 60), 2)
    got, report = predict(client, content, builtins=["style3", "style10"], weights=[0.7, 0.3], size=80)
    want = api.stylize(content, [("style3", 0.7), ("style10", 0.3)], method="fast", size=80, progress=False)
    assert np.abs(pixels(got) - pixels(want)).max() <= 1
    assert "style3×0.7" in report and "style10×0.3" in report
    # the weights reach the method: another blend of the same two styles is another picture
    other, _ = predict(client, content, builtins=["style3", "style10"], weights=[0.2, 0.8], size=80)
    assert np.abs(pixels(other) - pixels(got)).mean() > 2.0


def test_blend_of_style_images_equals_the_api_blend(client: Any, tmp_path: Path) -> None:
    from painterly import api

    content = smooth_image(tmp_path / "photo.png", (64, 48), 4)
    a, b = smooth_image(tmp_path / "a.png", (64, 64), 5), smooth_image(tmp_path / "b.png", (64, 64), 6)
    got, _ = predict(client, content, style_from=web.IMAGE, styles=[a, b], weights=[0.25, 0.75], strength=0.5)
    want = api.stylize(content, [(str(a), 0.25), (str(b), 0.75)], method="fast", size=64, strength=0.5,
                       progress=False)
    assert np.abs(pixels(got) - pixels(want)).max() <= 1


def _layer(size: tuple[int, int], box: tuple[int, int, int, int], colour: str, soft_edge: bool = False) -> Image.Image:
    """A painted editor layer: transparent, a filled box, optionally a faint (alpha 60) halo around it."""
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    rgb = Image.new("RGB", (1, 1), colour).getpixel((0, 0))
    if soft_edge:
        x0, y0, x1, y1 = box
        layer.paste((*rgb, 60), (x0 - 2, y0 - 2, x1 + 2, y1 + 2))
    layer.paste((*rgb, 255), box)
    return layer


def test_painted_mask_equals_the_label_file(client: Any, tmp_path: Path) -> None:
    from painterly import api

    content = smooth_image(tmp_path / "photo.png", (80, 60), 3)
    # painted on a canvas twice the photo's size, with soft stroke edges the label conversion must drop
    layer = tmp_path / "layer.png"
    _layer((160, 120), (80, 20, 160, 120), "#0000ff", soft_edge=True).save(layer)
    labels = Image.new("RGB", (80, 60), "black")
    labels.paste((0, 0, 255), (40, 10, 80, 60))
    label_file = tmp_path / "labels.png"
    labels.save(label_file)
    h = gradio_client.handle_file
    editor = {"background": h(str(content)), "layers": [h(str(layer))], "composite": None, "id": None}
    got, report = predict(client, content, builtins=["style3", "style10"], size=80, regions=editor)
    want = api.stylize(content, ["style3", "style10"], method="fast", mask=label_file, size=80, progress=False)
    assert np.abs(pixels(got) - pixels(want)).max() <= 1
    assert "painted regions" in report
    blend, _ = predict(client, content, builtins=["style3", "style10"], size=80)
    assert np.abs(pixels(blend) - pixels(got)).mean() > 2.0     # the regions were used, not the blend


def test_painted_mask_with_more_colours_than_styles_is_a_message(client: Any, tmp_path: Path) -> None:
    content = smooth_image(tmp_path / "photo.png", (40, 30), 3)
    blue, red = tmp_path / "blue.png", tmp_path / "red.png"
    _layer((40, 30), (0, 0, 20, 30), "#0000ff").save(blue)
    _layer((40, 30), (20, 0, 40, 15), "#ff0000").save(red)
    h = gradio_client.handle_file
    editor = {"background": None, "layers": [h(str(blue)), h(str(red))], "composite": None, "id": None}
    msg = app_error(client, content, builtin="style1", regions=editor)
    assert "painted mask has 3 regions" in msg and "/tmp" not in msg and "mask-" not in msg


def test_default_size_equals_the_cli_default(client: Any, cli: Any, tmp_path: Path) -> None:
    content = smooth_image(tmp_path / "photo.png", (200, 150), 2)
    got, report = predict(client, content, builtin="style5", size=0)
    out = tmp_path / "cli.png"
    proc = cli("stylize", str(content), "--style", "style5", "-o", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr
    want = Image.open(out)
    assert Image.open(got).size == want.size
    assert np.abs(pixels(got) - pixels(want)).max() <= 1
    assert f"{want.width}×{want.height}" in report


def _stream_first_frame(url: str, demo: gr.Blocks, frame: Path, values: list[Any]) -> dict[str, Any]:
    """Start the webcam stream over Gradio's HTTP queue with one frame and return the first output
    message (gradio_client cannot follow streaming events)."""
    import json
    import uuid

    import httpx

    base = url.rstrip("/")
    fn_index = next(i for i, d in enumerate(demo.config["dependencies"]) if d.get("api_name") == "webcam")
    with frame.open("rb") as f:
        [uploaded] = httpx.post(f"{base}/gradio_api/upload", files={"files": f}).json()
    data = [{"path": uploaded, "meta": {"_type": "gradio.FileData"}},
            *[{"path": v["path"], "meta": {"_type": "gradio.FileData"}} if isinstance(v, dict) else v
              for v in values]]
    session = uuid.uuid4().hex
    join = httpx.post(f"{base}/gradio_api/queue/join",
                      json={"data": data, "fn_index": fn_index, "session_hash": session, "event_data": None,
                            "trigger_id": None})
    assert join.status_code == 200, join.text
    with httpx.stream("GET", f"{base}/gradio_api/queue/data?session_hash={session}", timeout=120) as s:
        for line in s.iter_lines():
            if line.startswith("data:"):
                msg = json.loads(line[5:])
                if msg["msg"] in ("process_streaming", "process_completed"):
                    return msg
    raise AssertionError("the stream sent no frame")


def test_webcam_stream_returns_stylised_frames(server: tuple[gr.Blocks, str], tmp_path: Path) -> None:
    from painterly import api

    demo, url = server
    frame = smooth_image(tmp_path / "frame.png", (96, 72), 8)
    msg = _stream_first_frame(url, demo, frame, settings(builtins=["style7"], size=96))
    assert msg["msg"] == "process_streaming", msg
    image, fps = msg["output"]["data"]
    got = pixels(Image.open(image["path"]))
    want = pixels(api.stylize(frame, "style7", method="fast", size=96, progress=False))
    assert got.shape == want.shape == (72, 96, 3)
    other = pixels(api.stylize(frame, "style8", method="fast", size=96, progress=False))
    err = np.abs(got - want).mean()
    # JPEG frames (about 4 grey levels off): still far closer to this style than to another or the camera
    assert err < 8 and 2 * err < np.abs(got - other).mean() and 2 * err < np.abs(got - pixels(frame)).mean()
    assert "frames/s" in fps and "96×72" in fps


def test_webcam_frames_reuse_the_prepared_style(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from painterly.methods.fast import FastMethod

    prepared: list[int] = []
    real = FastMethod.prepare
    monkeypatch.setattr(FastMethod, "prepare", lambda self, styles: prepared.append(1) or real(self, styles))
    cache = web.PipelineCache()
    cfg = web.ServeConfig()
    style = str(smooth_image(tmp_path / "s.png", (48, 48), 3))
    req = web.StylizeRequest(None, "fast", web.IMAGE, style_images=[style], size=48)
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (36, 48, 3), dtype=np.uint8) for _ in range(3)]
    outs = [web.stylize_frame(f, req, cfg, cache) for f in frames]
    assert len(prepared) == 1 and cache.built == 1           # one style preparation for three frames
    assert all(o.shape == (36, 48, 3) for o in outs)
    assert np.abs(outs[0].astype(int) - outs[1].astype(int)).mean() > 1   # each frame is its own picture
    web.stylize_frame(frames[0], web.StylizeRequest(None, "fast", web.IMAGE, style_images=[style], size=48,
                                                    strength=0.5), cfg, cache)
    assert len(prepared) == 2 and cache.built == 2           # other settings: prepared anew


def test_webcam_refuses_gatys(tmp_path: Path) -> None:
    req = web.StylizeRequest(None, "gatys", web.IMAGE, style_images=[str(smooth_image(tmp_path / "s.png"))])
    with pytest.raises(PainterlyError, match="feed-forward|weights"):
        web.stylize_frame(np.zeros((8, 8, 3), np.uint8), req, web.ServeConfig(), web.PipelineCache())


def _tiny_video(path: Path, frames: int = 5, size: tuple[int, int] = (64, 48)) -> Path:
    av = pytest.importorskip("av")
    # a smooth picture panning 2 px a frame: real motion, so the flow consistency has work to do (random
    # frames would be a scene cut each, and flow would equal per-frame)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w + 2 * frames].astype(np.float64)
    base = np.stack([0.5 + 0.5 * np.sin(xx / 5.0 + c) * np.cos(yy / 7.0 - c) for c in (0.0, 1.0, 2.0)], -1)
    base = (base * 255).astype(np.uint8)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for t in range(frames):
            arr = np.ascontiguousarray(base[:, 2 * t:2 * t + w])
            out.mux(stream.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")))
        out.mux(stream.encode(None))
    return path


def test_video_tab_reports_every_frame_and_matches_the_cli(cli: Any, tmp_path: Path) -> None:
    av = pytest.importorskip("av")
    src = _tiny_video(tmp_path / "clip.mp4")
    seen: list[tuple[int, int, str]] = []
    req = web.StylizeRequest(None, "fast", web.BUILTIN, builtins=["style2"], size=64)
    out, report = web.run_video(str(src), 0.0, req, web.ServeConfig(), tmp_path / "work", lambda *a: seen.append(a))
    assert [s[:2] for s in seen] == [(i, 5) for i in range(1, 6)] and "5 frames" in report
    ref = tmp_path / "cli.mp4"
    proc = cli("video", str(src), "--style", "style2", "--size", "64", "-o", str(ref), "--quiet")
    assert proc.returncode == 0, proc.stderr

    def decoded(p: str | Path) -> np.ndarray:
        with av.open(str(p)) as c:
            return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)]).astype(np.int16)

    a, b = decoded(out), decoded(ref)
    assert a.shape == b.shape
    # the same code path as `painterly video`: equal up to codec rounding
    d = np.abs(a - b)
    assert d.max() <= 1, (d.mean(), d.max())
    # and it is the CLI's default (flow), not plain per-frame: much closer to flow than to none
    plain = tmp_path / "none.mp4"
    assert cli("video", str(src), "--style", "style2", "--size", "64", "--consistency", "none", "-o", str(plain),
               "--quiet").returncode == 0
    d_none = np.abs(a - decoded(plain))
    assert d.mean() < 0.5 * d_none.mean(), (d.mean(), d_none.mean())


def test_options_only_carry_what_was_changed() -> None:
    from painterly.web.jobs import request_options

    cfg = web.ServeConfig(max_size=256)
    plain = request_options(web.StylizeRequest(None, "fast"), cfg, 200)
    assert plain == {"progress": False}                       # the CLI without options: method defaults
    assert request_options(web.StylizeRequest(None, "fast", stroke_scale=2.5), cfg, 200)["stroke_scale"] == 2.5
    assert request_options(web.StylizeRequest(None, "fast", strength=0.4), cfg, 200)["strength"] == 0.4
    # the method's default (native up to 1024 for fast) would exceed this server's limit: the limit wins
    assert request_options(web.StylizeRequest(None, "fast"), cfg, 900)["size"] == 256
    with pytest.raises(PainterlyError, match="stroke scale"):
        request_options(web.StylizeRequest(None, "fast", stroke_scale=5), cfg, 200)


def test_builtin_picker_only_for_fast() -> None:
    from painterly.web.page import method_update

    for m in ("fast", "gatys", "adain", "sanet"):
        style_from = method_update(m)[-1]
        assert style_from["visible"] is (m == "fast")
        assert style_from["value"] == (web.BUILTIN if m == "fast" else web.IMAGE)


def test_rejected_requests_log_one_line_each(client: Any, capfd: pytest.CaptureFixture[str],
                                             tmp_path: Path) -> None:
    fake = tmp_path / "notes.png"
    fake.write_text("not a picture\n")
    photo = smooth_image(tmp_path / "p.png", (40, 40))
    capfd.readouterr()
    app_error(client, fake, builtin="style0")                        # unreadable upload
    app_error(client, photo, builtin="style0", size=8)               # our own check
    app_error(client, photo, builtin="style0", weights=[0, 0])       # the API's check
    app_error(client, photo, builtin="no-such-style")                # Gradio's dropdown validation
    log = capfd.readouterr()
    text = log.out + log.err
    assert "Traceback" not in text, text
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert len(lines) == 4 and all(ln.startswith("painterly serve: rejected a request: ") for ln in lines), text
    with pytest.raises(Exception):
        predict(client, noise_image(tmp_path / "heavy.png", (200, 200)), builtin="style0")   # over the MB limit
    text = "".join(capfd.readouterr())
    assert "Traceback" not in text and len(text.strip().splitlines()) <= 1, text


def test_web_imports_no_torch_and_fast_runs_without_it(tmp_path: Path) -> None:
    import subprocess
    import sys

    photo, style = smooth_image(tmp_path / "p.png", (40, 30)), smooth_image(tmp_path / "s.png", (32, 32), 2)
    code = f"""
import sys
sys.modules["torch"] = None          # an installation without torch: any import of it fails
from painterly import web
req = web.StylizeRequest({str(photo)!r}, "fast", web.IMAGE, style_images=[{str(style)!r}])
img, report = web.run_stylize(req, web.ServeConfig())
states = {{s.name: s.available for s in web.method_states()}}
print(img.size, states["fast"], states["gatys"])
"""
    env = {**os.environ, "PYTHONPATH": str(Path(web.__file__).parents[2])}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["(40,", "30)", "True", "False"], proc.stdout


# ----------------------------------------------------------------------------------------------------
# the pieces, without HTTP
# ----------------------------------------------------------------------------------------------------

def test_method_states_follow_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(METHODS, "needsweights", f"{__name__}:NeedsWeights")
    monkeypatch.setitem(METHODS, "notinstalled", "painterly.methods.no_such_module:X")
    states = {s.name: s for s in web.method_states()}
    assert not states["needsweights"].available and "unavailable" in states["needsweights"].label
    assert "painterly weights fetch vgg19" in states["needsweights"].hint
    assert not states["notinstalled"].available
    p = hub.path("vgg19")
    p.parent.mkdir(parents=True)
    p.write_bytes(b"cached")       # only presence matters for the menu
    states = {s.name: s for s in web.method_states()}
    assert states["needsweights"].available and states["needsweights"].hint == ""


def test_progress_reaches_the_page(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(METHODS, "counting", f"{__name__}:Counting")
    seen: list[tuple[int, int, str]] = []
    req = web.StylizeRequest(str(smooth_image(tmp_path / "c.png", (40, 30))), "counting", web.IMAGE,
                             style_images=[str(smooth_image(tmp_path / "s.png", (20, 20)))], size=40)
    img, report = web.run_stylize(req, web.ServeConfig(), lambda *a: seen.append(a))
    assert [s[:2] for s in seen] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert "step 2/4" in seen[1][2] and "loss 9" in seen[1][2]
    assert img.size == (40, 30) and "counting" in report


def test_gatys_steps_reach_the_page(tmp_path: Path, random_vgg_file: Any) -> None:
    """The real gatys method, once its weights are imported (random ones here), is offered and reports
    every evaluation with its loss to the progress bar."""
    pytest.importorskip("painterly.methods.gatys")
    assert not {s.name: s for s in web.method_states()}["gatys"].available
    hub.import_file("vgg19-caffe", random_vgg_file("caffe"), verify=False)
    assert {s.name: s for s in web.method_states()}["gatys"].available
    seen: list[tuple[int, int, str]] = []
    req = web.StylizeRequest(str(smooth_image(tmp_path / "c.png", (40, 30))), "gatys", web.IMAGE,
                             style_images=[str(smooth_image(tmp_path / "s.png", (32, 32), 2))], size=32, steps=3)
    img, _ = web.run_stylize(req, web.ServeConfig(), lambda *a: seen.append(a))
    assert [s[:2] for s in seen] == [(1, 3), (2, 3), (3, 3)]
    assert all("loss" in s[2] for s in seen)
    assert img.size == (32, 24)


def test_upload_errors_never_show_server_paths(tmp_path: Path) -> None:
    truncated = tmp_path / "cut.png"
    data = (smooth_image(tmp_path / "whole.png", (64, 64))).read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(PainterlyError) as ei:
        web.load_upload(str(truncated), "photo", 50)
    assert "cut.png" in str(ei.value) and str(tmp_path) not in str(ei.value)


def test_thumbnails_are_the_builtin_styles_and_cached(painterly_home: Path) -> None:
    thumbs = web.builtin_thumbnails()
    names = web.builtin_styles()
    assert [c for _, c in thumbs] == [f"{i}: {n}" for i, n in enumerate(names)]
    assert all(Path(p).is_relative_to(painterly_home / "cache") for p, _ in thumbs)
    from painterly import api

    # thumbnail i is built-in style i applied to the shipped example: it is the closest of all 26 to a
    # fresh render (the styles differ by 40-100 grey levels on average; JPEG q85 costs about 5)
    pics = [np.asarray(Image.open(p).convert("RGB"), np.float32) for p, _ in thumbs]
    for i in (0, 5, 25):
        want = np.asarray(api.stylize(web.EXAMPLE, names[i], method="fast", size=web.THUMB_SIZE,
                                      progress=False), np.float32)
        errs = [float(np.abs(p - want).mean()) for p in pics]
        assert int(np.argmin(errs)) == i and errs[i] < 8, errs
    mtimes = [Path(p).stat().st_mtime_ns for p, _ in thumbs]
    assert [Path(p).stat().st_mtime_ns for p, _ in web.builtin_thumbnails()] == mtimes   # not re-rendered


def test_pix2pix_tab_without_checkpoint_says_so() -> None:
    fn, msg = web.pix2pix_translator(None)
    assert fn is None and "painterly serve --pix2pix" in msg


def test_pix2pix_tab_translates_like_the_cli(tmp_path: Path) -> None:
    p2p = pytest.importorskip("painterly.methods.pix2pix")
    opts = p2p.GeneratorOptions(netG="unet_128", ngf=4)
    ckpt = tmp_path / "g.pt"
    torch.manual_seed(1)
    torch.save(p2p.generator_checkpoint(p2p.build_generator(opts), opts), ckpt)
    fn, msg = web.pix2pix_translator(ckpt)
    assert fn is not None and "g.pt" in msg and "unet_128" in msg
    src = smooth_image(tmp_path / "in.png", (100, 60), 4)
    got = fn(Image.open(src).convert("RGB"))
    assert got.size == (100, 60)
    from painterly import api

    [(_, written)] = api.translate_files([str(src)], ckpt, tmp_path / "cli.png", progress=False)
    diff = np.abs(np.asarray(got, np.int16) - np.asarray(Image.open(written).convert("RGB"), np.int16))
    assert diff.max() == 0     # same network, mode and seed as `painterly translate`


def test_serve_with_a_bad_pix2pix_checkpoint_is_one_line_error(cli: Any, tmp_path: Path) -> None:
    pytest.importorskip("painterly.methods.pix2pix")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    assert_one_line_error(cli("serve", "--port", str(free_port()), "--pix2pix", str(bad), timeout=120), "bad.pt")


# ----------------------------------------------------------------------------------------------------
# the command line
# ----------------------------------------------------------------------------------------------------

def test_serve_bad_options_are_one_line_errors(cli: Any, tmp_path: Path) -> None:
    assert_one_line_error(cli("serve", "--port", "0"), "--port")
    assert_one_line_error(cli("serve", "--pix2pix", str(tmp_path / "nope.pt")), "nope.pt")


def test_serve_busy_port_is_one_line_error(cli: Any, server: tuple[gr.Blocks, str]) -> None:
    port = server[1].rsplit(":", 1)[1].strip("/")
    assert_one_line_error(cli("serve", "--port", port, timeout=120), port)


def test_a_huge_valid_upload_is_too_large_not_not_an_image(tmp_path: Path) -> None:
    """A valid 400 MP PNG (a few kB on disk) is refused by its size, read from the header, before decoding;
    a file that is no image says so."""
    from painterly.web.jobs import load_upload

    big = tmp_path / "big.png"
    Image.new("1", (20000, 20000)).save(big)
    with pytest.raises(PainterlyError) as exc:
        load_upload(str(big), "photo", max_megapixels=50)
    assert "20000x20000" in str(exc.value) and "400.0 MP" in str(exc.value)
    assert "not an image" not in str(exc.value)
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"definitely not a png")
    with pytest.raises(PainterlyError, match="not an image file"):
        load_upload(str(junk), "photo", max_megapixels=50)
