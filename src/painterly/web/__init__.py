"""The web UI behind ``painterly serve``: a Gradio page over painterly.api.

Everything a request does goes through the same API as the CLI, so the page cannot drift from the
command line; the page only adds what a browser needs (upload checks that end in a message, a bounded
queue, progress, the built-in style gallery, painted regions, webcam, video and pix2pix tabs).
Gradio is imported here only (the ``web`` extra); nothing in this package talks to the internet.

* offer.py — what the page offers (methods and their weights status, built-in styles, examples, pix2pix)
* jobs.py — requests as plain functions (photo, painted mask, webcam frames, video)
* page.py — the Gradio layout and its handlers
"""

from __future__ import annotations

import os

# Set before gradio is imported: no telemetry, no "new version available" request. Not a setdefault —
# a server that promises to stay local must not be switched back on by a stray environment variable.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

from .jobs import (BUILTIN, IMAGE, MAX_STYLES, PRESERVE_CHOICES, STRENGTH_OPTION, PipelineCache, ServeConfig,
                   StylizeRequest, editor_mask, load_upload, painted_labels, request_from, run_stylize, run_video,
                   stylize_frame)
from .offer import (EXAMPLE, THUMB_SIZE, MethodState, builtin_styles, builtin_thumbnails, method_states,
                    pix2pix_translator)
from .page import build_app, launch, serve

__all__ = ["BUILTIN", "EXAMPLE", "IMAGE", "MAX_STYLES", "PRESERVE_CHOICES", "STRENGTH_OPTION", "THUMB_SIZE",
           "MethodState", "PipelineCache", "ServeConfig", "StylizeRequest", "build_app", "builtin_styles",
           "builtin_thumbnails", "editor_mask", "launch", "load_upload", "method_states", "painted_labels",
           "pix2pix_translator", "request_from", "run_stylize", "run_video", "serve", "stylize_frame"]
