"""Translate lines with a sequence-to-sequence model exported by ``rnngen export -o NAME.onnx``
(NAME.encoder.onnx and NAME.decoder.onnx), greedily, with onnxruntime and NumPy alone (no rnngen
needed): one output line per input line, what ``rnngen translate --beam 1`` writes.

    python translate_onnx.py NAME.onnx < sources.txt

A subword (bpe) side's tokenizer is in the metadata; reading it needs Hugging Face's
``tokenizers`` package.
"""

import argparse
import json
import sys

import numpy as np
import onnxruntime as ort


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help="NAME.onnx, as given to rnngen export -o")
    ap.add_argument("sources", nargs="?", default="-", help="source lines ('-': stdin)")
    ap.add_argument("--batch-size", type=int, default=32)
    args = ap.parse_args()
    base = args.model[: -len(".onnx")] if args.model.endswith(".onnx") else args.model
    encoder = ort.InferenceSession(base + ".encoder.onnx", providers=["CPUExecutionProvider"])
    decoder = ort.InferenceSession(base + ".decoder.onnx", providers=["CPUExecutionProvider"])
    meta = encoder.get_modelmeta().custom_metadata_map
    src_vocab = {t: i for i, t in enumerate(json.loads(meta["rnngen.src_vocab"]))}
    tgt_vocab = json.loads(meta["rnngen.tgt_vocab"])
    unk = json.loads(meta["rnngen.src_special_tokens"])["unk"]
    word_src = meta["rnngen.src_level"] == "word"
    src_tokenizer = tokenizer(meta, "rnngen.src_tokenizer")
    tgt_tokenizer = tokenizer(meta, "rnngen.tgt_tokenizer")
    sep = " " if meta["rnngen.tgt_level"] == "word" else ""
    text = sys.stdin.read() if args.sources == "-" else open(args.sources).read()
    lines = text.splitlines()
    for a in range(0, len(lines), args.batch_size):
        batch = []
        for line in lines[a : a + args.batch_size]:
            if src_tokenizer is not None:
                batch.append(src_tokenizer.encode(line, add_special_tokens=False).ids)
                continue
            toks = line.split() if word_src else list(line)
            if not word_src and any(c not in src_vocab for c in toks):
                sys.exit(f"characters the model does not know in: {line!r}")
            batch.append([src_vocab.get(t, unk) for t in toks])
        for ids in greedy(encoder, decoder, meta, batch):
            if tgt_tokenizer is not None:  # bytes that make no character become U+FFFD
                print(tgt_tokenizer.decode(ids, skip_special_tokens=False))
            else:
                print(sep.join(tgt_vocab[i] for i in ids))


def tokenizer(meta: dict, key: str):
    """A bpe side's tokenizer, from the metadata (None at the other levels)."""
    if key not in meta:
        return None
    from tokenizers import Tokenizer

    return Tokenizer.from_str(meta[key])


def greedy(encoder, decoder, meta: dict, sources: list[list[int]]) -> list[list[int]]:
    """The argmax every step, from the boundary token until it comes again or rnngen.max_len
    tokens; the sources one batch (padded to the longest)."""
    bos, max_len = int(meta["rnngen.boundary"]), int(meta["rnngen.max_len"])
    B, S = len(sources), max(len(s) for s in sources)
    src = np.zeros((S, B), np.int64)  # (S, B), padded with any id
    for b, s in enumerate(sources):
        src[: len(s), b] = s
    src_len = np.array([len(s) for s in sources], np.int64)
    names = [o.name for o in encoder.get_outputs()]
    enc = dict(zip(names, encoder.run(None, {"src": src, "src_len": src_len}), strict=True))
    state = {n: enc[n] for n in ("h", "c") if n in enc}  # (L, B, H) each
    names = [o.name for o in decoder.get_outputs()]
    ids = np.full(B, bos, np.int64)
    outputs: list[list[int]] = [[] for _ in sources]
    done = np.zeros(B, bool)
    for _ in range(max_len):
        feeds = {"ids": ids, **state, "enc": enc["enc"], "keys": enc["keys"], "src_len": src_len}
        step = dict(zip(names, decoder.run(None, feeds), strict=True))
        ids = step["logprobs"].argmax(axis=1).astype(np.int64)  # (B,)
        for b in np.flatnonzero(~done):
            if ids[b] == bos:
                done[b] = True
            else:
                outputs[b].append(int(ids[b]))
        if done.all():
            break
        state = {n: step[f"{n}_next"] for n in state}
    return outputs


if __name__ == "__main__":
    main()
