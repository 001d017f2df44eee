"""``rnngen score`` and ``rnngen info``: what a model thinks of each line, and what a model is.

Registered on the main app by ``rnngen.cli``; the shared helpers (the stderr console, ``fail``,
``user_errors``) are imported from there when a command runs, which keeps the import one-way.
"""

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

CHUNK_LINES = 4096  # lines scored, then printed, at a time


def score_cmd(
    model: Annotated[Path, typer.Argument(help="Checkpoint file or run directory.")],
    path: Annotated[str, typer.Argument(help="Text whose lines to score; '-' reads stdin.")] = "-",
    json_out: Annotated[
        bool, typer.Option("--json", help="One JSON object per line instead of TSV.")
    ] = False,
    encoding: Annotated[str, typer.Option(help="Text encoding of the input.")] = "utf-8",
    errors: Annotated[
        str, typer.Option(help="Undecodable bytes: 'strict' (refuse) or 'replace'.")
    ] = "strict",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors on stderr.")] = False,
) -> None:
    """Surprisal of each input line: total bits, bits per token, perplexity (TSV on stdout).

    Columns: bits, bits/token, perplexity, tokens, the line. Each line is scored on its own, from
    the state the model starts texts in (after a line break), its line end included.
    """
    from rnngen.cli import _write as write_stdout
    from rnngen.cli import check, compiling_status, err, info, user_errors
    from rnngen.data import check_encoding, read_text

    problem = check_encoding(encoding, errors)
    check(problem is None, problem or "")
    from rnngen import checkpoint
    from rnngen.data import DataError
    from rnngen.score import MAX_BATCH, UnknownTokenError, encode_lines, score_sequences
    from rnngen.threads import apply as apply_threads
    from rnngen.threads import plan_threads
    from rnngen.warmup import warm_training_kernels

    with user_errors():
        ckpt = checkpoint.load(checkpoint.resolve(model))
        text, name = read_text(path, encoding, errors, allow_empty=True)
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()  # the text's final line break ends the last line; it is not a line
        plan = plan_threads(None, MAX_BATCH, ckpt.model_cfg.hidden)
        apply_threads(plan)
        net = ckpt.build_model(parts=plan.parts)
        with compiling_status(quiet):
            warm_training_kernels(plan.parts, ckpt.model_cfg.cell, optimizer=None, scoring=True)
        try:  # every line is read before any is scored: a bad line fails before any output
            seqs, start, unknown = encode_lines(ckpt.vocab, lines)
        except UnknownTokenError as e:
            raise DataError(f"{name}: {e}") from None
        if unknown and not quiet:
            shown = ", ".join(repr(w) for w in unknown[:10]) + (", …" if len(unknown) > 10 else "")
            err.print(f"[yellow]warning:[/] {len(unknown):,} word types not in the vocabulary are "
                      f"scored as <unk>: {escape(shown)}")  # fmt: skip
        t0 = time.perf_counter()
        total_bits, total_tokens = 0.0, 0
        for a in range(0, len(lines), CHUNK_LINES):
            scores = score_sequences(net, seqs[a : a + CHUNK_LINES], start)
            out = []
            for k, s in enumerate(scores):
                line = lines[a + k]
                total_bits += s.bits
                total_tokens += s.tokens
                if json_out:
                    out.append(json.dumps({
                        "line": a + k + 1, "bits": s.bits, "bits_per_token": s.bits_per_token,
                        "perplexity": s.perplexity, "tokens": s.tokens, "text": line,
                    }))  # fmt: skip
                else:
                    out.append(f"{s.bits:.4f}\t{s.bits_per_token:.4f}\t{s.perplexity:.4f}\t"
                               f"{s.tokens}\t{line}")  # fmt: skip
            write_stdout("".join(o + "\n" for o in out))
    seconds = time.perf_counter() - t0
    unit = "char" if ckpt.vocab.level == "char" else "token"
    if total_tokens:
        mean = total_bits / total_tokens
        ppl = 2.0 ** min(mean, 1000.0)
        info(f"scored {len(lines):,} lines, {total_tokens:,} {unit}s in {seconds:.1f} s: "
             f"{mean:.4f} bits/{unit}, perplexity {ppl:.4f}", quiet)  # fmt: skip
    else:
        info(f"{name}: no lines to score", quiet)


def info_cmd(
    model: Annotated[Path, typer.Argument(help="Checkpoint file or run directory.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print everything as JSON.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors on stderr.")] = False,
) -> None:
    """What a model is: cell, sizes, parameters, vocabulary, corpus, training so far."""
    from rnngen import checkpoint
    from rnngen.cli import _write as write_stdout
    from rnngen.cli import user_errors

    with user_errors():
        path = checkpoint.resolve(model)
        ck = checkpoint.load(path)
    d = describe(ck, path)
    if json_out:
        write_stdout(json.dumps(d) + "\n")
    else:
        write_stdout(_human(d))
    del quiet  # info prints nothing on stderr; --quiet is accepted as everywhere


def describe(ck, path: Path) -> dict:
    """The facts ``rnngen info`` shows, as a JSON-able dict."""
    m, t, i = ck.model_cfg, ck.train_cfg, ck.info
    history = i.get("history", [])
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
    }


def _human(d: dict) -> str:
    rows = [
        ("model", d["path"]),
        ("cell", f"{d['cell']}, {d['layers']} layers, hidden {d['hidden']}, embed {d['embed']}"),
        ("level", f"{d['level']}, vocabulary {d['vocab_size']:,}"),
        ("parameters", f"{d['parameters']:,}"),
        ("corpus", f"{d['corpus']} (fingerprint {d['fingerprint']})"),
    ]
    epochs = f" ({d['epochs']:.2f} epochs)" if isinstance(d["epochs"], int | float) else ""
    rows.append(("trained", f"{d['steps']:,} steps{epochs}"))
    if d["best_val_loss"] is not None:
        at = f" at step {d['best_step']:,}" if d["best_step"] is not None else ""
        rows.append(("best val loss", f"{d['best_val_loss']:.4f} nats/token{at}"))
    text = "".join(f"{k:<14}{v}\n" for k, v in rows)
    if d["history"]:
        text += f"{'history':<14}{'step':>8}  {'train':>8}  {'val':>8}\n"
        for h in d["history"]:
            val = h.get("val_loss")
            train = h.get("train_loss")
            text += (f"{'':<14}{h['step']:>8,}  {_num(train):>8}  {_num(val):>8}\n")  # fmt: skip
    return text


def _num(x) -> str:
    return f"{x:.4f}" if isinstance(x, int | float) else "–"
