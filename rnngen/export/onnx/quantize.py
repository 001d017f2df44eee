"""``--int8``: dynamic quantization of the weights by onnxruntime's quantizer.

``quantize_dynamic`` stores each MatMul's weight as int8 with a scale per output column and runs
it as ``MatMulInteger`` (the activations quantized on the fly, per call), the LSTM operator's W and
R as ``DynamicQuantizeLSTM``, and the embedding as int8 rows behind a ``Gather``. It has no GRU or
RNN entry: those cells are exported from MatMuls for ``--int8`` (``cells.basic_step``), and their
scoring graph runs that step in a ``Scan``, whose body it quantizes as well."""

import logging
import tempfile
from pathlib import Path

import onnx


def quantize(model: onnx.ModelProto) -> onnx.ModelProto:
    """``model`` with int8 weights; its metadata kept."""
    props = {p.key: p.value for p in model.metadata_props}
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # its advice to pre-process (shape inference) goes to stderr
    try:
        return _quantize(model, props)
    finally:
        root.setLevel(level)


def _quantize(model: onnx.ModelProto, props: dict[str, str]) -> onnx.ModelProto:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(prefix="rnngen-int8-") as tmp:
        src, out = Path(tmp) / "float.onnx", Path(tmp) / "int8.onnx"
        onnx.save(model, src)
        quantize_dynamic(
            src,
            out,
            per_channel=True,
            weight_type=QuantType.QInt8,
            extra_options={"EnableSubgraph": True},
        )
        q = onnx.load(out)
    del q.metadata_props[:]
    onnx.helper.set_model_props(q, props)
    return q
