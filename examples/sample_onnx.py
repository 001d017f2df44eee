"""Sample text from a language model exported by ``rnngen export -o MODEL.onnx``, with
onnxruntime and NumPy alone (no rnngen needed):

    python sample_onnx.py MODEL.onnx --prime "ROMEO:" --temp 0.8 --length 500 --seed 1

Everything it needs is in the file's metadata: the vocabulary, the state a text starts from and
the token read before the prime. A subword (bpe) model's tokenizer is there too; reading it
needs Hugging Face's ``tokenizers`` package. With ``--temp 0`` (the most likely token every step)
it prints what ``rnngen sample --temp 0`` prints for the same prime and length.
"""

import argparse
import codecs
import json
import sys

import numpy as np
import onnxruntime as ort


def encode(prime: str, vocab: list[str], level: str, special: dict) -> list[int]:
    """The prime's token ids, as rnngen reads a prime: characters, or words (a line break is
    <eos>, an unknown word <unk>; the last line stays open)."""
    stoi = {t: i for i, t in enumerate(vocab)}
    if level == "char":
        missing = sorted({c for c in prime if c not in stoi})
        if missing:
            sys.exit(f"the prime has characters the model does not know: {missing}")
        return [stoi[c] for c in prime]
    lines = prime.split("\n")
    last = lines.pop()
    ids = []
    for line in lines:
        ids += [stoi.get(w, special["unk"]) for w in line.split()] + [special["eos"]]
    return ids + [stoi.get(w, special["unk"]) for w in last.split()]


def byte_symbols() -> dict[str, int]:
    """GPT-2's byte-level alphabet: the printable character that stands for each byte in a BPE
    token's text, to the byte."""
    keep = [*range(33, 127), *range(161, 173), *range(174, 256)]
    others = [b for b in range(256) if b not in keep]
    return {
        **{chr(b): b for b in keep},
        **{chr(256 + i): b for i, b in enumerate(others)},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help="the step graph, MODEL.onnx")
    ap.add_argument("--prime", default="", help="text to start from (printed first)")
    ap.add_argument("--temp", type=float, default=1.0, help="temperature; 0 takes the argmax")
    ap.add_argument("--length", type=int, default=1000, help="tokens to generate")
    ap.add_argument("--seed", type=int, default=None, help="same seed, same text")
    args = ap.parse_args()

    session = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    vocab = json.loads(meta["rnngen.vocab"])
    level = meta["rnngen.level"]
    special = json.loads(meta["rnngen.special_tokens"])
    start_token = json.loads(meta["rnngen.start_token"])
    names = json.loads(meta["rnngen.state"])  # ["h"] or ["h", "c"]
    start = json.loads(meta["rnngen.start_state"])  # each (layers, hidden)
    state = {n: np.asarray(start[n], np.float32)[:, None, :] for n in names}  # (L, 1, H)

    if level == "bpe":
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_str(meta["rnngen.tokenizer"])
        prime = tokenizer.encode(args.prime, add_special_tokens=False).ids
        to_byte = byte_symbols()
        utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
    else:
        prime = encode(args.prime, vocab, level, special)
    feed = ([] if start_token is None else [start_token]) + prime
    if not feed:
        sys.exit("this model has no start token: give a prime")

    def step(token: int) -> np.ndarray:
        out = session.run(None, {"ids": np.array([token], np.int64), **state})
        for n, new in zip(names, out[1:], strict=True):
            state[n] = new
        return out[0][0]  # (V,) logits

    for token in feed:
        logits = step(token)
    rng = np.random.default_rng(args.seed)
    at_line_start = args.prime == "" or args.prime.endswith("\n")
    sys.stdout.write(args.prime)
    for _ in range(args.length):
        if args.temp <= 0:
            token = int(np.argmax(logits))
        else:
            z = (logits - logits.max()) / args.temp
            p = np.exp(z.astype(np.float64))
            token = int(rng.choice(len(p), p=p / p.sum()))
        if level == "char":
            piece = vocab[token]
        elif level == "bpe":  # a subword may end inside a character's UTF-8 bytes
            piece = utf8.decode(bytes(to_byte[c] for c in vocab[token]))
        elif token == special["eos"]:
            piece, at_line_start = "\n", True
        else:
            piece = ("" if at_line_start else " ") + vocab[token]
            at_line_start = False
        sys.stdout.write(piece)
        sys.stdout.flush()
        logits = step(token)
    if level == "bpe":
        sys.stdout.write(utf8.decode(b"", final=True))
    if sys.stdout.isatty():
        sys.stdout.write("\n")


if __name__ == "__main__":
    main()
