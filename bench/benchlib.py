"""What the benchmark scripts share: worker processes, the machine's description, the report."""

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# the models, name: (level, V, E, H, L), and the H256 one again with GRU layers (against
# torch.nn.GRU); CELL names the models that are not LSTM. bench_speed adds batch and length.
MODELS = {
    "h128": ("char", 65, 64, 128, 2),
    "h256": ("char", 65, 64, 256, 2),
    "h512": ("char", 65, 64, 512, 2),
    "word": ("word", 10000, 200, 200, 2),
    "gru256": ("char", 65, 64, 256, 2),
}
CELL = {"gru256": "gru"}
GATES = {"lstm": 4, "gru": 3}  # as the cells of rnngen.nn.cells say; the drivers do not import
# rnngen (Numba), and --against compares two checkouts


def cell_of(name: str) -> str:
    return CELL.get(name, "lstm")


class Worker:
    """A benchmark's own script re-run as ``SCRIPT --worker ARGS...``: one JSON request per line
    on its stdin, one JSON answer per line on its stdout. Each engine lives in its own process,
    so neither sees the other's thread pools or environment."""

    def __init__(self, script: str, *args: str, root: Path = ROOT) -> None:
        """``root``: the checkout whose ``rnngen`` the worker imports (this one, or the one given
        to ``--against``)."""
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
        self.proc = subprocess.Popen(
            [sys.executable, script, "--worker", *args, "--root", str(root)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )

    def ask(self, **req) -> dict:
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("worker died (see its stderr above)")
        out = json.loads(line)
        if "error" in out:
            raise RuntimeError(f"{req}: {out['error']}")
        return out

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def torch_available() -> str | None:
    """PyTorch's version if a fresh interpreter can import it, else None."""
    r = subprocess.run(
        [sys.executable, "-c", "import torch; print(torch.__version__)"],
        capture_output=True,
        text=True,
    )
    return r.stdout.strip() if r.returncode == 0 else None


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(cores: int | None = None) -> dict:
    """The machine as every result file describes it."""
    return {
        "cpu": cpu_model(),
        "cores": cores if cores is not None else len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
    }


def write_report(report: dict, path: str) -> None:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}", file=sys.stderr)


def config_names(ap, given: str, known) -> list[str]:
    """The comma-separated ``--configs`` as a list; an unknown name is a usage error."""
    names = [c.strip() for c in given.split(",") if c.strip()]
    unknown = [c for c in names if c not in known]
    if unknown:
        ap.error(f"unknown config(s) {unknown}; choose from {list(known)}")
    return names


def pick_engines(no_torch: bool, against: str | None = None) -> tuple[str | None, list[str]]:
    """PyTorch's version (None if absent or not wanted) and the engines to measure; says so on
    stderr when PyTorch is missing. With ``against`` (another checkout of rnngen) the engines are
    this tree's rnngen and that one's, called ``base``."""
    if against is not None:
        if not (Path(against) / "rnngen" / "__init__.py").is_file():
            sys.exit(f"--against {against}: not a checkout of rnngen (no rnngen/__init__.py)")
        return None, ["rnngen", "base"]
    torch_version = None if no_torch else torch_available()
    if torch_version is None and not no_torch:
        print(
            "PyTorch is NOT installed: measuring rnngen only (pip install torch to compare)",
            file=sys.stderr,
        )
    return torch_version, ["rnngen"] + (["torch"] if torch_version else [])


def ratio_summary(ratios: list[float]) -> dict:
    """Per-round ratios of an alternated run and their median, as the result files record them."""
    import statistics

    return {"median_of_rounds": statistics.median(ratios), "per_round": ratios}
