"""A trained sequence-to-sequence model, as the Python API hands it out (``rnngen.load`` picks
this class for a seq2seq checkpoint, ``rnngen.tasks.lm.model.Model`` for a language model)."""

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import rnngen.checkpoint as checkpoint
from rnngen.checkpoint import Checkpoint
from rnngen.errors import DataError, UsageError
from rnngen.tasks.models import TrainedModel


class Candidate(tuple):
    """One of the n best outputs of a source, best first: the pair (text, score), where score is
    what beam search ranks by, the log-probability per token (</s> counted); ``logprob`` is the
    total log-probability. Unpacks and compares as the pair: ``for text, score in candidates``."""

    logprob: float

    def __new__(cls, text: str, score: float, logprob: float) -> "Candidate":
        self = super().__new__(cls, (text, score))
        self.logprob = logprob
        return self

    def __getnewargs__(self) -> tuple[str, float, float]:  # type: ignore[override]
        return (self.text, self.score, self.logprob)

    @property
    def text(self) -> str:
        return self[0]

    @property
    def score(self) -> float:
        """Log-probability per token, </s> counted."""
        return self[1]

    def __repr__(self) -> str:
        return f"Candidate(text={self.text!r}, score={self.score!r}, logprob={self.logprob!r})"


class Seq2SeqModel(TrainedModel):
    """Turns source lines into target lines: ``translate``; ``evaluate`` against references.
    (``rnngen.load`` picks the class from the checkpoint.)

    >>> g2p = rnngen.load("runs/words-20261121-101500")  # doctest: +SKIP
    >>> g2p.translate(["ghoti"], beam=5)  # doctest: +SKIP
    """

    def __init__(
        self, ckpt: Checkpoint, threads: int | None = None, ensemble: Sequence[Checkpoint] = ()
    ) -> None:
        super().__init__(ckpt, threads)
        self.members = list(ensemble)  # more models that decode together with this one
        self._tr = None
        self._parts = 1

    def ensemble(self, *others: "str | Path | Seq2SeqModel") -> "Seq2SeqModel":
        """This model and ``others`` (checkpoint files, run directories or loaded models) as one
        ensemble: translation and evaluation use the log of their mean probability at every
        step. The models need the same vocabularies and the same decoder shape (cell, layers,
        hidden units, encoder width, attention family); raises ``rnngen.UserError`` naming the
        one that differs."""
        cks = [
            o.checkpoint if isinstance(o, TrainedModel) else checkpoint.load(checkpoint.resolve(o))
            for o in others
        ]
        for ck in cks:
            if ck.task != self.checkpoint.task:
                raise UsageError(
                    f"{ck.path}: is not a sequence-to-sequence model; an ensemble "
                    "decodes sequence-to-sequence models together"
                )
            problem = _mismatch(self.checkpoint, ck)
            if problem is not None:
                raise UsageError(f"{ck.path}: cannot decode together with {self.path}: {problem}")
        return Seq2SeqModel(self.checkpoint, self.threads, [*self.members, *cks])

    def __repr__(self) -> str:
        m, s = self.checkpoint.model_cfg, self.checkpoint.task_cfg
        more = f", in an ensemble of {1 + len(self.members)}" if self.members else ""
        return (
            f"<rnngen seq2seq model {self.path}: {m.cell} x{m.layers} H{m.hidden}, "
            f"{s.encoder} encoder, {s.attention} attention{more}>"
        )

    def translator(self, batch: int = 32):
        """The ``rnngen.generate.translate.Translator`` of this model, threads planned for
        ``batch`` inputs at a time."""
        from rnngen.generate.translate import Translator
        from rnngen.kernels.threads import apply, plan_threads

        plan = plan_threads(self.threads, batch)
        apply(plan)
        if self._tr is None or self._parts != plan.parts:
            ck = self.checkpoint
            others = [m.build_model(parts=plan.parts) for m in self.members]
            self._tr = Translator(
                ck.build_model(parts=plan.parts), ck.vocabs["src_vocab"], ck.vocab, others
            )
            self._parts = plan.parts
        return self._tr

    USES = ("translate", "eval", "heatmap")  # the same kernels

    def warm(self, use: str | None = None, batch: int | None = None) -> None:
        """Compile (or load from the cache) the kernels translation, evaluation and the
        attention page use, for ``batch`` sources at a time (32)."""
        from rnngen.generate.warm import warm_seq2seq_kernels

        if use is not None and use not in self.USES:
            raise UsageError(f"warm: use must be one of {', '.join(self.USES)} (got {use!r})")
        ck = self.checkpoint
        warm_seq2seq_kernels(
            self.translator(batch or 32).model.parts, ck.model_cfg.cell, ck.task_cfg.attention
        )

    def translate_lines(
        self,
        lines: Iterable[tuple[str, str]],
        beam: int = 5,
        n_best: int = 1,
        max_len: int | None = None,
        temp: float = 0.0,
        seed: int = 0,
        batch_size: int = 32,
        on_error: str = "stop",
    ) -> Iterator[Any]:
        """``Translation``s of (line, where) pairs, in order, a batch at a time (``on_error``:
        as ``translate``; a skipped line's ``Translation`` has no outputs and its ``error``)."""
        tr = self.translator(batch_size)
        yield from tr.translate(
            lines,
            beam,
            n_best,
            max_len or self.checkpoint.task_cfg.max_len,
            temp,
            seed,
            batch_size,
            on_error,
        )

    def translate(
        self,
        lines: Iterable[str] | str,
        beam: int = 5,
        n_best: int = 1,
        max_len: int | None = None,
        temp: float = 0.0,
        seed: int = 0,
        batch_size: int = 32,
        on_error: str = "stop",
    ) -> "list[str] | list[list[Candidate]]":
        """The best output of each line; with ``n_best`` > 1, the n best of each as
        ``Candidate``s, best first: (output, score) pairs whose score is what the search ranks
        by, the log-probability per token (</s> counted), with the total log-probability as
        ``.logprob``. Beam search of width ``beam`` (1: greedy), or sampling at ``temp`` > 0.
        A line it cannot read raises ``rnngen.UserError`` naming it (``on_error="stop"``), or
        (``"skip"``) is answered with "" (n_best > 1: no candidates) and a ``UserWarning``."""
        import warnings

        if on_error not in ("stop", "skip"):
            raise UsageError(f"on_error must be 'stop' or 'skip' (got {on_error!r})")
        if isinstance(lines, str):
            lines = [lines]
        numbered = ((line, f"line {n}") for n, line in enumerate(lines, 1))
        out: list = []
        found = self.translate_lines(
            numbered, beam, n_best, max_len, temp, seed, batch_size, on_error
        )
        for t in found:
            if t.error is not None:
                warnings.warn(f"{t.error}; skipped", UserWarning, stacklevel=2)
            if n_best > 1:
                out.append([Candidate(h.text, h.score, h.logprob) for h in t.outputs])
            else:
                out.append(t.outputs[0].text if t.outputs else "")
        return out

    def _evaluate(
        self,
        path: str | None,
        text: str | None,
        beam: int = 5,
        batch_size: int = 32,
        source: str | None = None,
        encoding: str = "utf-8",
        errors: str = "strict",
    ):
        """Teacher-forced loss, then sequence accuracy and token error rate of the decoded
        outputs (``rnngen.generate.seq2seq_eval.Seq2SeqScores``) on source<TAB>target pairs."""
        from rnngen.data.pairs import encode_pairs, parse_pairs, read_pairs
        from rnngen.generate.seq2seq_eval import evaluate_pairs

        ck = self.checkpoint
        s2s = ck.task_cfg
        if path is not None:
            found = read_pairs([path], s2s.src_level, s2s.tgt_level, encoding, errors)[0]
        else:
            found = parse_pairs(text, source or "the text", s2s.src_level, s2s.tgt_level)
            if not found:
                raise DataError(f"{source or 'the text'}: no source<TAB>target pairs in it")
        encoded = encode_pairs(found, ck.vocabs["src_vocab"], ck.vocab, references=True)
        tr = self.translator(batch_size)
        longest = max(len(s) for s in encoded.src)
        tr.max_src = max(tr.max_src, longest)  # evaluation reads every source it is given
        return evaluate_pairs(tr, encoded, beam, batch_size, s2s.max_len * 2)

    def heatmap(
        self, text: str, beam: int = 5, max_tokens: int = 2000, source: str = "the text"
    ) -> str:
        """A self-contained HTML page of the attention: each line of ``text`` (a source, or
        source<TAB>target to mark the output right or wrong) decoded, with the weights each
        output token gave the source tokens. Raises ``rnngen.UserError`` for a model without
        attention or a line it cannot read."""
        from rnngen.pictures.alignment import alignment_page

        if self.members:
            raise UsageError("an ensemble has one attention per model: draw each model alone")
        self.warm()
        tr = self.translator()
        return alignment_page(
            tr, text, beam, self.checkpoint.task_cfg.max_len * 2, max_tokens, source, self.path
        )


def _mismatch(a: Checkpoint, b: Checkpoint) -> str | None:
    """What keeps b's model from decoding together with a's (None: nothing)."""
    from rnngen.generate.translate import ensemble_mismatch

    for what, x, y in (
        ("source", a.vocabs["src_vocab"], b.vocabs["src_vocab"]),
        ("target", a.vocab, b.vocab),
    ):
        if x.level != y.level or x.itos != y.itos:
            return f"the {what} vocabularies differ"
    return ensemble_mismatch(a.model_cfg, a.task_cfg, b.model_cfg, b.task_cfg)


__all__ = ["Candidate", "Seq2SeqModel", "DataError"]
