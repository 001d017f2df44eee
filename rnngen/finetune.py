"""Fine-tuning a trained model on a new corpus (``rnngen train NEW --init-from MODEL``).

The new corpus may hold characters or words the old vocabulary lacks: they are appended to it, so
every old token keeps its id, and the model grows matching embedding and output rows, initialised
as a fresh model's are (``Trainer.load_weights`` copies the old weights over a fresh model).
"""

from collections import Counter

from rnngen.vocab import EOS, UNK, Vocab


def extend_vocab(
    vocab: Vocab,
    text: str,
    val_text: str | None = None,
    max_vocab: int | None = None,
    min_count: int = 1,
) -> tuple[Vocab, list[str]]:
    """(``vocab`` with the tokens of the new text it lacks appended, those tokens).

    Char level: every new code point of the text (and of ``val_text``), sorted. Word level: new
    words of the training text seen at least ``min_count`` times, most frequent first, while the
    vocabulary stays within ``max_vocab``; the others will read as <unk>.
    """
    if vocab.level == "char":
        new = sorted(set(text + (val_text or "")) - set(vocab.stoi))
    else:
        counts = Counter(w for line in text.split("\n") for w in line.split())
        for special in (EOS, UNK):
            counts.pop(special, None)
        new = sorted(
            (w for w, n in counts.items() if n >= min_count and w not in vocab.stoi),
            key=lambda w: (-counts[w], w),
        )
        if max_vocab is not None:
            new = new[: max(0, max_vocab - len(vocab))]
    return Vocab(vocab.level, [*vocab.itos, *new]), new
