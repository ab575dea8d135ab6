"""Generic training data: image listing/reading helpers, an image-folder dataset and a resumable
infinite sampler (method-specific datasets live with their method, e.g. methods/pix2pix/data.py).

Reproducibility contract: the sampler yields ``(index, seed)`` pairs and every dataset draws its random
augmentation (crop, flip) from ``seed`` alone. The stream of samples is therefore a pure function of
(seed, position), whatever the number of workers, and a resumed run sees exactly the samples an
uninterrupted run would have seen.
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset, Sampler

from ..errors import PainterlyError

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}

Item = tuple[int, int]
"""(dataset index, augmentation seed) — what InfiniteSampler yields."""


def list_images(root: str | Path, what: str = "image folder") -> list[Path]:
    """Image files under ``root`` (recursive, sorted, hidden files skipped); a clear error if none."""
    root = Path(root)
    if not root.exists():
        raise PainterlyError(f"{what} not found: {root}")
    if not root.is_dir():
        raise PainterlyError(f"{what} {root} is not a folder.")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTS and p.is_file()
                   and not any(part.startswith(".") for part in p.relative_to(root).parts))
    if not files:
        raise PainterlyError(f"{what} {root} contains no image files ({', '.join(sorted(IMAGE_EXTS))}).")
    return files


def readable_images(files: Sequence[Path], what: str = "image folder") -> list[Path]:
    """Drop files Pillow cannot open (warning with a count); an error if nothing is left."""
    good, bad = [], []
    for f in files:
        try:
            with Image.open(f) as im:
                im.verify()
            good.append(f)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            bad.append(f)
    if bad:
        warnings.warn(f"skipped {len(bad)} unreadable file(s) in the {what}, e.g. {bad[0]}", stacklevel=2)
    if not good:
        raise PainterlyError(f"{what}: none of the {len(files)} image file(s) could be read.")
    return good


DECODE_ERRORS = (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError)


def open_rgb(path: Path) -> Image.Image:
    try:
        with Image.open(path) as im:
            return im.convert("RGB")
    except DECODE_ERRORS as exc:
        raise PainterlyError(f"cannot read training image {path}: {exc}") from None


def to_chw(img: Image.Image) -> torch.Tensor:
    """PIL RGB → float32 [3, H, W] in [0, 1] (a dataset item; batching adds N)."""
    arr = np.asarray(img, dtype=np.float32) / 255.0
    return torch.from_numpy(arr.copy()).permute(2, 0, 1)


# ----------------------------------------------------------------------------------------------------
# sampler
# ----------------------------------------------------------------------------------------------------

class InfiniteSampler(Sampler[Item]):
    """Endless shuffled passes over ``n`` items, sharded across ``world`` ranks, resumable by position.

    Pass e uses the permutation ``randperm(n, seed + e)``, padded (wrapping) to a multiple of ``world``;
    rank r takes every world-th element from r. ``start`` is the number of samples this rank has already
    consumed (``iteration × batch size``), so resuming continues mid-pass exactly.
    """

    def __init__(self, n: int, seed: int = 0, rank: int = 0, world: int = 1, start: int = 0,
                 shuffle: bool = True) -> None:
        if n <= 0:
            raise PainterlyError("the training set is empty.")
        self.n, self.seed, self.rank, self.world, self.start, self.shuffle = n, seed, rank, world, start, shuffle
        self.per_rank = -(-n // world)  # ceil

    def pass_order(self, e: int) -> list[int]:
        if self.shuffle:
            order = torch.randperm(self.n, generator=torch.Generator().manual_seed(self.seed + e)).tolist()
        else:
            order = list(range(self.n))
        total = self.per_rank * self.world
        order = (order * (total // self.n + 1))[:total]
        return order[self.rank::self.world]

    def item(self, position: int) -> Item:
        e, j = divmod(position, self.per_rank)
        idx = self.pass_order(e)[j]
        # a distinct augmentation seed per (pass, global slot), independent of the worker count
        return idx, (self.seed * 1_000_003 + e * 7919 + j * self.world + self.rank) % (2 ** 31)

    def __iter__(self) -> Iterator[Item]:
        pos = self.start
        e, j = divmod(pos, self.per_rank)
        while True:
            order = self.pass_order(e)
            for jj in range(j, self.per_rank):
                yield order[jj], (self.seed * 1_000_003 + e * 7919 + jj * self.world + self.rank) % (2 ** 31)
            e, j = e + 1, 0

    def __len__(self) -> int:  # a DataLoader wants one; the stream is endless
        return 2 ** 62


# ----------------------------------------------------------------------------------------------------
# datasets
# ----------------------------------------------------------------------------------------------------

class ImageFolderDataset(Dataset[torch.Tensor]):
    """All images under a folder (recursive): resize the short side to ``load_size``, random-crop
    ``crop_size`` (the AdaIN/SANet recipe: 512 → 256), [0, 1] tensors. Unreadable files are skipped."""

    def __init__(self, root: str | Path, load_size: int = 512, crop_size: int = 256, what: str = "image folder",
                 check: bool = True) -> None:
        files = list_images(root, what)
        self.files = readable_images(files, what) if check else files
        self.skipped = len(files) - len(self.files)
        self.bad: set[Path] = set()   # files that failed to decode during training (this process)
        if crop_size > load_size > 0:
            raise PainterlyError(f"crop size {crop_size} is larger than the load size {load_size}.")
        self.load_size, self.crop_size = load_size, crop_size

    def __len__(self) -> int:
        return len(self.files)

    def _decoded(self, idx: int) -> tuple[int, Image.Image]:
        """The image at ``idx``, or — when it fails to decode (truncated, corrupt: Image.verify does not
        catch those) — the next one that does; each failure is skipped and counted like an unreadable
        file found at start-up, never fatal while another file can be read."""
        n = len(self.files)
        for k in range(n):
            j = (idx + k) % n
            path = self.files[j]
            if path in self.bad:
                continue
            try:
                with Image.open(path) as im:
                    return j, im.convert("RGB")
            except DECODE_ERRORS as exc:
                self.bad.add(path)
                self.skipped += 1
                warnings.warn(f"skipped unreadable training image {path} ({' '.join(str(exc).split())[:120]}); "
                              f"{len(self.bad)} skipped while training", stacklevel=2)
        raise PainterlyError(f"none of the {n} training image(s) could be decoded.")

    def __getitem__(self, item: int | Item) -> torch.Tensor:
        idx, seed = item if isinstance(item, tuple) else (item, item)
        rng = random.Random(seed)
        idx, img = self._decoded(idx)
        if self.load_size:
            w, h = img.size
            s = self.load_size / min(w, h)
            img = img.resize((max(self.crop_size, round(w * s)), max(self.crop_size, round(h * s))),
                             Image.Resampling.BILINEAR)
        w, h = img.size
        if self.crop_size > min(w, h):
            raise PainterlyError(f"training image {self.files[idx]} ({w}x{h}) is smaller than the crop "
                                 f"size {self.crop_size}.")
        x, y = rng.randint(0, w - self.crop_size), rng.randint(0, h - self.crop_size)
        return to_chw(img.crop((x, y, x + self.crop_size, y + self.crop_size)))
