"""From generated token ids to text: decoding chunk by chunk, and ending a sample at a stop string
(held back while the text might be the start of it)."""

from collections.abc import Iterable, Iterator

import numpy as np

from rnngen.data.vocab import StreamDecoder, Vocab


def stream_text(
    chunks: Iterable[np.ndarray], decode: StreamDecoder, stop: str | None
) -> Iterator[str]:
    """The text of ``chunks`` of token ids, piece by piece, ending before ``stop`` (not yielded)
    when it appears. The caller stops producing chunks when this generator returns."""
    pending = ""
    for ids in chunks:
        text = pending + decode(ids)
        if stop:
            cut = text.find(stop)
            if cut >= 0:
                if cut:
                    yield text[:cut]
                return
            keep = min(len(stop) - 1, len(text))
            pending, text = text[len(text) - keep :], text[: len(text) - keep]
        if text:
            yield text
    if pending:
        yield pending


def cut_at(text: str, stop: str | None) -> str:
    """``text`` up to the first ``stop`` (all of it when there is none)."""
    if not stop:
        return text
    cut = text.find(stop)
    return text if cut < 0 else text[:cut]


def start_ids(vocab: Vocab, prime_ids: np.ndarray) -> np.ndarray:
    """The prime's ids after the start token: a text begins as after a line break (``\\n`` at
    char level, ``<eos>`` at word level, the line end's byte at bpe level), as training saw every
    line but the first."""
    start = vocab.stoi.get(vocab.line_end)
    if start is not None:
        return np.concatenate([[start], prime_ids]).astype(np.int64)
    return prime_ids.astype(np.int64)


def decoder_after(vocab: Vocab, prime: str) -> StreamDecoder:
    """A decoder for what follows ``prime`` (at word level: a space before the first word unless
    the prime ends a line)."""
    decode = vocab.decoder()
    decode.at_line_start = prime == "" or prime.endswith("\n")
    return decode


def resolve_seed(seed: int | None) -> int:
    """``seed`` in [0, 2**32), or a random one."""
    if seed is None:
        seed = np.random.SeedSequence().entropy % 2**32
    return int(seed) % 2**32
