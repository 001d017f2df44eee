"""``rnngen export``: a trained model leaves rnngen, as ONNX graphs (``onnx/``), a static web page
(``web.py``) or one C file (``c.py``). Each format is an entry of ``FORMATS``, its writer imported
only when used (so the formats' extra packages load only for the format asked for);
``export.export`` checks a request and writes it (``export.py``)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Format:
    writer: str  # "module:function": function(model, dest: Path, int8: bool) -> list[Path]
    about: str  # one line for --help and the manual
    tasks: tuple[str, ...]  # the tasks whose models it exports
    int8_tasks: tuple[str, ...]  # ... and those it can give int8 weights
    directory: bool = False  # -o names a directory (else a file)
    needs: tuple[str, ...] = ()  # packages beyond rnngen's own dependencies
    int8_needs: tuple[str, ...] = ()  # ... and more for --int8
    targets: str = ""  # "module:function": (task, dest) -> the paths it writes (else [dest])


FORMATS = {
    "onnx": Format(
        "rnngen.export.onnx:write_onnx",
        "ONNX graphs for onnxruntime and other runtimes (-o NAME.onnx)",
        tasks=("lm", "seq2seq"),
        int8_tasks=("lm",),
        needs=("onnx",),
        int8_needs=("onnxruntime",),
        targets="rnngen.export.onnx:target_paths",
    ),
    "web": Format(
        "rnngen.export.web:write_web",
        "a static web page that samples in the browser (-o DIR)",
        tasks=("lm",),
        int8_tasks=("lm",),
        directory=True,
    ),
    "c": Format(
        "rnngen.export.c:write_c",
        "one C99 file with a step function and a main that samples (-o model.c)",
        tasks=("lm",),
        int8_tasks=("lm",),
    ),
}
