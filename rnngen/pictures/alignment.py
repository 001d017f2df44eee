"""Where a sequence-to-sequence model looked while it wrote, as data for the alignment page
(``alignment.html``): for each source line, its decoded output (beam search, as ``rnngen
translate``), the probability of each output token, and the attention weights of every decoder
step over the source tokens — the picture of Bahdanau et al. 2015's Figure 3. With references
(``source<TAB>target`` lines, as ``rnngen eval`` reads), each output is marked right or wrong.

The weights come from one teacher-forced pass of the model over the output it decoded: the
decoder's states are a function of the tokens it was fed, so that pass reads the source exactly as
the search did (the test checks that the token probabilities add up to the search's score).
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rnngen.data.pair_batches import make_batch
from rnngen.data.pairs import PairSet, boundary, joined, tokens
from rnngen.errors import DataError, UsageError
from rnngen.generate.translate import Hypothesis, Translator


@dataclass
class Item:
    """One source line read and written."""

    where: str  # "line 3"
    source: list[str]  # (S,) its tokens
    text: str  # the output, as rnngen translate writes it
    output: list[str]  # (T,) the decoded tokens, then "</s>"
    weights: np.ndarray  # (T, S) attention of each output step over the source
    logp: np.ndarray  # (T,) log-probability of each output token
    references: list[str] = field(default_factory=list)


def parse(text: str, source: str) -> list[tuple[str, str, list[str]]]:
    """(where, source, references) of each non-blank line: a source, or source<TAB>target (a
    source on several lines gathers their targets as its references)."""
    items: dict[str, tuple[str, str, list[str]]] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        src, tab, ref = line.partition("\t")
        if tab and "\t" in ref:
            raise DataError(
                f"{source}: line {n}: more than one tab; give a source, or "
                "source<TAB>target, per line"
            )
        if not src.strip():
            raise DataError(f"{source}: line {n}: the source is empty")
        entry = items.setdefault(src, (f"line {n}", src, []))
        if tab and ref.strip():
            entry[2].append(ref)
    if not items:
        raise DataError(f"{source}: has no lines to read; give one source per line")
    return list(items.values())


def read(
    tr: Translator,
    text: str,
    beam: int,
    max_len: int,
    max_tokens: int,
    source: str,
    batch: int = 32,
) -> list[Item]:
    """Decode every source of ``text`` and record how the model attended while writing it."""
    model = tr.model
    if model.s2s.attention == "none":
        raise UsageError(
            f"{source}: this model has no attention (--attention none) to show; "
            "its decoder sees the source through its initial state only"
        )
    lines = parse(text, source)
    encoded = [tr.encode_source(src, f"{source}: {where}") for where, src, _ in lines]
    total = sum(len(e) for e in encoded)
    if total > max_tokens:
        raise DataError(
            f"{source}: has {total:,} source tokens, more than --max-tokens "
            f"{max_tokens:,}; give fewer lines or a larger --max-tokens"
        )
    tgt = tr.tgt_vocab
    bos = boundary(tgt)
    items = []
    for a in range(0, len(lines), batch):
        srcs = encoded[a : a + batch]
        outs = [
            found[0] if found else Hypothesis("", [], 0.0)
            for found in tr.search(srcs, beam, 1, max_len)
        ]
        pairs = PairSet(srcs, [np.array(o.tokens, np.int32) for o in outs], [""] * len(srcs))
        weights, logp = model.alignments(make_batch(pairs, np.arange(len(srcs)), bos))
        for b, ((where, src, refs), out) in enumerate(zip(lines[a : a + batch], outs, strict=True)):
            S, T = len(srcs[b]), len(out.tokens) + 1
            written = tgt.spans(out.tokens) + ["</s>"]
            seen = weights[b, :T, :S].astype(np.float64)
            items.append(
                Item(
                    where,
                    _read(src, srcs[b], tr.src_vocab),
                    out.text,
                    written,
                    seen,
                    logp[b, :T],
                    refs,
                )
            )
    return items


def _read(src: str, ids: np.ndarray, vocab) -> list[str]:
    """A source's tokens as the page shows them: as read (characters, words with <unk> shown as
    written), or the text each subword spans."""
    return vocab.spans(ids) if vocab.level == "bpe" else tokens(src, vocab.level)


def page_data(
    items: list[Item],
    tgt_level: str,
    src_level: str,
    beam: int,
    source: str,
    model_path: Path | None,
) -> dict:
    """The JSON the page reads: per line its tokens, output, the weights (rounded to 4 places),
    token probabilities, score, and references with whether the output matched one."""
    rows = []
    for it in items:
        text = it.text
        refs = [joined(tokens(r, tgt_level), tgt_level) for r in it.references]
        rows.append(
            {
                "where": it.where,
                "source": it.source,
                "output": it.output,
                "weights": np.round(it.weights, 4).tolist(),
                "probs": np.round(np.exp(it.logp), 4).tolist(),
                "logprob": round(float(it.logp.sum()), 4),
                "text": text,
                "references": refs,
                "correct": (text in refs) if refs else None,
            }
        )
    return {
        "source": source,
        "model": str(model_path) if model_path else "",
        "beam": beam,
        "src_level": src_level,
        "tgt_level": tgt_level,
        "lines": rows,
    }


def alignment_page(
    tr: Translator,
    text: str,
    beam: int,
    max_len: int,
    max_tokens: int,
    source: str,
    model_path: Path | None,
) -> str:
    """The self-contained HTML page of ``text``'s sources, decoded, with their attention."""
    from rnngen.pictures.page import render

    items = read(tr, text, beam, max_len, max_tokens, source)
    data = page_data(items, tr.tgt_vocab.level, tr.src_vocab.level, beam, source, model_path)
    return render(data, "alignment.html")
