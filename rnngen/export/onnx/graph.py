"""A small builder over ``onnx.helper``: initializers and nodes with names made unique, inputs and
outputs with their shapes and descriptions (what netron shows), and the finished model.

Nothing here knows rnngen's networks; ``lm.py`` and ``seq2seq.py`` build their graphs with it."""

from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17  # LayerNorm-era opset: onnxruntime >= 1.13, onnx.js, netron all read it
IR_VERSION = 8  # the IR that opset 17 shipped with: older runtimes accept the file

DTYPES = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.int64): TensorProto.INT64}

Dim = int | str  # a fixed size, or a named dynamic dimension ("B", "T", "S")


class Graph:
    """Nodes, initializers, inputs and outputs of one ONNX graph (or a subgraph: ``Scan``'s body
    reads the outer graph's initializers by name)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.inputs: list[onnx.ValueInfoProto] = []
        self.outputs: list[onnx.ValueInfoProto] = []
        self.described: dict[str, str] = {}  # input or output name -> what it means
        self._used: set[str] = set()

    def fresh(self, base: str) -> str:
        """A name not used yet in this graph, from ``base``."""
        name, n = base, 1
        while name in self._used:
            n += 1
            name = f"{base}_{n}"
        self._used.add(name)
        return name

    def const(self, name: str, value: Any, dtype=np.float32) -> str:
        """An initializer (a weight or a constant) named after ``name``."""
        name = self.fresh(name)
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype), name))
        return name

    def ints(self, name: str, values: list[int] | int) -> str:
        """An int64 constant (shapes, axes, indices)."""
        return self.const(name, values, np.int64)

    def op(
        self,
        op_type: str,
        inputs: list[str],
        name: str | None = None,
        outputs: int = 1,
        **attrs: Any,
    ) -> Any:
        """Add one node; its output name (or names, when ``outputs`` > 1)."""
        base = name or op_type.lower()
        outs = [self.fresh(base if outputs == 1 else f"{base}_{i}") for i in range(outputs)]
        self.nodes.append(
            helper.make_node(op_type, inputs, outs, name=self.fresh("node_" + base), **attrs)
        )
        return outs[0] if outputs == 1 else outs

    def input(self, name: str, dtype, shape: list[Dim], doc: str) -> str:
        self._used.add(name)
        self.inputs.append(helper.make_tensor_value_info(name, DTYPES[np.dtype(dtype)], shape, doc))
        self.described[name] = doc
        return name

    def output(self, value: str, name: str, dtype, shape: list[Dim], doc: str) -> None:
        """Expose ``value`` as the graph output ``name`` (an Identity renames it)."""
        if value != name:
            self._used.add(name)
            self.nodes.append(helper.make_node("Identity", [value], [name], name=f"out_{name}"))
        self.outputs.append(
            helper.make_tensor_value_info(name, DTYPES[np.dtype(dtype)], shape, doc)
        )
        self.described[name] = doc

    def graph(self, doc: str = "") -> onnx.GraphProto:
        return helper.make_graph(
            self.nodes, self.name, self.inputs, self.outputs, self.inits, doc_string=doc
        )

    def model(self, doc: str, metadata: dict[str, str]) -> onnx.ModelProto:
        """The finished, checked model, with ``metadata`` as its ``metadata_props``."""
        from rnngen._version import __version__

        model = helper.make_model(
            self.graph(doc),
            opset_imports=[helper.make_opsetid("", OPSET)],
            producer_name="rnngen",
            producer_version=__version__,
            doc_string=doc,
        )
        model.ir_version = IR_VERSION
        helper.set_model_props(model, metadata)
        onnx.checker.check_model(model)
        return model
