"""``rnngen info``: what a model is, and how it was trained."""

import json
from pathlib import Path
from typing import Annotated

import typer

from rnngen.cli.errors import user_errors
from rnngen.cli.output import write
from rnngen.cli.params import MODEL_HELP, Shared, settings_options


@settings_options(Shared.only("json_out", "quiet"))
def info(
    model: Annotated[Path, typer.Argument(help=MODEL_HELP)],
    *,
    shared: Shared,
) -> None:
    """What a model is: cell, sizes, parameters, vocabulary, corpus, training so far."""
    from rnngen.tasks.models import load

    with user_errors():
        m = load(model)
        d = m.info()
        rows = m.task.info_rows(d)
    write(json.dumps(d) + "\n" if shared.json_out else _human(d, rows))
    # info prints nothing on stderr; --quiet is accepted as everywhere


def _human(d: dict, task_rows: list[tuple[str, str]]) -> str:
    rows = [
        ("model", d["path"]),
        ("cell", f"{d['cell']}, {d['layers']} layers, hidden {d['hidden']}, embed {d['embed']}"),
        *task_rows,
        ("parameters", f"{d['parameters']:,}"),
        ("corpus", f"{d['corpus']} (fingerprint {d['fingerprint']})"),
    ]
    epochs = f" ({d['epochs']:.2f} epochs)" if isinstance(d["epochs"], int | float) else ""
    rows.append(("trained", f"{d['steps']:,} steps{epochs}"))
    if d["best_val_loss"] is not None:
        at = f" at step {d['best_step']:,}" if d["best_step"] is not None else ""
        rows.append(("best val loss", f"{d['best_val_loss']:.4f} nats/token{at}"))
    if d.get("best_val_error") is not None:
        rows.append(("best val error", f"{100 * d['best_val_error']:.2f}% of sources (greedy)"))
    text = "".join(f"{k:<15}{v}\n" for k, v in rows)
    if d["history"]:
        errors = any(h.get("val_error") is not None for h in d["history"])
        text += f"{'history':<15}{'step':>8}  {'train':>8}  {'val':>8}"
        text += f"  {'error':>7}\n" if errors else "\n"
        for h in d["history"]:
            text += f"{'':<15}{h['step']:>8,}  {_num(h.get('train_loss')):>8}  "
            text += f"{_num(h.get('val_loss')):>8}"
            text += f"  {_pct(h.get('val_error')):>7}\n" if errors else "\n"
    return text


def _pct(x) -> str:
    return f"{100 * x:.2f}%" if isinstance(x, int | float) else "–"


def _num(x) -> str:
    return f"{x:.4f}" if isinstance(x, int | float) else "–"
