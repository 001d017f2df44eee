"""``rnngen score``: what a model thinks of each line of a text, one TSV (or JSON) row per line."""

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from rnngen.cli.errors import user_errors
from rnngen.cli.output import compiling_status, info, warn, write
from rnngen.cli.params import MODEL_HELP, Shared, settings_options

CHUNK_LINES = 4096  # lines scored, then printed, at a time


@settings_options(Shared.only("threads", "json_out", "quiet", "encoding", "errors"))
def score(
    model: Annotated[Path, typer.Argument(help=MODEL_HELP)],
    path: Annotated[str, typer.Argument(help="Text whose lines to score; '-' reads stdin.")] = "-",
    *,
    shared: Shared,
) -> None:
    """Surprisal of each input line: total bits, bits per token and per character, perplexity (TSV
    on stdout).

    Columns: bits, bits/token, perplexity, tokens, bits/char, the line. Each line is scored on its
    own, from the state the model starts texts in (after a line break), its line end included
    (it counts as a token and as a character).
    """
    from rnngen.data.text import read_text
    from rnngen.generate.score import MAX_BATCH
    from rnngen.tasks.models import load_for

    quiet = shared.quiet
    with user_errors():
        shared.validate()
        m = load_for(model, shared.threads, "score", "rnngen score")
        text, name = read_text(path, shared.encoding, shared.errors, allow_empty=True)
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()  # the text's final line break ends the last line; it is not a line
        with compiling_status(quiet):
            m.warm("score", MAX_BATCH)
        # every line is read before any is scored: a bad line fails before any output
        chunks = m.score_chunks(lines, name, CHUNK_LINES)
        t0 = time.perf_counter()
        total_bits, total_tokens, total_chars = 0.0, 0, 0
        for n, scores in enumerate(chunks):
            a = n * CHUNK_LINES
            if n == 0 and m.unknown and not quiet:
                unknown = m.unknown
                shown = ", ".join(repr(w) for w in unknown[:10]) + (
                    ", …" if len(unknown) > 10 else ""
                )
                warn(
                    f"{len(unknown):,} word types not in the vocabulary are scored as <unk>: "
                    f"{shown}"
                )
            out = []
            for k, s in enumerate(scores):
                line = lines[a + k]
                total_bits += s.bits
                total_tokens += s.tokens
                total_chars += s.chars
                if shared.json_out:
                    out.append(
                        json.dumps(
                            {
                                "line": a + k + 1,
                                "bits": s.bits,
                                "bits_per_token": s.bits_per_token,
                                "perplexity": s.perplexity,
                                "tokens": s.tokens,
                                "bits_per_char": s.bits_per_char,
                                "chars": s.chars,
                                "text": line,
                            }
                        )
                    )
                else:
                    out.append(
                        f"{s.bits:.4f}\t{s.bits_per_token:.4f}\t{s.perplexity:.4f}\t"
                        f"{s.tokens}\t{s.bits_per_char:.4f}\t{line}"
                    )
            write("".join(o + "\n" for o in out))
    seconds = time.perf_counter() - t0
    unit = "char" if m.level == "char" else "token"
    if total_tokens:
        mean = total_bits / total_tokens
        ppl = 2.0 ** min(mean, 1000.0)
        per_char = "" if m.level == "char" else f", {total_bits / total_chars:.4f} bits/char"
        info(
            f"scored {len(lines):,} lines, {total_tokens:,} {unit}s in {seconds:.1f} s: "
            f"{mean:.4f} bits/{unit}{per_char}, perplexity {ppl:.4f}",
            quiet,
        )
    else:
        info(f"{name}: no lines to score", quiet)
