"""``--format web``: a language model as a static page that samples in the browser:
``DIR/index.html``, the page's scripts (``rnngen.js``: the model's step in plain JavaScript over
typed arrays; ``page.js``: the controls and the streaming) and ``weights.js``, a script that
defines the weights (base64 in JSON), which a page opened from the file system can read: browsers
refuse ``fetch`` of a neighbouring file under ``file://``, not a ``<script src>``.

The page's files are package data, in ``rnngen/export/page/``.
"""

import base64
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from rnngen.errors import UsageError
from rnngen.export.plain import PlainModel, plain_model, quantize
from rnngen.files import atomic_write, fsync_dir

ASSETS = ("rnngen.js", "page.js", "index.html")  # written after weights.js, the page last
FORMAT = 1  # of weights.js's RNNGEN_MODEL


def write_web(model: Any, dest: Path, int8: bool) -> list[Path]:
    """Write the language model ``model`` (``rnngen.load``'s) as a static page in the directory
    ``dest``: created whole under a temporary name and renamed when new; an existing directory's
    files are replaced one by one, each atomically, ``index.html`` last. ``int8``: int8 weights
    with a scale per row. Returns the files written."""
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise UsageError(f"{dest}: is a file; --format web writes a directory (index.html, ...)")
    m = plain_model(model)
    files = {"weights.js": weights_js(m, int8).encode("utf-8")}
    page = Path(__file__).parent / "page"
    for name in ASSETS:
        files[name] = (page / name).read_bytes()
    if dest.is_dir():
        for name, data in files.items():
            atomic_write(dest / name, data)
        return [dest / name for name in files]
    tmp = dest.with_name(f".{dest.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir(parents=False)
        for name, data in files.items():
            atomic_write(tmp / name, data)
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_dir(dest.parent)
    return [dest / name for name in files]


def model_spec(m: PlainModel, int8: bool) -> dict:
    """What ``rnngen.js`` reads: the sizes, the vocabulary and the weights (base64), every matrix
    with one row per output (see ``rnngen/export/page/rnngen.js``)."""
    tensors: dict[str, dict] = {}

    def put(key: str, a: np.ndarray) -> None:
        a = np.ascontiguousarray(a)
        dtype = "int8" if a.dtype == np.int8 else "float32"
        a = a.astype("<f4" if dtype == "float32" else np.int8, copy=False)
        data = base64.b64encode(a.tobytes()).decode("ascii")
        tensors[key] = {"dtype": dtype, "shape": list(a.shape), "data": data}

    def matrix(key: str, W: np.ndarray) -> None:  # W (K, N), used as x @ W: stored (N, K)
        if int8:
            q, scale = quantize(W, axis=1)
            put(key, q.T)
            put(key + ".scale", scale)
        else:
            put(key, W.T)

    def table(key: str, W: np.ndarray) -> None:  # W (V, N), read by row
        if int8:
            q, scale = quantize(W, axis=0)
            put(key, q)
            put(key + ".scale", scale)
        else:
            put(key, W)

    layer0 = "table" if m.table_is_smaller() else "embed"
    if layer0 == "table":
        table("table0", m.table0)
    else:
        table("embed", m.embed)
    for k, layer in enumerate(m.layers):
        if k or layer0 == "embed":
            matrix(f"layer{k}.W_ih", layer.W_ih)
        matrix(f"layer{k}.W_hh", layer.W_hh)
        for bname, b in zip(m.bias_names, layer.biases, strict=True):
            put(f"layer{k}.{bname}", b)
    matrix("out.W", m.W_out)
    put("out.b", m.b_out)
    put("start", m.start.reshape(-1))
    return {
        "format": FORMAT,
        "rnngen": m.version,
        "name": m.name,
        "source": m.source,
        "level": m.level,
        "cell": m.cell,
        "layers": m.L,
        "hidden": m.H,
        "embed": m.E,
        "gates": m.gates,
        "biases": list(m.bias_names),
        "state": list(m.state_names),
        "tokens": m.tokens,
        "start_token": m.start_token,
        "layer0": layer0,
        "dtype": "int8" if int8 else "float32",
        "params": m.n_params(),
        "tensors": tensors,
    }


def weights_js(m: PlainModel, int8: bool) -> str:
    """The script that defines ``RNNGEN_MODEL`` for the page."""
    spec = model_spec(m, int8)
    tensors = spec.pop("tensors")
    head = json.dumps(spec, ensure_ascii=True)
    lines = ",\n".join(f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in tensors.items())
    return (
        f"// weights.js: {m.describe()}, {spec['dtype']} weights, exported by rnngen "
        f"{m.version}.\n// Read by rnngen.js; the format is described there.\n"
        f'var RNNGEN_MODEL = {head[:-1]}, "tensors": {{\n{lines}\n}}}};\n'
    )
