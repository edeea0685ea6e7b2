"""Shared helpers for the acceptance checks: where cimopt is, and which models to use.

CIMOPT: the console script (default: .venv/bin/cimopt of this repository, the folder two levels
above this file, whatever the current folder).
A model set is either "light" (the real network graphs the onnx package ships) or a TSV file
with rows `name<TAB>file<TAB>shapes<TAB>note` (shapes like x=1x3x224x224,y=1x8, or '-'),
files relative to the TSV's folder or to $MODELS.
"""
import glob
import os
import shutil
import subprocess
import sys

PRESETS = ["isaac", "puma", "pimcomp", "edge", "sram-dimc"]
#: the repository this check belongs to (experiments/checks/ -> the root)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def cimopt() -> str:
    c = os.environ.get("CIMOPT") or os.path.join(ROOT, ".venv", "bin", "cimopt")
    if not os.path.exists(c):
        c = shutil.which("cimopt") or c
    if not os.path.exists(c):
        sys.exit(f"no cimopt found (looked at {c}); run `make test` first or set CIMOPT")
    return c


def light_dir() -> str:
    if os.environ.get("LIGHT"):
        return os.environ["LIGHT"]
    py = os.path.join(os.path.dirname(cimopt()), "python")
    out = subprocess.run([py, "-c", "import onnx,os;print(os.path.dirname(onnx.__file__))"],
                         capture_output=True, text=True, check=True).stdout.strip()
    return os.path.join(out, "backend/test/data/light")


def model_set(which: str):
    """[(name, path, shapes)]"""
    if which == "light":
        return [(os.path.basename(p)[:-5], p, "-") for p in sorted(glob.glob(os.path.join(light_dir(), "*.onnx")))]
    base = os.environ.get("MODELS") or os.path.dirname(os.path.abspath(which))
    rows = []
    for line in open(which):
        if line.startswith("#") or not line.strip():
            continue
        name, f, shapes = line.rstrip("\n").split("\t")[:3]
        rows.append((name, os.path.join(base, f), shapes))
    return rows


def shape_args(shapes: str):
    args = []
    if shapes != "-":
        for kv in shapes.split(","):
            args += ["--input-shape", kv]
    return args


def last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1][:140] if lines else "?"
