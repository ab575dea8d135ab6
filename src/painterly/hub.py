"""Registry and cache of the published checkpoints every method loads.

The cache lives in ``$PAINTERLY_HOME/weights`` (default ``~/.cache/painterly/weights``). Each stored file
has a JSON manifest beside it recording where it came from, the sha256 of the published file it was made
from, whether that checksum was verified, and the sha256 of the stored file (so ``verify`` can re-check it).

Nothing here downloads unless ``fetch`` is called explicitly; tests never call it.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import shutil
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .errors import PainterlyError, WeightsMissingError
from .files import atomic_path, atomic_torch_save, atomic_write_bytes

StateDict = dict[str, torch.Tensor]
Layout = Mapping[str, tuple[int, ...]]


@dataclass(frozen=True)
class Entry:
    """One published checkpoint."""

    name: str
    filename: str                     # the published file name
    urls: tuple[str, ...]             # canonical first, then mirrors
    description: str
    layout: str                       # "module:function" returning the expected {key: shape}
    layout_doc: str                   # one-line description of the layout for error messages
    sha256: str | None = None         # full sha256 of the published file, where known
    sha256_prefix: str | None = None  # torch.hub convention: first hex digits in the file name
    size: int | None = None           # bytes of the published file, where known
    keep_prefix: str | None = None    # store only keys with this prefix (VGG: drop the 500 MB classifier)
    direct_download: bool = True      # False: the URL is a sharing page, download it in a browser
    licence: str = ""
    stored_name: str = ""

    @property
    def stored(self) -> str:
        return self.stored_name or self.filename


_VGG_KEYS = "features.{0,2,5,7,10,12,14,16,19,21,23,25,28,30,32,34}.{weight,bias}"

REGISTRY: dict[str, Entry] = {
    e.name: e
    for e in [
        Entry(
            name="vgg19",
            filename="vgg19-dcbb9e9d.pth",
            urls=("https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",),
            description="VGG-19, torchvision ImageNet weights (RGB, mean/std normalised input)",
            layout="painterly.nn.vgg:torchvision_layout",
            layout_doc=f"torchvision VGG-19 state_dict with keys {_VGG_KEYS} (+ classifier.*)",
            sha256="dcbb9e9dad569fff7a846263a77324fc34978fea2bfb039c012d710e1776ae44",
            sha256_prefix="dcbb9e9d",
            size=574673361,
            keep_prefix="features.",
            licence="BSD-3-Clause (torchvision)",
            stored_name="vgg19-dcbb9e9d-features.pth",
        ),
        Entry(
            name="vgg19-caffe",
            filename="vgg19-d01eb7cb.pth",
            urls=(
                "https://web.eecs.umich.edu/~justincj/models/vgg19-d01eb7cb.pth",
                "https://s3-us-west-2.amazonaws.com/jcjohns-models/vgg19-d01eb7cb.pth",
            ),
            description="VGG-19 converted from the original Caffe model (BGR, 0-255, mean-subtracted input); "
            "the network of neural-style and Gatys et al.",
            layout="painterly.nn.vgg:torchvision_layout",
            layout_doc=f"Caffe-converted VGG-19 state_dict with torchvision key names {_VGG_KEYS}",
            sha256_prefix="d01eb7cb",
            keep_prefix="features.",
            licence="CC BY 4.0 (VGG authors)",
            stored_name="vgg19-d01eb7cb-features.pth",
        ),
        Entry(
            name="vgg-normalised",
            filename="vgg_normalised.pth",
            urls=("https://github.com/naoto0804/pytorch-AdaIN/releases/download/v0.0.0/vgg_normalised.pth",),
            description="VGG-19 'normalised' encoder of AdaIN/SANet (RGB [0,1] in, 1x1 input conv, "
            "reflection padding)",
            layout="painterly.nn.vgg:normalised_layout",
            layout_doc="nn.Sequential state_dict with keys {0,2,5,9,12,16,19,22,25,29,32,35,38,42,45,48,51}"
            ".{weight,bias}; key 0 is a 1x1 Conv(3->3)",
            licence="MIT (pytorch-AdaIN)",
        ),
        Entry(
            name="adain-decoder",
            filename="decoder.pth",
            urls=("https://github.com/naoto0804/pytorch-AdaIN/releases/download/v0.0.0/decoder.pth",),
            description="AdaIN decoder (Huang & Belongie 2017), trained by pytorch-AdaIN",
            layout="painterly.nn.blocks:decoder_layout",
            layout_doc="nn.Sequential state_dict with keys {1,5,8,11,14,18,21,25,28}.{weight,bias} "
            "(512->256->...->3, 3x3 convs)",
            licence="MIT (pytorch-AdaIN)",
            stored_name="adain-decoder.pth",
        ),
        Entry(
            name="sanet-decoder",
            filename="decoder_iter_500000.pth",
            urls=("https://yadi.sk/d/xsZ7j6FhK1dmfQ",),
            description="SANet decoder (Park & Lee 2019), GlebSBrykin/SANET port, 500k iterations",
            layout="painterly.nn.blocks:decoder_layout",
            layout_doc="nn.Sequential state_dict with keys {1,5,8,11,14,18,21,25,28}.{weight,bias}",
            direct_download=False,
            licence="MIT (GlebSBrykin/SANET)",
        ),
        Entry(
            name="sanet-transformer",
            filename="transformer_iter_500000.pth",
            urls=("https://yadi.sk/d/GhQe3g_iRzLKMQ",),
            description="SANet style-attention transformer (relu4_1 + relu5_1 + merge_conv), 500k iterations",
            layout="painterly.nn.blocks:sanet_transformer_layout",
            layout_doc="state_dict with keys sanet4_1.{f,g,h,out_conv}.{weight,bias}, "
            "sanet5_1.{f,g,h,out_conv}.{weight,bias}, merge_conv.{weight,bias}",
            direct_download=False,
            licence="MIT (GlebSBrykin/SANET)",
        ),
    ]
}


def register(entry: Entry) -> None:
    """Add an entry (methods with their own published checkpoints call this at import)."""
    REGISTRY[entry.name] = entry


# ----------------------------------------------------------------------------------------------------
# cache locations
# ----------------------------------------------------------------------------------------------------

def home() -> Path:
    return Path(os.environ.get("PAINTERLY_HOME") or Path.home() / ".cache" / "painterly")


def weights_dir() -> Path:
    return home() / "weights"


def entry(name: str) -> Entry:
    try:
        return REGISTRY[name]
    except KeyError:
        raise PainterlyError(f"unknown weights {name!r}; known: {', '.join(sorted(REGISTRY))}.") from None


def path(name: str) -> Path:
    """Where ``name`` is (or would be) stored in the cache."""
    return weights_dir() / entry(name).stored


def _manifest_path(p: Path) -> Path:
    return p.with_name(p.name + ".json")


def manifest(name: str) -> dict[str, object] | None:
    m = _manifest_path(path(name))
    if not m.exists():
        return None
    try:
        return json.loads(m.read_text())
    except (OSError, ValueError):
        return None


def import_hint(name: str) -> str:
    e = entry(name)
    how = "download" if e.direct_download else "download (in a browser)"
    return (f"{how} {e.urls[0]} and run: painterly weights import {name} /path/to/{e.filename}")


def missing_message(name: str) -> str:
    e = entry(name)
    return (f"weights '{name}' ({e.filename}) are not in the cache {weights_dir()}; {import_hint(name)}"
            + (f"  (or: painterly weights fetch {name})" if e.direct_download else "")
            + "; or pass --weights FILE.")


def require(name: str) -> Path:
    """Path of a cached checkpoint, or a one-line WeightsMissingError naming the URL and import command."""
    p = path(name)
    if not p.exists():
        raise WeightsMissingError(missing_message(name))
    return p


def is_cached(name: str) -> bool:
    return path(name).exists()


# ----------------------------------------------------------------------------------------------------
# loading and layout checks
# ----------------------------------------------------------------------------------------------------

def sha256_file(p: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(p, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def load_checkpoint(p: str | Path, what: str = "checkpoint") -> object:
    """``torch.load(weights_only=True)`` with one-line errors for missing / foreign / corrupt files."""
    p = Path(p)
    if not p.exists():
        raise PainterlyError(f"{what} not found: {p}")
    if p.is_dir():
        raise PainterlyError(f"{what} {p} is a folder, not a checkpoint file.")
    try:
        return torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle errors, zip errors, unsafe globals: all mean "not our kind of file"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PainterlyError(
            f"{what} {p} is not a loadable PyTorch state_dict ({first[:160]})."
        ) from None


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


def resolve_layout(spec: str) -> Layout:
    module, func = spec.split(":")
    fn: Callable[[], Layout] = getattr(importlib.import_module(module), func)
    return fn()


def check_layout(sd: Mapping[str, torch.Tensor], expected: Layout, what: str, layout_doc: str,
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
    e = entry(name)
    if e.keep_prefix:
        sd = {k: v for k, v in sd.items() if k.startswith(e.keep_prefix)}
    check_layout(sd, resolve_layout(e.layout), what, e.layout_doc)
    return {k: v.contiguous() for k, v in sd.items()}


def load(name: str, override: str | Path | None = None) -> StateDict:
    """The state_dict for ``name``: from ``override`` (``--weights``) if given, else from the cache."""
    p = Path(override) if override else require(name)
    what = f"weights file {p}" if override else f"cached weights '{name}' ({p})"
    return prepare_state_dict(name, as_state_dict(load_checkpoint(p, what), what), what)


# ----------------------------------------------------------------------------------------------------
# import / fetch / verify
# ----------------------------------------------------------------------------------------------------

@dataclass
class ImportReport:
    name: str
    stored: Path
    source_sha256: str
    verified: bool
    note: str = ""
    keys: int = 0
    extra: dict[str, object] = field(default_factory=dict)


def _check_source_sha(e: Entry, digest: str) -> tuple[bool, str]:
    """(verified, note). verified is False when no checksum is published."""
    if e.sha256:
        if digest != e.sha256:
            return False, f"sha256 {digest[:12]}… differs from the published {e.sha256[:12]}…"
        return True, "sha256 matches the published checksum"
    if e.sha256_prefix:
        if not digest.startswith(e.sha256_prefix):
            return False, f"sha256 {digest[:12]}… does not start with the published prefix {e.sha256_prefix}"
        return True, f"sha256 prefix {e.sha256_prefix} matches"
    return False, "no published checksum to compare with"


def import_file(name: str, file: str | Path, verify: bool = True, source: str | None = None) -> ImportReport:
    """Check, convert and store a local copy of a published checkpoint.

    With ``verify`` a file whose sha256 differs from the published one is refused; without it, it is stored
    and marked unverified. Files with no published checksum are stored with ``verified: false``.
    """
    e = entry(name)
    src = Path(file)
    if not src.is_file():
        raise PainterlyError(f"weights file not found: {src}")
    digest = sha256_file(src)
    ok, note = _check_source_sha(e, digest)
    has_reference = bool(e.sha256 or e.sha256_prefix)
    if has_reference and not ok and verify:
        raise PainterlyError(f"{src}: {note}; if you trust this file, re-run with --no-verify.")
    what = f"weights file {src}"
    sd = prepare_state_dict(name, as_state_dict(load_checkpoint(src, what), what), what)
    dest = path(name)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if e.keep_prefix:  # re-save only what we keep; otherwise store the published bytes unchanged
        atomic_torch_save(sd, dest)
    else:
        with atomic_path(dest) as tmp:
            shutil.copyfile(src, tmp)
    info = {
        "name": name,
        "published_file": e.filename,
        "source": source or str(src.resolve()),
        "source_sha256": digest,
        "verified": ok,
        "note": note,
        "stored_sha256": sha256_file(dest),
        "keys": len(sd),
        "imported_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    atomic_write_bytes(_manifest_path(dest), json.dumps(info, indent=2).encode())
    return ImportReport(name, dest, digest, ok, note, len(sd))


def _download(url: str, dest: Path, expected_size: int | None, progress: bool) -> None:
    from tqdm import tqdm

    req = urllib.request.Request(url, headers={"User-Agent": "painterly"})
    with urllib.request.urlopen(req, timeout=60) as r, open(dest, "wb") as f:  # noqa: S310 (https URLs)
        total = int(r.headers.get("Content-Length") or 0) or expected_size
        with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name.split(".part")[0],
                  disable=not progress) as bar:
            while block := r.read(1 << 20):
                f.write(block)
                bar.update(len(block))


def fetch(name: str, progress: bool = True, verify: bool = True) -> ImportReport:
    """Download ``name`` (trying mirrors in order) to a temp file, verify, convert and store atomically."""
    e = entry(name)
    if not e.direct_download:
        raise PainterlyError(
            f"'{name}' is published on a sharing page that cannot be downloaded by a program; "
            + import_hint(name) + "."
        )
    weights_dir().mkdir(parents=True, exist_ok=True)
    errors = []
    for url in e.urls:
        with atomic_path(weights_dir() / e.filename, suffix=".download") as tmp:
            try:
                _download(url, tmp, e.size, progress)
            except (OSError, ValueError) as exc:
                errors.append(f"{url}: {exc}")
                continue
            return import_file(name, tmp, verify=verify, source=url)
    raise PainterlyError(f"could not download '{name}' ({'; '.join(errors)}); " + import_hint(name) + ".")


@dataclass
class VerifyReport:
    name: str
    status: str        # ok | missing | modified | wrong-layout | unverified
    detail: str


def verify(name: str) -> VerifyReport:
    """Re-hash a cached file against its manifest and re-check its layout."""
    p = path(name)
    if not p.exists():
        return VerifyReport(name, "missing", missing_message(name))
    m = manifest(name) or {}
    digest = sha256_file(p)
    if m.get("stored_sha256") and m["stored_sha256"] != digest:
        return VerifyReport(name, "modified", f"{p} changed since it was imported (sha256 {digest[:12]}…)")
    try:
        load(name)
    except PainterlyError as exc:
        return VerifyReport(name, "wrong-layout", str(exc))
    if not m:
        return VerifyReport(name, "unverified", f"{p} has no manifest (copied by hand?); re-import it")
    if not m.get("verified"):
        return VerifyReport(name, "unverified", f"layout ok; {m.get('note', 'checksum not verified')}")
    return VerifyReport(name, "ok", f"layout ok; {m.get('note', '')}")


def status_rows() -> list[dict[str, object]]:
    """One row per registry entry for ``painterly weights list``."""
    rows = []
    for name, e in REGISTRY.items():
        p = path(name)
        m = manifest(name) if p.exists() else None
        state = "missing"
        if p.exists():
            state = "cached" if (m and m.get("verified")) else "cached (unverified)"
        rows.append({"name": name, "status": state, "path": str(p),
                     "size": p.stat().st_size if p.exists() else e.size, "url": e.urls[0],
                     "description": e.description})
    return rows


def warn(msg: str) -> None:
    print(f"warning: {msg}", file=sys.stderr)
