"""``rnngen info``: what a model is, and how it was trained."""

import json
from pathlib import Path
from typing import Annotated

import typer

from rnngen.cli.errors import user_errors
from rnngen.cli.output import write
from rnngen.cli.params import Shared, settings_options


@settings_options(Shared.only("json_out", "quiet"))
def info(
    model: Annotated[Path, typer.Argument(help="Checkpoint file or run directory.")],
    *,
    shared: Shared,
) -> None:
    """What a model is: cell, sizes, parameters, vocabulary, corpus, training so far."""
    import rnngen.checkpoint as checkpoint

    with user_errors():
        path = checkpoint.resolve(model)
        ck = checkpoint.load(path)
    d = describe(ck, path)
    write(json.dumps(d) + "\n" if shared.json_out else _human(d))
    # info prints nothing on stderr; --quiet is accepted as everywhere


def describe(ck, path: Path) -> dict:
    """The facts ``rnngen info`` shows, as a JSON-able dict."""
    m, t, i = ck.model_cfg, ck.train_cfg, ck.info
    history = i.get("history") or []
    best = i.get("best_val_loss")
    best_step = next((h["step"] for h in history if h.get("val_loss") == best), None)
    return {
        "path": str(path),
        "cell": m.cell,
        "level": m.level,
        "layers": m.layers,
        "hidden": m.hidden,
        "embed": m.embed,
        "vocab_size": len(ck.vocab),
        "parameters": int(sum(v.size for v in ck.params.values())),
        "corpus": i.get("corpus"),
        "fingerprint": i.get("fingerprint"),
        "steps": ck.step,
        "epochs": i.get("epochs"),
        "best_val_loss": best,
        "best_step": best_step,
        "history": history,
        "model": m.to_dict(),
        "train": t.to_dict(),
        "task": ck.task,
        **({} if ck.s2s is None else {"seq2seq": ck.s2s.to_dict(),
                                      "src_vocab_size": len(ck.src_vocab),
                                      "best_val_error": i.get("best_val_error")}),
    }  # fmt: skip


def _human(d: dict) -> str:
    rows = [
        ("model", d["path"]),
        ("cell", f"{d['cell']}, {d['layers']} layers, hidden {d['hidden']}, embed {d['embed']}"),
        *([] if d.get("seq2seq") else [("level", f"{d['level']}, vocabulary {d['vocab_size']:,}")]),
        *_seq2seq_rows(d),
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


def _seq2seq_rows(d: dict) -> list[tuple[str, str]]:
    s = d.get("seq2seq")
    if s is None:
        return []
    per = "per direction" if s["encoder"] == "bi" else ""
    return [
        ("task", "sequence to sequence (rnngen translate)"),
        ("encoder", f"{s['encoder']}, {s['enc_hidden']} units {per}".rstrip()),
        ("attention", s["attention"]),
        ("source", f"{s['src_level']}, vocabulary {d['src_vocab_size']:,}"),
        ("target", f"{s['tgt_level']}, vocabulary {d['model']['vocab_size']:,} with </s>"),
    ]


def _pct(x) -> str:
    return f"{100 * x:.2f}%" if isinstance(x, int | float) else "–"


def _num(x) -> str:
    return f"{x:.4f}" if isinstance(x, int | float) else "–"
