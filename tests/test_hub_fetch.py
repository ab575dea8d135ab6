"""`weights fetch` against a local HTTP server on 127.0.0.1 (never the real network): a failed, cut-off,
short or wrong download leaves nothing in the cache, and `weights list` treats an empty file as missing.
Runs with and without torch (with torch the good file is a real state_dict in the published layout)."""

from __future__ import annotations

import hashlib
import http.server
import importlib.util
import io
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import free_port, run_cli

HAS_TORCH = importlib.util.find_spec("torch") is not None


def _good_bytes() -> bytes:
    if not HAS_TORCH:
        return os.urandom(4096)
    import torch

    from conftest import random_state_dict
    from painterly.nn.blocks import decoder_layout

    buf = io.BytesIO()
    torch.save(random_state_dict(decoder_layout()), buf)
    return buf.getvalue()


GOOD = _good_bytes()


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path == "/good":
            self._send(GOOD, len(GOOD))
        elif self.path == "/wrong":
            body = b"not the published file" * 50
            self._send(body, len(body))
        elif self.path == "/empty":
            self._send(b"", 0)
        elif self.path == "/cut":  # announces the whole file, sends half, then drops the connection
            self._send(GOOD[: len(GOOD) // 2], len(GOOD))
            self.close_connection = True
        else:
            self.send_error(404)

    def _send(self, body: bytes, length: int) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), _Handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _point(monkeypatch: pytest.MonkeyPatch, *urls: str, size: int | None = None) -> None:
    from painterly import hub

    e = hub.REGISTRY["adain-decoder"]
    monkeypatch.setitem(hub.REGISTRY, "adain-decoder", hub.Entry(**{
        **e.__dict__, "urls": urls, "sha256": hashlib.sha256(GOOD).hexdigest(), "size": size}))


def _cache_files() -> list[Path]:
    from painterly import hub

    d = hub.weights_dir()
    return sorted(d.rglob("*")) if d.exists() else []


@pytest.mark.parametrize("path", ["/wrong", "/empty", "/cut", "/missing"])
def test_failed_download_leaves_nothing(server: str, path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from painterly import api, hub
    from painterly.errors import PainterlyError

    _point(monkeypatch, server + path)
    with pytest.raises(PainterlyError) as exc:
        api.weights_fetch("adain-decoder", progress=False)
    assert "\n" not in str(exc.value)
    assert _cache_files() == [], _cache_files()
    assert not hub.is_cached("adain-decoder")
    assert next(r for r in hub.status_rows() if r["name"] == "adain-decoder")["status"] == "missing"


def test_mirror_after_a_failed_one_and_good_file_is_stored(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from painterly import api, hub

    _point(monkeypatch, server + "/cut", server + "/good")
    rep = api.weights_fetch("adain-decoder", progress=False)
    assert rep.verified
    assert hub.path("adain-decoder").read_bytes() == GOOD
    # the cache holds the file and its manifest only: no temporary or part files left behind
    assert [p.name for p in _cache_files()] == ["adain-decoder.pth", "adain-decoder.pth.json"]


def test_size_mismatch_against_the_registry_is_refused(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from painterly import api
    from painterly.errors import PainterlyError

    _point(monkeypatch, server + "/good", size=len(GOOD) + 1)
    with pytest.raises(PainterlyError, match="published file has"):
        api.weights_fetch("adain-decoder", progress=False)
    assert _cache_files() == []


def test_empty_cached_file_counts_as_missing_in_list_and_verify() -> None:
    from painterly import hub

    p = hub.path("adain-decoder")
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(b"")
    proc = run_cli("weights", "list")
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("adain-decoder"))
    assert "missing" in line and "cached" not in line
    assert hub.verify("adain-decoder").status == "missing"


def test_cli_fetch_failure_is_one_line(server: str, tmp_path: Path) -> None:
    # a child process cannot see monkeypatch: point the registry through a tiny sitecustomize
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "from painterly import hub\n"
        "e = hub.REGISTRY['adain-decoder']\n"
        f"hub.REGISTRY['adain-decoder'] = hub.Entry(**{{**e.__dict__, 'urls': ({server + '/cut'!r},)}})\n")
    proc = run_cli("weights", "fetch", "adain-decoder", env={"PYTHONPATH": f"{site}{os.pathsep}"
                                                             f"{Path(__file__).parents[1] / 'src'}"})
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and not ln.startswith(("adain", "\r"))]
    assert proc.returncode == 2
    assert lines[-1].startswith("error: could not download 'adain-decoder'") and "cut off" in lines[-1]
    assert "Traceback" not in proc.stderr
    assert _cache_files() == []
