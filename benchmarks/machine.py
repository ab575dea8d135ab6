"""The machine a benchmark ran on, printed at the top of every benchmark's output (and stored in its JSON):
speed ratios only hold between two sides measured in one run on one machine, so every result names it."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess


def cpu_model() -> str:
    """'AMD EPYC … (family 26 model 2), 2 cores' from /proc/cpuinfo, or platform's guess elsewhere."""
    name, family, model = "", "", ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                key, value = key.strip(), value.strip()
                if key == "model name" and not name:
                    name = value
                elif key == "cpu family" and not family:
                    family = value
                elif key == "model" and not model:
                    model = value
    except OSError:
        pass
    name = name or platform.processor() or platform.machine()
    detail = f" (family {family} model {model})" if family else ""
    return f"{name}{detail}, {os.cpu_count()} cores"


def gpu_model() -> str | None:
    """The CUDA GPU's name if torch sees one (without importing torch when it is not installed)."""
    import importlib.util

    if importlib.util.find_spec("torch") is not None:
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_name(0)
        return None
    if shutil.which("nvidia-smi"):
        out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                             text=True, check=False).stdout.strip()
        return out.splitlines()[0] if out else None
    return None


def describe() -> str:
    gpu = gpu_model()
    return f"CPU: {cpu_model()}" + (f"; GPU: {gpu}" if gpu else "; GPU: none")


def header() -> None:
    print(f"# machine: {describe()}", flush=True)
