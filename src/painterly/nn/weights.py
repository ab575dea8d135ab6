"""Loading checkpoints with torch (``torch.load(weights_only=True)``) and checking them against the published
layouts. Importing this module hands the hub its layout checker (the hub itself never imports torch)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from .. import hub
from ..errors import PainterlyError
from ..files import atomic_path

StateDict = dict[str, torch.Tensor]
Layout = Mapping[str, tuple[int, ...]]


def atomic_torch_save(obj: object, target: str | Path) -> None:
    """``torch.save`` through a temporary file (checkpoints must never be half-written)."""
    with atomic_path(target) as tmp:
        torch.save(obj, tmp)


def load_checkpoint(p: str | Path, what: str = "checkpoint") -> object:
    """``torch.load(weights_only=True)`` with one-line errors for missing / foreign / corrupt files."""
    p = Path(p)
    named = what if str(p) in what else f"{what} {p}"  # "weights file X" already names the file
    if not p.exists():
        raise PainterlyError(f"{what} not found: {p}" if named != what else f"{what} not found.")
    if p.is_dir():
        raise PainterlyError(f"{named} is a folder, not a checkpoint file.")
    if p.stat().st_size == 0:
        raise PainterlyError(f"{named} is empty (0 bytes); a copy or download did not finish.")
    try:
        return torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle errors, zip errors, unsafe globals: all mean "not our kind of file"
        raise PainterlyError(f"{named} is not a loadable PyTorch state_dict ({_torch_reason(exc)}).") from None


def _torch_reason(exc: BaseException) -> str:
    """The first sentence of torch.load's error, whole words only, without its advice to load with
    weights_only=False (that would run arbitrary code from an untrusted file)."""
    text = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).split())
    if "WeightsUnpickler error:" in text:  # a pickle with objects besides tensors: name the object only
        detail = text.split("WeightsUnpickler error:", 1)[1].split(" Please use", 1)[0]
        detail = detail.replace(" was not an allowed global by default", "").strip(" .")
        return f"it holds Python objects besides tensors, which are never loaded: {detail}"[:200]
    for marker in ("Weights only load failed", "(1) ", "In PyTorch 2.6", "Re-running", "WeightsUnpickler"):
        head, sep, _ = text.partition(marker)
        if sep and head.strip():
            text = head
    text = text.split(". ")[0].strip(" .:")
    if "weights_only" in text or "Weights only" in text:
        text = "not a plain state_dict"
    if not re.search(r"[A-Za-z]{3}", text):  # KeyError '101', EOFError '': say what kind of error it was
        text = f"{type(exc).__name__} {text}".strip()
    if len(text) > 160:
        text = text[:160].rsplit(" ", 1)[0] + " …"
    return text or type(exc).__name__


def as_state_dict(obj: object, what: str) -> StateDict:
    """Accept a plain state_dict, or the common wrappers {'state_dict': ...} / {'model': ...}."""
    if isinstance(obj, Mapping):
        for key in ("state_dict", "model"):
            inner = obj.get(key)
            if isinstance(inner, Mapping) and inner and all(isinstance(v, torch.Tensor) for v in inner.values()):
                obj = inner
                break
        if obj and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()):
            return dict(obj)  # type: ignore[arg-type]
    raise PainterlyError(f"{what} does not contain a state_dict of tensors.")


# layout id (hub.Entry.layout) -> {key: shape}; the modules that define the networks register them
# (nn/vgg.py, nn/blocks.py; painterly.nn imports both, so they are in place before any check runs)
LAYOUTS: dict[str, Callable[[], Layout]] = {}


def register_layout(layout_id: str, fn: Callable[[], Layout]) -> None:
    LAYOUTS[layout_id] = fn


def resolve_layout(layout_id: str) -> Layout:
    return LAYOUTS[layout_id]()


def check_layout(sd: Mapping[str, Any], expected: Layout, what: str, layout_doc: str,
                 ignore_prefixes: tuple[str, ...] = ()) -> None:
    """Raise a one-line error if ``sd`` lacks keys of ``expected``, has foreign keys, or shapes differ."""
    keys = {k for k in sd if not k.startswith(ignore_prefixes)}
    missing = sorted(set(expected) - keys)
    extra = sorted(keys - set(expected))
    bad = [k for k in expected if k in sd and tuple(sd[k].shape) != tuple(expected[k])]
    if not (missing or extra or bad):
        return
    parts = []
    if missing:
        parts.append(f"missing {len(missing)} key(s) e.g. {', '.join(missing[:3])}")
    if extra:
        parts.append(f"{len(extra)} unexpected key(s) e.g. {', '.join(extra[:3])}")
    if bad:
        k = bad[0]
        parts.append(f"shape of {k} is {tuple(sd[k].shape)}, expected {tuple(expected[k])}")
    raise PainterlyError(f"{what} has the wrong layout ({'; '.join(parts)}); expected {layout_doc}.")


def prepare_state_dict(name: str, sd: StateDict, what: str) -> StateDict:
    """Validate a state_dict against ``name``'s published layout and strip what the cache does not keep."""
    e = hub.entry(name)
    if e.keep_prefix:
        sd = {k: v for k, v in sd.items() if k.startswith(e.keep_prefix)}
    check_layout(sd, resolve_layout(e.layout), what, e.layout_doc)
    return {k: v.contiguous() for k, v in sd.items()}


def load(name: str, override: str | Path | None = None) -> StateDict:
    """The state_dict for ``name``: from ``override`` (``--weights``) if given, else from the cache."""
    p = Path(override) if override else hub.require(name)
    what = f"weights file {p}" if override else f"cached weights '{name}' ({p})"
    return prepare_state_dict(name, as_state_dict(load_checkpoint(p, what), what), what)


def check_file(name: str, src: Path, what: str) -> tuple[int, Callable[[Path], None] | None]:
    """The hub's checker: load, check the layout, and (where the cache keeps part) say how to write it."""
    sd = prepare_state_dict(name, as_state_dict(load_checkpoint(src, what), what), what)
    if hub.entry(name).keep_prefix:
        return len(sd), lambda dest: torch.save(sd, dest)
    return len(sd), None


hub.set_checker(check_file)
