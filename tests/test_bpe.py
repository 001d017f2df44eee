"""The subword level (``--level bpe``): byte-level BPE tokenizers learned with Hugging Face
``tokenizers`` from the training text alone, exact round trips, the tokenizer inside the run
(checked on load, and written as a standard ``tokenizer.json``), every command on a BPE model,
bits per character at every level, and the bad inputs."""

import json
from pathlib import Path

import numpy as np
import pytest
from clitools import (
    REPO,
    checkpoint_arrays,
    err,
    headless_chromium,
    mpi,
    out,
    repetitive_text,
    reversals,
    run,
    with_meta,
)

from rnngen.data import bpe
from rnngen.data.tokenfile import Source, encode_corpus
from rnngen.data.vocab import Vocab

SMALL = ["--hidden", "32", "--embed", "16", "--batch-size", "8", "--seq-len", "16", "--lr", "0.01"]
WIKI = REPO.parent / "shared" / "corpora" / "wikitext-2"

# texts whose bytes must come back exactly: Unicode of every width, CRLF and lone CR, tabs, runs
# of spaces and of line ends, and no final newline
ROUND_TRIP = [
    "héllo wörld\r\nline two\r\n",
    "no final newline: 日本語のテキスト 🎉🎉",
    "a\n\n\nb  \n  c\t\td\r",
    "Ünïcödé — “quotes” ‘single’ … ½ ∑ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢\n",
    " leading space and trailing space \n",
    "\n",
    "x",
]


@pytest.fixture(scope="module")
def learned() -> Vocab:
    text = repetitive_text(300) + "".join(ROUND_TRIP[:4])
    return Vocab.learned(bpe.batches(text), 300)


@pytest.mark.parametrize("text", ROUND_TRIP)
def test_encode_then_decode_gives_the_same_bytes(learned, text):
    ids = learned.encode(text)
    assert learned.decode(ids).encode("utf-8") == text.encode("utf-8")
    # streamed token by token (a subword may end inside a character): the same text
    d = learned.decoder()
    assert "".join(d([i]) for i in ids) + d.flush() == text


def test_text_with_characters_the_tokenizer_never_saw_round_trips(learned):
    text = "Ελληνικά, русский, العربية, हिन्दी, 한국어 ✓\n"
    assert learned.decode(learned.encode(text)) == text
    assert learned.unknown(text) == []  # bytes spell everything: no <unk>, no refusal


def test_a_text_encodes_as_its_lines_one_after_another(learned):
    """The corpus is encoded in pieces that end at line ends: the same ids as the whole."""
    text = repetitive_text(40)
    lines = text.splitlines(keepends=True)
    whole = learned.encode(text)
    assert np.array_equal(whole, np.concatenate([learned.encode(line) for line in lines]))
    assert np.array_equal(whole, learned.encode(text) if len(bpe.batches(text, 50)) > 1 else whole)
    assert (whole == learned.stoi[bpe.NEWLINE]).sum() == text.count("\n")  # a line end: one token


def _split(source: str) -> tuple[bytes, bytes]:
    """(training, validation) bytes: WikiText-2's train and valid files (300 kB, 200 kB), or the
    built-in python-docs corpus cut in two (250 kB, the rest)."""
    if source == "wikitext-2":
        if not WIKI.is_dir():
            pytest.skip(f"the shared corpora directory {WIKI.parent} is absent")
        return (WIKI / "train.txt").read_bytes()[:300_000], (WIKI / "valid.txt").read_bytes()[
            :200_000
        ]
    from rnngen.data.catalog.builtin import build_python_docs

    data = build_python_docs().encode()
    return data[:250_000], data[250_000:]


@pytest.mark.parametrize("source", ["wikitext-2", "python-docs"])
def test_the_validation_split_round_trips_through_the_token_file(tmp_path, source):
    """A validation text (the first 200 kB of WikiText-2's, or the built-in python-docs corpus's
    tail) through the token file: its ids decode to the text rnngen read, byte for byte; the
    tokenizer was learned from the training text alone."""
    train_bytes, val_bytes = _split(source)
    train, val = tmp_path / "train.txt", tmp_path / "valid.txt"
    train.write_bytes(train_bytes)
    val.write_bytes(val_bytes + "Zürich ☃ 𝄞\r\nend".encode())
    corpus, _ = encode_corpus(
        tmp_path / "run", "bpe", Source([str(train)]), Source([str(val)]), bpe_size=600
    )
    read = val.read_text(encoding="utf-8").replace("\r\n", "\n")  # rnngen reads LF line ends
    assert corpus.vocab.decode(np.asarray(corpus.val)) == read
    assert corpus.val_chars == len(read) and corpus.train_chars == len(train.read_text())
    alone = Vocab.learned(bpe.batches(train.read_text()), 600)
    assert alone.tokenizer == corpus.vocab.tokenizer  # never a byte of the validation text


@pytest.fixture(scope="module")
def wd(tmp_path_factory):
    d = tmp_path_factory.mktemp("bpe")
    from rnngen.data.catalog.builtin import build_python_docs  # offline, on any machine

    (d / "corpus.txt").write_text(build_python_docs()[:60_000] + "Zürich, naïve café ☃\n")
    (d / "pairs.tsv").write_text(reversals(300, 4))
    p = run(
        "train", "corpus.txt", "--level", "bpe", "--vocab-size", "320", *SMALL,
        "--steps", "40", "--eval-every", "20", "--seed", "3", "--out", "m", "--json", cwd=d,
    )  # fmt: skip
    assert p.returncode == 0, err(p)
    (d / "train.json").write_text(out(p))
    return d


def test_training_reports_bits_per_char_and_writes_the_tokenizer(wd):
    import tokenizers

    res = json.loads((wd / "train.json").read_text())
    assert res["val_bits_per_char"] > 0 and res["best_val_bits_per_char"] > 0

    t = tokenizers.Tokenizer.from_file(str(wd / "m" / "tokenizer.json"))
    assert t.get_vocab_size() == 320
    text = "the cat sat.\nZürich\n"
    from rnngen.checkpoint import load

    ck = load(wd / "m" / "best.safetensors")
    assert t.encode(text).ids == ck.vocab.encode(text).tolist()


def test_the_history_and_info_hold_bits_per_char(wd):
    p = run("info", "m/last.safetensors", "--json", cwd=wd)
    info = json.loads(out(p))
    assert info["level"] == "bpe" and info["vocab_size"] == 320
    evals = [h for h in info["history"] if h.get("val_loss") is not None]
    assert [h["step"] for h in evals] == [20, 40]
    # the held-out tail's characters are its decoded text's: bits/char = loss * tokens / chars
    from rnngen.data.tokenfile import open_corpus

    c = open_corpus(wd / "m")
    whole = evals[-1]["val_loss"] * len(c.val) / c.val_chars / np.log(2)
    assert evals[-1]["val_bits_per_char"] == pytest.approx(whole, rel=1e-9)
    assert c.val_chars + c.train_chars == len((wd / "corpus.txt").read_text())


def test_sample_is_exact_text_and_repeats_with_a_seed(wd):
    a = run("sample", "m", "--length", "80", "--seed", "4", "--prime", "Zürich", cwd=wd)
    b = run("sample", "m", "--length", "80", "--seed", "4", "--prime", "Zürich", cwd=wd)
    assert a.returncode == 0, err(a)
    assert out(a) == out(b) and out(a).startswith("Zürich") and len(out(a)) > 80


def test_a_text_starts_after_the_line_end_subword_as_in_scoring(wd):
    """Sampling and the heatmap read a text from the line end's subword, as scoring does: the
    heatmap's bits of a line, its line end included, are ``score``'s for it."""
    import rnngen
    from rnngen.pictures.heatmap import read

    model = rnngen.load(wd / "m", threads=1)
    line = "Zürich, the cat sat.  "
    reading = read(model._batched(), line + "\n", 1000, "line")
    assert reading.bits.sum() == pytest.approx(model.score([line])[0].bits, rel=1e-5)


def test_eval_and_score_report_bits_per_char(wd):
    (wd / "held.txt").write_text("the dog sat on the log.\nZürich café\n")  # a new word
    p = run("eval", "m", "held.txt", "--json", cwd=wd)
    assert p.returncode == 0, err(p)
    e = json.loads(out(p))
    assert e["level"] == "bpe" and e["chars"] == len("the dog sat on the log.\nZürich café\n")
    assert e["bits_per_char"] == pytest.approx(e["bits_per_token"] * e["tokens"] / e["chars"])
    s = run("score", "m", "held.txt", "--json", cwd=wd)
    rows = [json.loads(line) for line in out(s).splitlines()]
    assert [r["chars"] for r in rows] == [24, 12]  # the line end counts
    for r in rows:
        assert r["bits_per_char"] == pytest.approx(r["bits"] / r["chars"])
    assert rows[0]["tokens"] < rows[0]["chars"]  # subwords: fewer tokens than characters
    assert "bits/char" in err(s)


def test_resume_equals_a_run_never_stopped(wd):
    common = ["train", "corpus.txt", "--level", "bpe", "--vocab-size", "300", *SMALL, "--seed", "9"]
    assert run(*common, "--steps", "30", "--out", "whole", cwd=wd).returncode == 0
    # a run stopped at step 15 and resumed to 30: the same bits
    p = run(*common, "--steps", "15", "--out", "part", cwd=wd)
    assert p.returncode == 0, err(p)
    r = run("train", "--resume", "part", "--steps", "30", cwd=wd)
    assert r.returncode == 0, err(r)
    a = checkpoint_arrays(wd / "whole" / "last.safetensors")
    b = checkpoint_arrays(wd / "part" / "last.safetensors")
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_init_from_keeps_the_tokenizer(wd):
    (wd / "more.txt").write_text("quite new words: zebra xylophone quokka\n" * 50)
    p = run(
        "train", "more.txt", "--init-from", "m", "--steps", "5", "--out", "tuned",
        "--batch-size", "8", "--seq-len", "16", cwd=wd,
    )  # fmt: skip
    assert p.returncode == 0, err(p)
    assert "subwords spell any text" in err(p)
    assert (wd / "tuned/tokenizer.json").read_bytes() == (wd / "m/tokenizer.json").read_bytes()


def test_two_mpi_processes_and_two_replicas_train_a_bpe_model(wd):
    common = ["train", "corpus.txt", "--level", "bpe", "--vocab-size", "300", *SMALL]
    p = mpi(2, *common, "--steps", "10", "--seed", "2", "--out", "two", "--json", cwd=wd)
    assert p.returncode == 0, err(p)
    assert json.loads(out(p))["steps"] == 10 and "x 2 processes" in err(p)
    one = run(*common, "--steps", "10", "--seed", "2", "--out", "one", "--threads", "1", cwd=wd)
    assert one.returncode == 0, err(one)
    a = checkpoint_arrays(wd / "one/last.safetensors")
    b = checkpoint_arrays(wd / "two/last.safetensors")
    for k in a:  # the same tokenizer, the same batches: the same model within rounding
        x, y = a[k].astype(np.float64), b[k].astype(np.float64)
        assert np.linalg.norm(x - y) <= 1e-5 * np.linalg.norm(x), k
    # two replicas in threads train what two MPI processes train, bit for bit
    r = run(*common, "--steps", "10", "--seed", "2", "--out", "threads", "--replicas", "2", cwd=wd)
    assert r.returncode == 0, err(r)
    c = checkpoint_arrays(wd / "threads/last.safetensors")
    assert all(np.array_equal(b[k], c[k]) for k in b)


def test_seq2seq_with_subword_sides(wd):
    p = run(
        "train", "pairs.tsv", "--task", "seq2seq", "--level", "bpe", "--vocab-size", "280",
        "--hidden", "32", "--embed", "16", "--batch-size", "8", "--steps", "20",
        "--out", "s2s", "--replicas", "1", cwd=wd,
    )  # fmt: skip
    assert p.returncode == 0, err(p)
    names = sorted(f.name for f in (wd / "s2s").glob("*tokenizer.json"))
    assert names == ["src-tokenizer.json", "tgt-tokenizer.json"]
    t = run("translate", "s2s", "--n-best", "2", "--json", cwd=wd, stdin=b"abc\nZ\xc3\xbcrich\n")
    assert t.returncode == 0, err(t)
    rows = [json.loads(line) for line in out(t).splitlines()]
    assert [r["source"] for r in rows] == ["abc", "Zürich"]
    assert all(len(r["outputs"]) == 2 for r in rows)
    e = run("eval", "s2s", "pairs.tsv", "--json", "--beam", "1", cwd=wd)
    assert e.returncode == 0, err(e)


# ---- bad input: one line each, nothing written -------------------------------------------------


def refused(wd: Path, code: int, *args: str, out_dir: str = "bad") -> str:
    p = run(*args, "--out", out_dir, cwd=wd)
    assert p.returncode == code, err(p)
    lines = err(p).strip().splitlines()
    assert lines[-1].startswith("error: ") and "Traceback" not in err(p)
    assert not (wd / out_dir).exists()
    return lines[-1]


def test_a_vocabulary_smaller_than_the_bytes_is_refused(wd):
    line = refused(wd, 2, "train", "corpus.txt", "--level", "bpe", "--vocab-size", "200")
    assert "--vocab-size 200" in line and "256" in line


def test_vocab_size_on_another_level_is_refused(wd):
    line = refused(wd, 2, "train", "corpus.txt", "--vocab-size", "1000")
    assert "--vocab-size applies to --level bpe" in line


def test_an_empty_text_is_refused(wd):
    (wd / "empty.txt").write_bytes(b"")
    assert "empty.txt: is empty" in refused(wd, 1, "train", "empty.txt", "--level", "bpe")


def test_more_subwords_than_the_text_can_fill_warns_with_the_size_reached(wd):
    (wd / "tiny.txt").write_text("abc abd abe\n" * 60)
    p = run(
        "train", "tiny.txt", "--level", "bpe", "--vocab-size", "5000", "--hidden", "8",
        "--batch-size", "2", "--seq-len", "8", "--steps", "2", "--out", "tiny", cwd=wd,
    )  # fmt: skip
    assert p.returncode == 0, err(p)
    reached = json.loads(out(run("info", "tiny", "--json", cwd=wd)))["vocab_size"]
    assert 256 <= reached < 5000
    assert f"stops at {reached:,}" in err(p)


@pytest.mark.parametrize("fmt", ["c", "web"])
def test_the_c_and_web_exports_refuse_a_subword_model_in_one_line(wd, fmt):
    """They would need a BPE encoder in C and JavaScript; ONNX carries the tokenizer instead."""
    p = run("export", "m", "--format", fmt, "-o", f"out-{fmt}", cwd=wd)
    assert p.returncode == 2 and "Traceback" not in err(p)
    assert "subword (bpe) model" in err(p) and "--format onnx" in err(p)
    assert not (wd / f"out-{fmt}").exists()


def _edited(wd: Path, name: str, edit) -> Path:
    bad = wd / f"{name}.safetensors"
    bad.write_bytes(with_meta((wd / "m/best.safetensors").read_bytes(), edit))
    return bad


def _refused_checkpoint(wd: Path, path: Path) -> str:
    p = run("sample", str(path), "--length", "5", cwd=wd)
    assert p.returncode == 1 and "Traceback" not in err(p)
    assert out(p) == ""
    (line,) = err(p).strip().splitlines()
    return line


def test_an_edited_tokenizer_is_refused(wd):
    def edit(meta):
        t = json.loads(meta["vocab"]["tokenizer"])
        t["model"]["merges"] = t["model"]["merges"][::-1]  # another tokenization, same tokens
        meta["vocab"]["tokenizer"] = json.dumps(t)

    line = _refused_checkpoint(wd, _edited(wd, "edited", edit))
    assert "edited.safetensors" in line and "tokenizer was edited" in line


def test_a_tokenizer_that_does_not_match_the_embedding_is_refused(wd):
    def edit(meta):  # a smaller tokenizer, its digest made to agree: the sizes still disagree
        t = json.loads(meta["vocab"]["tokenizer"])
        t["model"]["vocab"] = {k: v for k, v in t["model"]["vocab"].items() if v < 300}
        t["model"]["merges"] = t["model"]["merges"][: 300 - 256]
        meta["vocab"]["tokenizer"] = s = json.dumps(t)
        meta["vocab"]["sha256"] = bpe.digest(s)

    line = _refused_checkpoint(wd, _edited(wd, "smaller", edit))
    assert "model.vocab_size is 320" in line and "300 tokens" in line


def test_a_tokenizer_of_another_kind_is_refused(wd):
    def edit(meta):
        t = json.loads(meta["vocab"]["tokenizer"])
        t["model"]["type"] = "WordPiece"
        meta["vocab"]["tokenizer"] = s = json.dumps(t)
        meta["vocab"]["sha256"] = bpe.digest(s)

    line = _refused_checkpoint(wd, _edited(wd, "wordpiece", edit))
    assert "'WordPiece' tokenizer, not BPE" in line


def test_without_tokenizers_one_line_names_the_extra(wd, tmp_path):
    fake = tmp_path / "tokenizers"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise ImportError('No module named tokenizers')\n")
    p = run(
        "train", "corpus.txt", "--level", "bpe", "--out", "nobpe", cwd=wd,
        env={"PYTHONPATH": f"{tmp_path}:{REPO}"},
    )  # fmt: skip
    assert p.returncode == 2 and 'pip install "rnngen[bpe]"' in err(p)
    assert len(err(p).strip().splitlines()) == 1 and not (wd / "nobpe").exists()


def test_the_heatmap_colours_each_subword_span(wd):
    """The page's tokens are the text each subword spans (together: the text, byte for byte),
    fewer than its characters; in a real Chromium each is one coloured span."""
    import re

    text = "ROMEO: Zürich, is it thee?\nFirst Citizen: naïve ☃\n"
    (wd / "h.txt").write_text(text)
    p = run("heatmap", "m", "h.txt", "-o", "h.html", cwd=wd)
    assert p.returncode == 0, err(p)
    html = (wd / "h.html").read_text()
    blob = re.search(r'<script id="data" type="application/json">(.*?)</script>', html, re.S)
    data = json.loads(blob.group(1))
    assert data["level"] == "bpe" and "".join(data["tokens"]) == text
    assert len(data["tokens"]) < len(text) and any(len(t) > 2 for t in data["tokens"])
    assert len(data["bits"]) == len(data["tokens"]) == len(data["top"])
    with headless_chromium() as browser:
        tab = browser.new_page()
        tab.goto((wd / "h.html").resolve().as_uri())
        spans = tab.locator("#text .t")
        assert spans.count() == len(data["tokens"])
        assert "".join(spans.all_text_contents()).replace("↵", "") == text  # ↵: a line end
        colours = spans.evaluate_all("s => s.map(e => e.style.backgroundColor)")
        assert len(set(colours)) > 3
