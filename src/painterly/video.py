"""Video stylisation, frame by frame, with any method through the shared Pipeline (PyAV, the ``video`` extra).

Styles are prepared once (the Pipeline caches them) and reused for every frame. The output keeps the
input's frame rate and frame size (frames are stylised at ``--size`` and resized back if that differs),
the audio stream is copied packet for packet, and the file is written to a temporary name and renamed at
the end, so a failure never leaves a half-written video. ``smooth`` blends each output frame with the
previous output, out_t = (1 − w)·y_t + w·out_{t−1}, which cuts frame-to-frame flicker.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm import tqdm

from . import image as im
from .errors import PainterlyError
from .files import atomic_path
from .methods.base import Pipeline

# container extension -> video codecs to try, best first
CODECS: dict[str, tuple[str, ...]] = {
    ".mp4": ("libx264", "h264", "mpeg4"),
    ".m4v": ("libx264", "h264", "mpeg4"),
    ".mov": ("libx264", "h264", "mpeg4"),
    ".mkv": ("libx264", "h264", "mpeg4"),
    ".avi": ("mpeg4",),
    ".webm": ("libvpx-vp9", "libvpx"),
}


@dataclass
class VideoReport:
    input: str
    output: str
    frames: int
    fps: float
    size: tuple[int, int]
    audio: bool
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "size": list(self.size), "seconds": round(self.seconds, 3)}


def _av() -> Any:
    try:
        import av
    except ImportError:
        raise PainterlyError("video needs PyAV: pip install 'painterly[video]' (or: pip install av).") from None
    return av


def _codec(av: Any, dest: Path) -> str:
    ext = dest.suffix.lower()
    if ext not in CODECS:
        raise PainterlyError(f"cannot write video {dest}: unknown extension {ext or '(none)'}; use one of "
                             + ", ".join(sorted(CODECS)) + ".")
    for name in CODECS[ext]:
        if name in av.codecs_available:
            return name
    raise PainterlyError(f"this PyAV build has no encoder for {ext} ({', '.join(CODECS[ext])}).")


def even_size(width: int, height: int) -> tuple[int, int]:
    """The frame size the yuv420p encoders accept: each side rounded down to even (odd sides lose their
    last pixel column/row; 1 px sides cannot be encoded at all)."""
    if width < 2 or height < 2:
        raise PainterlyError(f"cannot encode a {width}x{height} video: each side must be at least 2 px.")
    return width - width % 2, height - height % 2


def _encode(out: Any, vout: Any, frame: Any, dest: Path) -> None:
    """Encode and mux one frame (None: flush); encoder failures are reported as such, not as decoding."""
    av = _av()
    try:
        out.mux(vout.encode(frame))
    except av.FFmpegError as exc:
        raise PainterlyError(f"cannot encode video {dest} ({vout.codec_context.name}, "
                             f"{vout.width}x{vout.height}): {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines() or [type(exc).__name__])[0][:200] if text else type(exc).__name__


def stylize_video(src: str | Path, dest: str | Path, pipe: Pipeline, smooth: float = 0.0,
                  progress: bool = True) -> VideoReport:
    """Stylise every frame of ``src`` with ``pipe`` and write ``dest`` (format by extension)."""
    av = _av()
    src, dest = Path(src), Path(dest)
    if not 0.0 <= smooth < 1.0:
        raise PainterlyError(f"--smooth must be in [0, 1), got {smooth}.")
    if not src.is_file():
        raise PainterlyError(f"video not found: {src}")
    if src.resolve() == dest.resolve():
        raise PainterlyError("the output video must not be the input video.")
    codec = _codec(av, dest)
    t0 = time.perf_counter()
    try:
        inp = av.open(str(src))
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise PainterlyError(f"cannot decode video {src}: {_first_line(exc)}") from None
    with inp:
        if not inp.streams.video:
            raise PainterlyError(f"{src} has no video stream.")
        vin = inp.streams.video[0]
        ain = inp.streams.audio[0] if inp.streams.audio else None
        fps = Fraction(vin.average_rate or vin.guessed_rate or 25)
        width, height = vin.codec_context.width, vin.codec_context.height
        if not width or not height:
            raise PainterlyError(f"cannot decode video {src}: no frame size in its video stream.")
        frames = 0
        out_w, out_h = even_size(width, height)
        if (out_w, out_h) != (width, height):
            from .hub import warn

            warn(f"{src} is {width}x{height}; the encoder needs even sides, so the output is cropped by one "
                 f"pixel to {out_w}x{out_h}.")
        with atomic_path(dest) as tmp:
            out = av.open(str(tmp), "w")
            try:
                vout = out.add_stream(codec, rate=fps)
                vout.width, vout.height = out_w, out_h
                vout.pix_fmt = "yuv420p"
                aout = out.add_stream_from_template(ain) if ain is not None else None
                bar = tqdm(total=vin.frames or None, unit="frame", desc=dest.name, disable=not progress,
                           dynamic_ncols=True)
                prev: np.ndarray | None = None
                with bar:
                    for packet in inp.demux(*(s for s in (vin, ain) if s is not None)):
                        if packet.stream is ain:
                            if packet.dts is not None:  # skip demuxer flush packets
                                packet.stream = aout
                                out.mux(packet)
                            continue
                        for frame in packet.decode():
                            arr = _stylise(pipe, frame.to_image(), (width, height))
                            if smooth and prev is not None:
                                arr = (1.0 - smooth) * arr + smooth * prev
                            prev = arr
                            vf = av.VideoFrame.from_ndarray(
                                np.clip(arr[:out_h, :out_w] + 0.5, 0, 255).astype(np.uint8), format="rgb24")
                            vf.pts = frames
                            _encode(out, vout, vf, dest)
                            frames += 1
                            bar.update()
                    _encode(out, vout, None, dest)
            except av.FFmpegError as exc:
                raise PainterlyError(f"cannot decode video {src}: {_first_line(exc)}") from None
            finally:
                out.close()
            if frames == 0:
                raise PainterlyError(f"cannot decode video {src}: it has no decodable frames.")
    return VideoReport(str(src), str(dest), frames, float(fps), (out_w, out_h), ain is not None,
                       time.perf_counter() - t0)


def _stylise(pipe: Pipeline, frame: Image.Image, size: tuple[int, int]) -> np.ndarray:
    """One frame through the pipeline, back at the frame size, as float32 [H, W, 3] in 0..255."""
    result = pipe(im.Picture(frame.convert("RGB"), None, None)).image
    if result.size != size:
        result = result.resize(size, Image.Resampling.LANCZOS)
    return np.asarray(result, dtype=np.float32)
