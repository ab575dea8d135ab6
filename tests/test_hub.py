"""hub.py: import / verify / missing-file messages / layout checks, all offline."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from conftest import assert_one_line_error, random_state_dict, run_cli
from painterly import hub
from painterly.errors import PainterlyError, WeightsMissingError
from painterly.nn import weights
from painterly.nn.blocks import decoder_layout


def _fake_entry(monkeypatch: pytest.MonkeyPatch, name: str, file: Path, prefix_only: bool = False) -> None:
    """Point a registry entry's published checksum at ``file`` (as if it were the published one)."""
    digest = hashlib.sha256(file.read_bytes()).hexdigest()
    e = hub.REGISTRY[name]
    kw = {"sha256": None, "sha256_prefix": digest[:8]} if prefix_only else {"sha256": digest}
    monkeypatch.setitem(hub.REGISTRY, name, hub.Entry(**{**e.__dict__, **kw}))


def test_missing_weights_message_names_url_and_import_command() -> None:
    with pytest.raises(WeightsMissingError) as e:
        hub.require("vgg19")
    msg = str(e.value)
    assert "\n" not in msg
    assert "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth" in msg
    assert "painterly weights import vgg19" in msg


def test_unknown_name() -> None:
    with pytest.raises(PainterlyError, match="known: .*vgg19"):
        hub.entry("vgg17")


def test_import_strips_classifier_and_verifies(monkeypatch: pytest.MonkeyPatch,
                                               random_vgg_file: Callable[..., Path]) -> None:
    src = random_vgg_file("torchvision", with_classifier=True)
    _fake_entry(monkeypatch, "vgg19", src)
    rep = hub.import_file("vgg19", src)
    assert rep.verified
    stored = torch.load(rep.stored, weights_only=True)
    assert all(k.startswith("features.") for k in stored) and len(stored) == 32
    assert hub.verify("vgg19").status == "ok"
    m = hub.manifest("vgg19")
    assert m and m["source_sha256"] == hashlib.sha256(src.read_bytes()).hexdigest()
    # the stored file is what `load` returns
    sd = weights.load("vgg19")
    assert torch.equal(sd["features.0.weight"], torch.load(src, weights_only=True)["features.0.weight"])


def test_prefix_checksum(monkeypatch: pytest.MonkeyPatch, random_vgg_file: Callable[..., Path]) -> None:
    src = random_vgg_file("caffe")
    _fake_entry(monkeypatch, "vgg19-caffe", src, prefix_only=True)
    assert hub.import_file("vgg19-caffe", src).verified


def test_checksum_mismatch_refused_unless_no_verify(random_vgg_file: Callable[..., Path]) -> None:
    src = random_vgg_file("torchvision")
    with pytest.raises(PainterlyError, match="--no-verify"):
        hub.import_file("vgg19", src)
    assert not hub.path("vgg19").exists()
    rep = hub.import_file("vgg19", src, verify=False)
    assert not rep.verified and hub.path("vgg19").exists()
    assert hub.verify("vgg19").status == "unverified"


def test_wrong_layout_names_expected_layout(tmp_path: Path) -> None:
    p = tmp_path / "decoder.pth"
    torch.save(random_state_dict(decoder_layout()), p)
    with pytest.raises(PainterlyError) as e:
        hub.import_file("vgg-normalised", p)
    msg = str(e.value)
    assert "wrong layout" in msg and "0,2,5,9" in msg and "\n" not in msg
    # right keys, wrong shape
    sd = random_state_dict(decoder_layout())
    sd["1.weight"] = torch.zeros(256, 512, 1, 1)
    torch.save(sd, p)
    with pytest.raises(PainterlyError, match=r"shape of 1.weight is \(256, 512, 1, 1\)"):
        hub.import_file("adain-decoder", p)


def test_not_a_checkpoint(tmp_path: Path) -> None:
    p = tmp_path / "x.pth"
    p.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(PainterlyError, match="not a loadable PyTorch state_dict"):
        hub.import_file("adain-decoder", p)


def test_pickled_module_is_refused_by_weights_only(tmp_path: Path) -> None:
    p = tmp_path / "module.pth"
    torch.save(torch.nn.Linear(2, 2), p)  # a whole pickled module, not a state_dict
    with pytest.raises(PainterlyError, match="not a loadable PyTorch state_dict"):
        weights.load_checkpoint(p)


def test_verify_detects_modified_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    p = tmp_path / "decoder.pth"
    torch.save(random_state_dict(decoder_layout()), p)
    rep = hub.import_file("adain-decoder", p)
    assert not rep.verified  # no published checksum for this file
    assert hub.verify("adain-decoder").status == "unverified"
    with open(rep.stored, "ab") as f:
        f.write(b"x")
    assert hub.verify("adain-decoder").status == "modified"


def test_fetch_refuses_sharing_pages() -> None:
    with pytest.raises(PainterlyError, match="painterly weights import sanet-decoder"):
        hub.fetch("sanet-decoder")


def test_fetch_downloads_verifies_and_stores(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """fetch through a file:// URL (no network): temp file, checksum, atomic store, manifest."""
    src = tmp_path / "decoder.pth"
    torch.save(random_state_dict(decoder_layout()), src)
    e = hub.REGISTRY["adain-decoder"]
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    monkeypatch.setitem(hub.REGISTRY, "adain-decoder",
                        hub.Entry(**{**e.__dict__, "urls": (src.as_uri(),), "sha256": digest}))
    rep = hub.fetch("adain-decoder", progress=False)
    assert rep.verified and rep.stored.read_bytes() == src.read_bytes()
    assert json.loads(rep.stored.with_name(rep.stored.name + ".json").read_text())["source"] == src.as_uri()
    assert [p.name for p in rep.stored.parent.iterdir() if ".download" in p.name] == []


def test_fetch_bad_checksum_leaves_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    src = tmp_path / "decoder.pth"
    torch.save(random_state_dict(decoder_layout()), src)
    e = hub.REGISTRY["adain-decoder"]
    monkeypatch.setitem(hub.REGISTRY, "adain-decoder",
                        hub.Entry(**{**e.__dict__, "urls": (src.as_uri(),), "sha256": "0" * 64}))
    with pytest.raises(PainterlyError, match="differs"):
        hub.fetch("adain-decoder", progress=False)
    assert list(hub.weights_dir().iterdir()) == []


# -- CLI ----------------------------------------------------------------------------------------------

def test_cli_weights_commands(tmp_path: Path, random_vgg_file: Callable[..., Path]) -> None:
    proc = run_cli("weights", "list")
    assert proc.returncode == 0
    assert all(n in proc.stdout for n in ("vgg19", "vgg19-caffe", "vgg-normalised", "adain-decoder",
                                         "sanet-decoder", "sanet-transformer"))
    assert "missing" in proc.stdout

    src = random_vgg_file("normalised")
    proc = run_cli("weights", "import", "vgg-normalised", src)
    assert proc.returncode == 0, proc.stderr
    assert "UNVERIFIED" in proc.stderr
    proc = run_cli("weights", "list", "--json")
    row = next(r for r in json.loads(proc.stdout) if r["name"] == "vgg-normalised")
    assert row["status"] == "cached (unverified)" and Path(row["path"]).exists()
    assert run_cli("weights", "path", "vgg-normalised").stdout.strip() == row["path"]
    proc = run_cli("weights", "verify", "vgg-normalised")
    assert proc.returncode == 0 and "unverified" in proc.stdout

    proc = run_cli("weights", "import", "vgg19", src)
    assert_one_line_error(proc, "--no-verify")
    proc = run_cli("weights", "import", "vgg19", src, "--no-verify")
    assert_one_line_error(proc, "wrong layout", "features.")
    proc = run_cli("weights", "verify", "vgg19")
    assert proc.returncode == 1 and "missing" in proc.stdout
