"""The requests that are not streamed token by token: translating (a seq2seq model's beam
search) and scoring (a language model's lines, a seq2seq model's source and target pairs). Each
runs whole on the scheduler's thread, between two steps of the completions' batch, and answers
with plain dicts; a model's refusal (an unknown character, a source too long) is an
``APIError``."""

import math

from rnngen.errors import UserError
from rnngen.server.models import Served
from rnngen.server.protocol import APIError, ScoreRequest, TranslateRequest


def refused(e: UserError, param: str) -> APIError:
    return APIError(400, str(e), param=param, code="unreadable_input")


def translate(served: Served, req: TranslateRequest) -> list[dict]:
    m = served.model
    max_len = req.max_len or m.checkpoint.task_cfg.max_len
    numbered = ((line, f"inputs[{i}]") for i, line in enumerate(req.inputs))
    try:
        found = list(m.translate_lines(numbered, req.beam, req.n_best, max_len))
    except UserError as e:
        raise refused(e, "inputs") from None
    return [
        {
            "index": i,
            "input": t.source,
            "outputs": [
                {"text": h.text, "score": h.score, "logprob": h.logprob} for h in t.outputs
            ],
        }
        for i, t in enumerate(found)
    ]


def score(served: Served, req: ScoreRequest) -> list[dict]:
    return _score_pairs(served, req.inputs) if not served.is_lm else _score_lines(served, req)


def _score_lines(served: Served, req: ScoreRequest) -> list[dict]:
    try:
        scores = served.model.score(req.inputs)
    except UserError as e:
        raise refused(e, "inputs") from None
    return [
        {
            "index": i,
            "text": line,
            "logprob": -s.bits * math.log(2),
            "bits": s.bits,
            "tokens": s.tokens,
            "bits_per_token": s.bits_per_token,
            "bits_per_char": s.bits_per_char,
            "perplexity": s.perplexity,
        }
        for i, (line, s) in enumerate(zip(req.inputs, scores, strict=True))
    ]


def _score_pairs(served: Served, pairs: list[tuple[str, str]]) -> list[dict]:
    """Each target's log-probability given its source, teacher-forced, its end counted."""
    from rnngen.data.pairs import PairSet, boundary, encode_pairs, parse_pairs
    from rnngen.generate.seq2seq_eval import validation_sums

    m = served.model
    ck, s2s = m.checkpoint, m.checkpoint.task_cfg
    out = []
    tr = m.translator(1)
    bos = boundary(tr.tgt_vocab)
    for i, (src, tgt) in enumerate(pairs):
        if "\n" in src or "\n" in tgt:
            raise APIError(400, f"inputs[{i}]: a source or target is one line", param="inputs")
        try:
            found = parse_pairs(f"{src}\t{tgt}", f"inputs[{i}]", s2s.src_level, s2s.tgt_level)
            if not found:
                raise APIError(400, f"inputs[{i}]: the source is empty", param="inputs")
            enc = encode_pairs(found, ck.vocabs["src_vocab"], ck.vocab)
        except UserError as e:
            raise refused(e, "inputs") from None
        nats, tokens = validation_sums(tr.model, PairSet(enc.src, enc.tgt, enc.sources), 1, bos)
        out.append(
            {
                "index": i,
                "source": src,
                "target": tgt,
                "logprob": -nats,
                "tokens": tokens,
                "logprob_per_token": -nats / tokens,
                "perplexity": math.exp(min(nats / tokens, 700.0)),
            }
        )
    return out
