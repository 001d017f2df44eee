"""The generation controls through the installed command: --prime-file, --repetition-penalty,
--no-repeat-ngram, --beam, --num as one batch, and finding the newest model in run directories
under the current directory."""

import math
import os
import time

import numpy as np
import pytest
from clitools import err, out, repetitive_text, run

import rnngen
from rnngen.data.vocab import Vocab
from rnngen.generate.batch import BatchGenerator
from rnngen.generate.beam import beam_search, log_softmax
from rnngen.generate.config import SampleConfig
from rnngen.generate.controls import Controls, RepetitionGuard

SMALL = ["--hidden", "32", "--embed", "8", "--seq-len", "16", "--batch-size", "8"]


@pytest.fixture(scope="module")
def wd(tmp_path_factory):
    d = tmp_path_factory.mktemp("gen")
    (d / "corpus.txt").write_text(repetitive_text())
    p = run(
        "train",
        "corpus.txt",
        *SMALL,
        "--steps",
        "150",
        "--lr",
        "0.01",
        "--seed",
        "3",
        "--out",
        "char",
        cwd=d,
    )
    assert p.returncode == 0, err(p)
    p = run(
        "train",
        "corpus.txt",
        "--level",
        "word",
        "--hidden",
        "32",
        "--seq-len",
        "8",
        "--batch-size",
        "8",
        "--steps",
        "150",
        "--lr",
        "0.01",
        "--out",
        "word",
        cwd=d,
    )
    assert p.returncode == 0, err(p)
    return d


def _words_ngrams(text: str, n: int) -> list[tuple[str, ...]]:
    w = text.split()
    return [tuple(w[i : i + n]) for i in range(len(w) - n + 1)]


def test_prime_file_takes_newlines_and_is_printed_first(wd):
    (wd / "prime.txt").write_text("the cat sat on the mat.\nthe dog")
    p = run("sample", "char", "--prime-file", "prime.txt", "--length", "30", "--seed", "1", cwd=wd)
    assert p.returncode == 0, err(p)
    assert out(p).startswith("the cat sat on the mat.\nthe dog") and len(out(p)) == 31 + 30
    p = run("sample", "char", "--prime-file", "-", "--length", "5", cwd=wd, stdin=b"the\ncat ")
    assert p.returncode == 0 and out(p).startswith("the\ncat "), err(p)
    p = run("sample", "char", "--prime-file", "prime.txt", "--prime", "x", cwd=wd)
    assert p.returncode == 2 and "--prime and --prime-file conflict" in err(p)
    p = run("sample", "char", "--prime-file", "nope.txt", cwd=wd)
    assert p.returncode == 1 and err(p).count("\n") == 1 and "nope.txt" in err(p)


def test_repetition_penalty_changes_a_greedy_loop(wd):
    """Greedy decoding of this corpus repeats its four lines; with the penalty the loop breaks."""
    base = ["sample", "word", "--temp", "0", "--length", "120", "--prime", "the"]
    loop = run(*base, cwd=wd)
    broken = run(*base, "--repetition-penalty", "3", cwd=wd)
    assert loop.returncode == 0 and broken.returncode == 0, err(broken)
    lines = out(loop).splitlines()
    assert lines[4:8] == lines[:4]  # stuck
    assert out(broken).splitlines()[:8] != lines[:8]


def test_the_controls_act_on_words():
    """The guard on real vocabularies: CTRL's rule on words already written (word level); at char
    level on whitespace after a word already written; bans of repeated word pairs."""
    word = Vocab("word", ["<eos>", "<unk>", "the", "cat", "sat", "dog"])
    g = RepetitionGuard(word, Controls(repetition_penalty=2.0, no_repeat_ngram=2))
    for t in ("the", "cat", "sat", "the"):
        g.feed(word.stoi[t])
    logits = np.array([1.0, 1.0, 4.0, -2.0, 3.0, 5.0], np.float32)
    g.adjust(logits)
    # the, sat: / 2; cat: negative, * 2; "the cat" was written, so cat after the is banned
    assert logits.tolist() == [1.0, 1.0, 2.0, -np.inf, 1.5, 5.0]
    char = Vocab("char", sorted(set("the cat\n")))
    g = RepetitionGuard(char, Controls(repetition_penalty=2.0, no_repeat_ngram=2))
    for ch in "the cat the ca":
        g.feed(char.stoi[ch])
    logits = np.full(len(char), 4.0, np.float32)
    g.adjust(logits)
    assert all(logits[char.stoi[c]] == 4.0 for c in "acehtt")  # inside "ca": nothing yet
    g.feed(char.stoi["t"])  # "the cat" again would repeat the pair, and "cat" was written
    logits = np.full(len(char), 4.0, np.float32)
    g.adjust(logits)
    assert logits[char.stoi[" "]] == -np.inf and logits[char.stoi["\n"]] == -np.inf
    assert logits[char.stoi["a"]] == 4.0
    g = RepetitionGuard(char, Controls(repetition_penalty=2.0))
    for ch in "the cat":
        g.feed(char.stoi[ch])
    g.feed(char.stoi[" "])
    for ch in "cat":
        g.feed(char.stoi[ch])
    logits = np.full(len(char), 4.0, np.float32)
    g.adjust(logits)
    assert logits[char.stoi[" "]] == 2.0 and logits[char.stoi["t"]] == 4.0


@pytest.mark.parametrize("model", ["word", "char"])
def test_no_repeat_ngram_never_repeats_a_run_of_words(wd, model):
    p = run(
        "sample",
        model,
        "--temp",
        "0",
        "--length",
        "150",
        "--no-repeat-ngram",
        "2",
        "--prime",
        "the cat",
        cwd=wd,
    )
    assert p.returncode == 0, err(p)
    text = out(p)
    if model == "char":  # the last word may still be being written
        text = text[: max(text.rfind(" "), text.rfind("\n"))]
    grams = _words_ngrams(text, 2)
    assert len(grams) > 10 and len(grams) == len(set(grams))
    plain = out(
        run("sample", model, "--temp", "0", "--length", "150", "--prime", "the cat", cwd=wd)
    )
    assert len(set(_words_ngrams(plain, 2))) < len(_words_ngrams(plain, 2))  # it did repeat


def _logprob(model: rnngen.Model, prime: str, text: str) -> float:
    """log p(text | prime) under the model, token by token."""
    gen = BatchGenerator(model.checkpoint)
    v = model.checkpoint.vocab
    state, logits = gen.primed(v.encode(prime, close_last_line=False), 1)
    total = 0.0
    for t in v.encode(text, close_last_line=False):
        total += log_softmax(logits)[0, t]
        logits = gen.step(t.reshape(1), state)
    return total


def test_beam_search_finds_a_continuation_at_least_as_likely_as_greedy(wd):
    m = rnngen.load(wd / "char")
    gen = BatchGenerator(m.checkpoint)
    prime = m.checkpoint.vocab.encode("the b", close_last_line=False)
    cfg = SampleConfig(prime="the b", length=25, beam=6, num=6).validate()
    beams = beam_search(gen, prime, cfg)
    scores = [s for _, s in beams]
    assert scores == sorted(scores, reverse=True) and len({t for t, _ in beams}) == 6
    greedy = m.samples(1, prime="the b", length=25, temp=0)[0]
    one = beam_search(gen, prime, SampleConfig(prime="the b", length=25, beam=1).validate())
    assert one[0][0] == greedy  # a beam of one is greedy decoding
    assert scores[0] >= one[0][1] - 1e-5  # rows of a batch of 6 and of 1 round apart
    assert math.isclose(scores[0], _logprob(m, "the b", beams[0][0][5:]), rel_tol=1e-4)
    p = run("sample", "char", "--prime", "the b", "--length", "25", "--beam", "6", cwd=wd)
    assert p.returncode == 0 and out(p) == beams[0][0], err(p)
    p = run("sample", "char", "--beam", "2", "--num", "3", cwd=wd)
    assert p.returncode == 2 and "--num must not exceed --beam" in err(p)


def test_num_is_one_batch_in_order_and_each_sample_reproducible(wd):
    args = ["sample", "char", "--prime", "the ", "--length", "80", "--seed", "9", "-q"]
    four = run(*args, "--num", "4", cwd=wd)
    assert four.returncode == 0 and err(four) == "", err(four)
    lib = rnngen.load(wd / "char").samples(4, prime="the ", length=80, seed=9)
    assert len(set(lib)) == 4 and all(s.startswith("the ") and len(s) == 84 for s in lib)
    assert out(four) == "\n\n".join(lib)  # in order, a blank line between
    assert out(run(*args, "--num", "4", cwd=wd)) == out(four)
    two = out(run(*args, "--num", "2", cwd=wd))
    assert two == "\n\n".join(lib[:2])


def test_sample_finds_the_newest_run_directory_under_the_current_directory(wd):
    now = time.time()
    os.utime(wd / "word" / "last.safetensors", (now + 5, now + 5))
    p = run("sample", "--length", "5", cwd=wd)
    assert p.returncode == 0, err(p)
    assert err(p).endswith("word/best.safetensors\n")
    os.utime(wd / "char" / "last.safetensors", (now + 10, now + 10))
    p = run("sample", "--length", "5", cwd=wd)
    assert err(p).endswith("char/best.safetensors\n")
