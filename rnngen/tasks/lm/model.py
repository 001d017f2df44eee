"""A trained model, from Python: ``rnngen.load(path)`` and what it can do (generate, score,
evaluate, draw its heatmap). The command line's ``sample``, ``score``, ``eval`` and ``heatmap`` are
thin calls of these methods.

The kernels compile (or load from Numba's cache) at the first call that needs them; ``warm`` does
it ahead of time. Nothing here prints.
"""

from collections.abc import Iterable, Iterator
from typing import Any

from rnngen.checkpoint import Checkpoint
from rnngen.errors import DataError, UsageError, UserError
from rnngen.generate.config import SampleConfig
from rnngen.generate.score import LineScore
from rnngen.results import EvalResult
from rnngen.tasks.models import TrainedModel

SCORE_CHUNK = 4096  # lines scored at a time by ``score_chunks``


class LanguageModel(TrainedModel):
    """A trained language model: ``generate``, ``samples``, ``score``, ``evaluate``,
    ``heatmap``. (``rnngen.load`` picks the class from the checkpoint.)

    >>> model = rnngen.load("runs/corpus-20261121-101500")  # doctest: +SKIP
    >>> "".join(model.generate(prime="The ", length=40, temp=0.8, seed=1))  # doctest: +SKIP
    """

    def __init__(self, ckpt: Checkpoint, threads: int | None = None) -> None:
        super().__init__(ckpt, threads)
        self._sampler = self._batch = None

    # ---- what it is ---------------------------------------------------------------------------

    @property
    def level(self) -> str:
        """``"char"`` or ``"word"``."""
        return self.checkpoint.vocab.level

    def __repr__(self) -> str:
        c = self.config
        return (
            f"<rnngen.LanguageModel {c.level} {c.cell} {c.layers}x{c.hidden}, vocabulary "
            f"{c.vocab_size:,}, {self.path}>"
        )

    # ---- generating ---------------------------------------------------------------------------

    def unknown_words(self, prime: str) -> list[str]:
        """Words of ``prime`` the model will read as ``<unk>`` (word level). A prime with
        characters a char-level model does not know raises ``PrimeError``."""
        return self._sampling().encode_prime(prime)[1]

    def generate(self, prime: str = "", **settings: Any) -> Iterator[str]:
        """Yield ``prime``, then the generated text in pieces as it comes.

        Settings (``rnngen sample``'s options): ``length`` (1000 tokens), ``temp`` (1.0), ``top_k``,
        ``top_p``, ``seed`` (same seed, same text), ``stop``, ``repetition_penalty``,
        ``no_repeat_ngram``, ``beam`` (K beams: the most likely continuation, yielded whole)."""
        SampleConfig.check_names(settings, "generate")
        cfg = SampleConfig(prime=prime, **settings).validate()
        if cfg.num != 1:
            raise UserError("generate gives one text; use samples(num, ...) for more")
        if cfg.beam:
            yield self._beam(cfg)[0][0]  # the best beam, whole
            return
        if cfg.batched:
            ids = self._sampling().encode_prime(prime)[0]
            yield from self._batched().stream(ids, cfg)
            return
        yield from self._sampling().generate(cfg)

    def samples(self, num: int, prime: str = "", **settings: Any) -> list[str]:
        """``num`` texts, each ``prime`` and its continuation, generated as one batch; sample i is
        reproducible from ``seed`` (it draws from a generator seeded with seed and i). With
        ``beam=K``: the ``num`` best of the K beams, best first. Settings as for ``generate``."""
        SampleConfig.check_names(settings, "samples")
        cfg = SampleConfig(prime=prime, num=num, **settings).validate()
        if cfg.beam:
            return [text for text, _ in self._beam(cfg)]
        ids = self._sampling().encode_prime(prime)[0]
        return self._batched().samples(ids, cfg)

    def _beam(self, cfg: SampleConfig) -> list[tuple[str, float]]:
        from rnngen.generate.beam import beam_search

        ids = self._sampling().encode_prime(cfg.prime)[0]
        return beam_search(self._batched(), ids, cfg)

    def _sampling(self):
        if self._sampler is None:
            from rnngen.generate.sample import Sampler

            self._sampler = Sampler(self.checkpoint, threads=self.threads)
        return self._sampler

    def _batched(self):
        if self._batch is None:
            from rnngen.generate.batch import BatchGenerator

            # small GEMMs, one per layer and token: one thread (on a busy machine a second BLAS
            # thread that is descheduled stalls every step)
            from rnngen.kernels.threads import apply, plan_threads

            apply(plan_threads(self.threads or 1, 1))
            self._batch = BatchGenerator(self.checkpoint)
        return self._batch

    # ---- scoring ------------------------------------------------------------------------------

    def score(self, lines: Iterable[str]) -> list[LineScore]:
        """Each line's surprisal on its own, from the state after a line break, its line end
        included: ``.bits``, ``.tokens``, ``.bits_per_token``, ``.bits_per_char``,
        ``.perplexity``."""
        return [s for chunk in self.score_chunks(list(lines)) for s in chunk]

    def score_chunks(
        self, lines: list[str], source: str = "the text", chunk: int = SCORE_CHUNK
    ) -> Iterator[list[LineScore]]:
        """``score`` in chunks of ``chunk`` lines, every line read (and checked: a character the
        model does not know raises ``DataError`` naming ``source`` and the line) before any is
        scored. ``unknown`` then holds the words read as ``<unk>``."""
        from rnngen.generate.score import MAX_BATCH, encode_lines, score_sequences

        seqs, start, self.unknown = encode_lines(self.checkpoint.vocab, lines, source)
        net = self._net(MAX_BATCH)
        self.warm("score", MAX_BATCH)
        chars = [len(line) + 1 for line in lines]  # the line end counts
        for a in range(0, len(lines), chunk):
            yield score_sequences(net, seqs[a : a + chunk], start, chars[a : a + chunk])

    def _evaluate(
        self,
        path: str | None,
        text: str | None,
        batch_size: int = 16,
        seq_len: int = 64,
        source: str | None = None,
        encoding: str = "utf-8",
        errors: str = "strict",
    ) -> EvalResult:
        """Loss on the text, every token after the first scored with the state carried across
        windows of ``batch_size`` x ``seq_len``: ``.loss`` (nats per token),
        ``.bits_per_token``, ``.bits_per_char`` (the summed loss over the text's characters),
        ``.perplexity``, ``.tokens``. ``unknown`` then holds the word types read as ``<unk>``."""
        from rnngen.config.training import EvalConfig
        from rnngen.data.batches import eval_shape
        from rnngen.data.text import read_text
        from rnngen.generate.evaluate import evaluate
        from rnngen.nn.memory import FLOAT, activation_floats, check_fits

        EvalConfig(batch_size=batch_size, seq_len=seq_len).validate()
        if path is not None:
            text, name = read_text(path, encoding, errors)
            source = source or name
        source = source or "the text"
        vocab = self.checkpoint.vocab
        self.unknown = vocab.unknown(text)
        if self.unknown and vocab.level == "char":
            shown = ", ".join(repr(ch) for ch in self.unknown[:20])
            raise DataError(f"{source}: has characters the model does not know: {shown}")
        tokens = vocab.encode(text)
        if len(tokens) < 2:
            raise DataError(f"{source}: needs at least two tokens to score")
        B, T = eval_shape(len(tokens), batch_size, seq_len)
        check_fits(
            FLOAT * activation_floats(self.config, T, B),
            f"evaluating in batches of {B} x {T}",
            "use a smaller --batch-size or --seq-len",
        )
        net = self._net(B)
        self.warm("eval", B)
        res = evaluate(net, tokens, batch_size, seq_len)
        res.chars = len(text)
        return res

    def _plan(self, batch: int) -> int:
        from rnngen.kernels.threads import apply, plan_threads

        plan = plan_threads(self.threads, batch)
        apply(plan)
        return plan.parts

    def _net(self, batch: int):
        return self.checkpoint.build_model(parts=self._plan(batch))

    # ---- pictures -----------------------------------------------------------------------------

    def heatmap(
        self, text: str, max_tokens: int = 2000, source: str = "the text", beam: int | None = None
    ) -> str:
        """A self-contained HTML page of ``text`` as the model reads it: each token coloured by
        its surprisal, the top-5 predictions on hover, and a picker recolouring the text by any
        hidden unit, with the units that best track quotes, brackets and position ranked.
        (``beam`` is a sequence-to-sequence model's: refused here.)"""
        from rnngen.pictures.heatmap import heatmap_page

        if beam is not None:
            raise UsageError(f"{self.path}: --beam is for sequence-to-sequence models")

        self.warm("batch")
        return heatmap_page(self._batched(), text, max_tokens, source, self.path)

    # ---- kernels ------------------------------------------------------------------------------

    USES = ("sample", "batch", "score", "eval")

    def warm(self, use: str | None = None, batch: int | None = None) -> None:
        """Compile (or load from the cache) the kernels of ``use`` now: ``"sample"`` (one
        sample, the default), ``"batch"`` (many samples, beam search, the controls, the heatmap),
        ``"score"`` or ``"eval"`` (in batches of ``batch`` rows)."""
        from rnngen.generate.warm import warm_lm_kernels, warm_sampling_kernels

        use, cell = use or "sample", self.config.cell
        if use not in self.USES:
            raise UsageError(f"warm: use must be one of {', '.join(self.USES)} (got {use!r})")
        if use == "sample":
            warm_sampling_kernels(cell)
        elif use in ("eval", "score"):
            warm_lm_kernels(self._plan(batch or 1), cell, scoring=use == "score")
        else:
            warm_lm_kernels(1, cell)
