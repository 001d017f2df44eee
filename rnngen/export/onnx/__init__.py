"""``rnngen export --format onnx``: a trained model as ONNX graphs, for onnxruntime and every
other ONNX runtime, built with the ``onnx`` package's helper API (no PyTorch).

A language model becomes ``NAME.onnx`` (the step graph: one token per batch row and the state in,
next-token logits and the new state out) and ``NAME.score.onnx`` (a (T, B) window of ids in, the
log-probability of each token out); a sequence-to-sequence model ``NAME.encoder.onnx`` and
``NAME.decoder.onnx`` (one decoder step, attention inside). What a program needs besides (the
vocabulary, the start state, what each input means) is in each file's metadata (``meta.py``).
"""

from collections.abc import Callable
from pathlib import Path

import onnx

from rnngen.errors import UsageError

SUFFIXES = {  # task -> graph -> what follows NAME
    "lm": {"step": ".onnx", "score": ".score.onnx"},
    "seq2seq": {"encoder": ".encoder.onnx", "decoder": ".decoder.onnx"},
}


def targets(task: str, dest: Path) -> dict[str, Path]:
    """graph -> the file it goes to, for ``-o dest`` (``NAME.onnx``: NAME is dest without
    ``.onnx``). A language model's step graph goes to ``dest`` itself."""
    base = dest.name[: -len(".onnx")] if dest.name.endswith(".onnx") else dest.name
    found = {g: dest.with_name(base + suffix) for g, suffix in SUFFIXES[task].items()}
    if task == "lm":
        found["step"] = dest
    return found


def target_paths(task: str, dest: Path) -> list[Path]:
    """The files ``-o dest`` writes for a model of ``task``."""
    return list(targets(task, dest).values())


def _lm(ck, int8: bool) -> dict[str, onnx.ModelProto]:
    from rnngen.export.onnx import lm, meta

    basic = int8 and not lm.LMWeights.of(ck).cell.quantizable_op
    ops = "basic" if basic else "standard"
    out = {}
    for name, build, doc in (
        ("step", lm.step_graph, "rnngen language model: one step"),
        ("score", lm.score_graph, "rnngen language model: scoring a (T, B) window"),
    ):
        g = build(ck, basic, share_tied=not int8)
        out[name] = g.model(doc, meta.lm(ck, name, g.described, ops, int8))
    return out


def _seq2seq(ck, int8: bool) -> dict[str, onnx.ModelProto]:
    from rnngen.export.onnx import meta, seq2seq

    if int8:
        raise UsageError(
            "--int8 is for language models: a sequence-to-sequence model exports to ONNX in "
            "float32 only (drop --int8)"
        )
    out = {}
    for name, build, doc in (
        ("encoder", seq2seq.encoder_graph, "rnngen seq2seq model: the encoder"),
        ("decoder", seq2seq.decoder_graph, "rnngen seq2seq model: one decoder step"),
    ):
        g = build(ck)
        out[name] = g.model(doc, meta.seq2seq(ck, name, g.described, "standard", False))
    return out


BUILDERS: dict[str, Callable[..., dict[str, onnx.ModelProto]]] = {"lm": _lm, "seq2seq": _seq2seq}


def build(ck, int8: bool = False) -> dict[str, onnx.ModelProto]:
    """graph name -> the ONNX model of the checkpoint ``ck``; int8 weights with ``int8``."""
    models = BUILDERS[ck.task](ck, int8)
    if int8:
        from rnngen.export.onnx.quantize import quantize

        models = {name: quantize(m) for name, m in models.items()}
    return models


def write_onnx(model, dest: Path, int8: bool) -> list[Path]:
    """Write ``model``'s (a loaded ``rnngen.TrainedModel``) graphs beside ``dest``: all to
    temporary files first, then each renamed into place. Returns the files written."""
    from rnngen.export.files import write_files

    ck = model.checkpoint
    paths = targets(ck.task, Path(dest))
    models = build(ck, int8)
    return write_files({paths[name]: m.SerializeToString() for name, m in models.items()})
