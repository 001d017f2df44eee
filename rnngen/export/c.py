"""``--format c``: a language model as one C99 file that needs nothing but libm: the weights as
``static const`` arrays (float32, or int8 with one scale per output column), the state in a
struct the caller owns, a step function, and a ``main`` that samples text
(``./model [-p PRIME] [-t TEMP] [-n LENGTH] [-s SEED]``).

The code that does not depend on the weights is in ``rnngen.export.c_source``; this module picks
the cell's parts, fills in the sizes and writes the arrays.
"""

from pathlib import Path
from string import Template
from typing import Any

import numpy as np

from rnngen.errors import UsageError
from rnngen.export import c_source as src
from rnngen.export.plain import PlainModel, plain_model, quantize
from rnngen.files import atomic_write

PER_LINE = {"float": 8, "int8_t": 16, "unsigned": 16, "int": 16}


def write_c(model: Any, dest: Path, int8: bool) -> list[Path]:
    """Write the language model ``model`` (``rnngen.load``'s) to the C file ``dest``,
    atomically; ``int8``: int8 weights with per-column scales. Returns [dest]."""
    dest = Path(dest)
    if dest.is_dir():
        raise UsageError(f"{dest}: is a directory; --format c writes one file (e.g. model.c)")
    text = c_source(plain_model(model), int8, dest.name)
    atomic_write(dest, text.encode("utf-8"))
    return [dest]


def c_source(m: PlainModel, int8: bool, name: str = "model.c") -> str:
    """The C file's text for the plain model ``m``."""
    layer0 = "table" if m.table_is_smaller() else "embed"
    level = "character" if m.level == "char" else "word"
    what = f"a {level}-level {m.cell} language model ({m.describe().split(', ', 1)[1]})"
    start_what = "none" if m.start_token is None else _c_string(m.tokens[m.start_token])
    if int8:
        quantized = (
            "The weights are int8, each with a float32 scale per output column (per row of the\n"
            " * embedding table): about 4x smaller than float32, and close to, not the same as,\n"
            " * the float32 model's logits: its text can part from `rnngen sample --temp 0`."
        )
    else:
        quantized = "The weights are float32, as trained."
    activations = "\n\n".join(src.ACTIVATIONS[a] for a in src.USES[m.cell])
    header = Template(src.HEADER).substitute(
        name=_comment(name),
        what=_comment(what),
        what_c=_c_string(what)[1:-1],
        version=m.version,
        source=_comment(m.source),
        example=_example(m),
        quantized=quantized,
        L=m.L,
        H=m.H,
        E=m.E,
        G=m.G,
        V=m.V,
        S=len(m.state_names),
        gate_blocks="[" + " | ".join(m.gates) + "]",
        state_names=" and ".join(m.state_names),
        start_token=-1 if m.start_token is None else m.start_token,
        start_what=_comment(start_what),
        word_level=int(m.level == "word"),
        matrix_type=src.MATRIX_I8 if int8 else src.MATRIX_F32,
        layer0_note="; at layer 0 TABLE0 stands for it" if layer0 == "table" else "",
        nb=len(m.bias_names),
        bias_names=", ".join(m.bias_names),
        input_decl=src.INPUT_DECL[(layer0, int8)],
        activations=activations,
        matvec=src.MATVEC_I8 if int8 else src.MATVEC_F32,
        layer0_input=src.INPUT_FN[(layer0, int8)],
        cell_step=src.CELL_STEP[m.cell],
    )
    return header + src.TOKENS_AND_MAIN + _weights(m, int8, layer0)


# ---- the weights --------------------------------------------------------------------------------


def _weights(m: PlainModel, int8: bool, layer0: str) -> str:
    parts: list[str] = []
    add = parts.append
    # layer 0's input
    if layer0 == "table":
        add(_table("TABLE0", m.table0, int8, "(V, G) embed @ W_ih of layer 0", "N_GATES"))
    else:
        add(_table("EMBED", m.embed, int8, "(V, E) the embedding", "N_EMBED"))
    refs = []
    for k, layer in enumerate(m.layers):
        add(f"/* layer {k} */")
        if k == 0 and layer0 == "table":
            w_ih = "{0}"
        else:
            D = "N_HIDDEN" if k else "N_EMBED"
            add(_matrix(f"L{k}_W_IH", layer.W_ih, int8, f"({D[2]}, G) layer {k}'s W_ih", D))
            w_ih = _ref(f"L{k}_W_IH", int8)
        add(_matrix(f"L{k}_W_HH", layer.W_hh, int8, f"(H, G) layer {k}'s W_hh", "N_HIDDEN"))
        biases = []
        for name, b in zip(m.bias_names, layer.biases, strict=True):
            add(_array(f"L{k}_{name.upper()}", b, "float", f"(G) layer {k}'s {name}", "N_GATES"))
            biases.append(f"L{k}_{name.upper()}")
        refs.append(f"    {{{w_ih}, {_ref(f'L{k}_W_HH', int8)}, {{{', '.join(biases)}}}}},")
    add("static const layer_weights LAYERS[N_LAYERS] = {\n" + "\n".join(refs) + "\n};")
    add("/* the output layer */")
    add(_matrix("OUT_WEIGHTS", m.W_out, int8, "(H, V) the output weights", "N_HIDDEN"))
    add(f"static const matrix OUT_W = {_ref('OUT_WEIGHTS', int8)};")
    add(_array("OUT_B", m.b_out, "float", "(V) the output bias", "N_VOCAB"))
    start = "N_LAYERS * N_STATE * N_HIDDEN"
    add(_array("START", m.start.reshape(-1), "float", "(L, S, H) the start state", start))
    add(_tokens(m.tokens))
    return "\n\n".join(parts) + "\n"


def _ref(name: str, int8: bool) -> str:
    return f"{{{name}_Q, {name}_SCALE}}" if int8 else f"{{{name}}}"


def _matrix(name: str, W: np.ndarray, int8: bool, what: str, K: str) -> str:
    """A (K, N) matrix used as x @ W: float32, or int8 with a scale per column. ``K``: the C
    name of its row count."""
    N = "N_VOCAB" if name == "OUT_WEIGHTS" else "N_GATES"
    if not int8:
        return _array(name, W.reshape(-1), "float", what, f"{K} * {N}")
    q, scale = quantize(W, axis=1)
    return (
        _array(name + "_Q", q.reshape(-1), "int8_t", what + ", int8", f"{K} * {N}")
        + "\n\n"
        + _array(name + "_SCALE", scale, "float", "its scale per column", N)
    )


def _table(name: str, W: np.ndarray, int8: bool, what: str, N: str) -> str:
    """A (V, N) table read by row: float32, or int8 with a scale per row. ``N``: the C name of
    its width."""
    if not int8:
        return _array(name, W.reshape(-1), "float", what, f"N_VOCAB * {N}")
    q, scale = quantize(W, axis=0)
    return (
        _array(name + "_Q", q.reshape(-1), "int8_t", what + ", int8", f"N_VOCAB * {N}")
        + "\n\n"
        + _array(name + "_SCALE", scale, "float", "its scale per row", "N_VOCAB")
    )


def _array(name: str, a: np.ndarray, ctype: str, what: str, size: str) -> str:
    """``static const CTYPE NAME[SIZE] = {...};`` with a comment, a fixed number a line."""
    a = np.asarray(a).reshape(-1)
    if ctype == "float":
        # 9 significant digits give every float32 back exactly
        items = [f"{v:.9g}" for v in a.astype(np.float64).tolist()]
    else:
        items = [str(v) for v in a.tolist()]
    per = PER_LINE[ctype]
    lines = (", ".join(items[i : i + per]) for i in range(0, len(items), per))
    body = ",\n    ".join(lines)
    return f"/* {what} */\nstatic const {ctype} {name}[{size}] = {{\n    {body},\n}};"


def _tokens(tokens: list[str]) -> str:
    """The vocabulary: TOKENS (id -> text), TOKEN_BYTES and BY_TEXT (ids sorted by their bytes)."""
    data = [t.encode("utf-8") for t in tokens]
    literals = [_c_string(t) for t in tokens]
    lines, line = [], ""
    for lit in literals:
        if line and len(line) + len(lit) > 92:
            lines.append(line.rstrip())
            line = ""
        line += lit + ", "
    lines.append(line.rstrip())
    order = sorted(range(len(data)), key=lambda i: data[i])
    return (
        "/* the vocabulary: token id -> its text */\n"
        "static const char *const TOKENS[N_VOCAB] = {\n    "
        + "\n    ".join(lines)
        + "\n};\n\n"
        + _array(
            "TOKEN_BYTES", np.array([len(d) for d in data]), "unsigned", "their bytes", "N_VOCAB"
        )
        + "\n\n"
        + _array("BY_TEXT", np.array(order), "int", "token ids sorted by their bytes", "N_VOCAB")
    )


def _c_string(token: str) -> str:
    """A C string literal of ``token``'s UTF-8 bytes: printable ASCII as it is (``?`` escaped,
    against trigraphs), the rest as escapes."""
    named = {ord("\n"): "\\n", ord("\t"): "\\t", ord('"'): '\\"', ord("\\"): "\\\\"}
    named[ord("?")] = "\\?"
    out = []
    for b in token.encode("utf-8"):
        if b in named:
            out.append(named[b])
        elif 0x20 <= b < 0x7F:
            out.append(chr(b))
        else:
            out.append(f"\\{b:03o}")
    return '"' + "".join(out) + '"'


def _comment(text: str) -> str:
    """``text`` safe inside a C comment, on one line."""
    return text.replace("*/", "* /").replace("\n", " ")


def _example(m: PlainModel) -> str:
    """A prime for the usage example in the file's header: a few tokens the model knows."""
    if m.level == "word":
        words = [t for t in m.tokens[2:] if t.isalpha()][:1]
        return " ".join(words)
    return "".join(c for c in "The " if c in m.tokens) or ""
