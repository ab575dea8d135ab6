"""Registry and cache of the published checkpoints every method loads.

The cache lives in ``$PAINTERLY_HOME/weights`` (default ``~/.cache/painterly/weights``). Each stored file
has a JSON manifest beside it recording where it came from, the sha256 of the published file it was made
from, whether that checksum was verified, and the sha256 of the stored file (so ``verify`` can re-check it).

Nothing here downloads unless ``fetch`` is called explicitly; tests never call it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from .errors import PainterlyError, WeightsMissingError
from .files import atomic_path, atomic_write_bytes
from .lazy import torch_available

Layout = Mapping[str, tuple[int, ...]]


class Checker(Protocol):
    """Loads ``src`` (weights_only), checks it against ``name``'s published layout and returns the number
    of tensors plus, where the cache keeps only part of the file, a writer of that part (else None)."""

    def __call__(self, name: str, src: Path, what: str) -> tuple[int, Callable[[Path], None] | None]: ...


# The torch layer (painterly.nn.weights) registers the checker when it is imported; the hub never imports
# torch, so without it installed files are checked by sha256 only.
_CHECKER: list[Checker] = []


def set_checker(fn: Checker) -> None:
    _CHECKER[:] = [fn]


def _checker() -> Checker | None:
    """The registered checker; where torch is installed but the torch layer not yet loaded, load it by
    name (a plugin lookup: the hub must not import the layer above it)."""
    if not _CHECKER and torch_available():
        import importlib

        importlib.import_module("painterly.nn.weights")
    return _CHECKER[0] if _CHECKER else None


@dataclass(frozen=True)
class Entry:
    """One published checkpoint."""

    name: str
    filename: str                     # the published file name
    urls: tuple[str, ...]             # canonical first, then mirrors
    description: str
    layout: str                       # layout id; painterly.nn.weights maps it to the expected shapes
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
            layout="vgg19-torchvision",
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
            layout="vgg19-torchvision",
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
            layout="vgg19-normalised",
            layout_doc="nn.Sequential state_dict with keys {0,2,5,9,12,16,19,22,25,29,32,35,38,42,45,48,51}"
            ".{weight,bias}; key 0 is a 1x1 Conv(3->3)",
            licence="MIT (pytorch-AdaIN)",
        ),
        Entry(
            name="adain-decoder",
            filename="decoder.pth",
            urls=("https://github.com/naoto0804/pytorch-AdaIN/releases/download/v0.0.0/decoder.pth",),
            description="AdaIN decoder (Huang & Belongie 2017), trained by pytorch-AdaIN",
            layout="decoder",
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
            layout="decoder",
            layout_doc="nn.Sequential state_dict with keys {1,5,8,11,14,18,21,25,28}.{weight,bias}",
            direct_download=False,
            licence="MIT (GlebSBrykin/SANET)",
        ),
        Entry(
            name="sanet-transformer",
            filename="transformer_iter_500000.pth",
            urls=("https://yadi.sk/d/GhQe3g_iRzLKMQ",),
            description="SANet style-attention transformer (relu4_1 + relu5_1 + merge_conv), 500k iterations",
            layout="sanet-transformer",
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


def _present(p: Path) -> bool:
    """A usable cache file: exists, is a file, is not empty (a failed copy must not count as cached)."""
    try:
        return p.is_file() and p.stat().st_size > 0
    except OSError:
        return False


def require(name: str) -> Path:
    """Path of a cached checkpoint, or a one-line WeightsMissingError naming the URL and import command."""
    p = path(name)
    if not _present(p):
        raise WeightsMissingError(missing_message(name))
    return p


def is_cached(name: str) -> bool:
    return _present(path(name))


# ----------------------------------------------------------------------------------------------------
# loading and layout checks
# ----------------------------------------------------------------------------------------------------

def sha256_file(p: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(p, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


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
    if src.stat().st_size == 0:
        raise PainterlyError(f"weights file {src} is empty.")
    what = f"weights file {src}"
    dest = path(name)
    dest.parent.mkdir(parents=True, exist_ok=True)
    keys = 0
    write: Callable[[Path], None] | None = None
    check = _checker()
    if check is not None:
        keys, write = check(name, src, what)
    elif not ok:
        # without torch only the checksum can vouch for the file, so an unchecked one is not stored
        raise PainterlyError(f"{src}: {note}, and its layout cannot be checked without torch; install "
                             "it (pip install \"painterly[torch]\") and import again.")
    else:
        note += "; layout not checked (torch is not installed)"
    with atomic_path(dest) as tmp:
        if write is not None:  # re-save only what the cache keeps
            write(tmp)
        else:                  # otherwise the published bytes, unchanged
            shutil.copyfile(src, tmp)
    info = {
        "name": name,
        "published_file": e.filename,
        "source": source or str(src.resolve()),
        "source_sha256": digest,
        "verified": ok,
        "note": note,
        "stored_sha256": sha256_file(dest),
        "keys": keys or None,
        "imported_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    atomic_write_bytes(_manifest_path(dest), json.dumps(info, indent=2).encode())
    return ImportReport(name, dest, digest, ok, note, keys)


def _download(url: str, dest: Path, expected_size: int | None, progress: bool) -> None:
    """Stream ``url`` into ``dest``; a short or cut-off body is an error (the caller deletes ``dest``)."""
    import urllib.request  # only when downloading (its import costs ~25 ms of every start-up)

    from tqdm import tqdm

    req = urllib.request.Request(url, headers={"User-Agent": "painterly"})
    got = 0
    with urllib.request.urlopen(req, timeout=60) as r, open(dest, "wb") as f:  # noqa: S310 (https URLs)
        declared = int(r.headers.get("Content-Length") or 0) or None
        total = declared or expected_size
        with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name.split(".part")[0],
                  disable=not progress) as bar:
            while block := r.read(1 << 20):
                f.write(block)
                got += len(block)
                bar.update(len(block))
    if got == 0:
        raise ValueError("the server sent an empty file")
    if declared is not None and got != declared:
        raise ValueError(f"the download was cut off after {got} of {declared} bytes")
    if expected_size is not None and got != expected_size:
        raise ValueError(f"got {got} bytes, the published file has {expected_size}")


def fetch(name: str, progress: bool = True, verify: bool = True) -> ImportReport:
    """Download ``name`` (trying mirrors in order) to a temp file, verify, convert and store atomically."""
    e = entry(name)
    if not e.direct_download:
        raise PainterlyError(
            f"'{name}' is published on a sharing page that cannot be downloaded by a program; "
            + import_hint(name) + "."
        )
    import tempfile

    weights_dir().mkdir(parents=True, exist_ok=True)
    errors = []
    for url in e.urls:
        # a plain temporary file, always deleted: only import_file (checksum + layout) writes the cache
        fd, tmp_name = tempfile.mkstemp(prefix=f".{e.filename}.", suffix=".part.download", dir=weights_dir())
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            try:
                _download(url, tmp, e.size, progress)
            except (OSError, ValueError) as exc:
                errors.append(f"{url}: {' '.join(str(exc).split()) or type(exc).__name__}")
                continue
            return import_file(name, tmp, verify=verify, source=url)
        finally:
            tmp.unlink(missing_ok=True)
    raise PainterlyError(f"could not download '{name}' ({'; '.join(errors)}); " + import_hint(name) + ".")


@dataclass
class VerifyReport:
    name: str
    status: str        # ok | missing | modified | wrong-layout | unverified
    detail: str


def verify(name: str) -> VerifyReport:
    """Re-hash a cached file against its manifest and re-check its layout."""
    p = path(name)
    if not _present(p):
        return VerifyReport(name, "missing", missing_message(name))
    m = manifest(name) or {}
    digest = sha256_file(p)
    if m.get("stored_sha256") and m["stored_sha256"] != digest:
        return VerifyReport(name, "modified", f"{p} changed since it was imported (sha256 {digest[:12]}…)")
    check = _checker()
    if check is None:
        status = "ok" if m.get("verified") else "unverified"
        return VerifyReport(name, status, "sha256 matches the manifest; layout not checked "
                            "(torch is not installed: pip install \"painterly[torch]\")")
    try:
        check(name, p, f"cached weights '{name}' ({p})")
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
        present = _present(p)
        m = manifest(name) if present else None
        state = "missing"
        if present:
            state = "cached" if (m and m.get("verified")) else "cached (unverified)"
        rows.append({"name": name, "status": state, "path": str(p),
                     "size": p.stat().st_size if present else e.size, "url": e.urls[0],
                     "description": e.description})
    return rows


def warn(msg: str) -> None:
    print(f"warning: {msg}", file=sys.stderr)
