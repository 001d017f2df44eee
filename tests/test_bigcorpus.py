"""Big corpora: the text streamed in pieces equals the text read whole, the token file holds what
the vocabulary encodes (in the smallest integer type) and is mapped, not copied; periodic
evaluation scores a fixed part of a large validation split and the whole split at the end; memory
does not grow with the corpus."""

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from clitools import cli_env, err, out, repetitive_text, rnngen_exe, run

from rnngen.data.batches import sample_rows
from rnngen.data.stream import expand, text_pieces
from rnngen.data.text import fingerprint, read_texts
from rnngen.data.tokenfile import Source, encode_corpus, token_dtype
from rnngen.data.vocab import Vocab
from rnngen.errors import DataError

TRICKY = {
    "a.txt": "\ufeffline one\r\nline two\rline three".encode(),  # BOM, CRLF, CR, no last newline
    "b.txt": "ünïcödé ☃ 𝄞 words\r\n".encode() * 40,  # multi-byte characters across chunk cuts
    "sub/c.txt": b"in a directory\n",
    "sub/.hidden": b"skipped\n",
    "sub/empty.txt": b"",
}


@pytest.fixture
def tricky(tmp_path):
    for name, data in TRICKY.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(data)
    return tmp_path


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 1 << 20])
def test_text_read_in_pieces_is_the_text_read_whole(tricky, chunk):
    paths = [str(tricky / "a.txt"), str(tricky / "b.txt"), str(tricky / "sub")]
    whole = read_texts(paths).text
    pieces = list(text_pieces(expand(paths, "utf-8"), "utf-8", "strict", chunk=chunk))
    assert "".join(pieces) == whole
    assert "\r" not in whole and not whole.startswith("\ufeff")


def test_utf16_in_pieces(tmp_path):
    (tmp_path / "u.txt").write_bytes("héllo\r\nwörld\n".encode("utf-16") * 3)
    whole = read_texts([str(tmp_path / "u.txt")], "utf-16").text
    got = "".join(
        text_pieces(expand([str(tmp_path / "u.txt")], "utf-16"), "utf-16", "strict", chunk=5)
    )
    assert got == whole


def test_a_bad_byte_far_into_a_file_is_named_with_its_offset(tmp_path):
    data = b"x" * 1000 + b"\xe9" + b"y" * 10
    (tmp_path / "bad.txt").write_bytes(data)
    with pytest.raises(
        DataError,
        match=r"bad.txt: is not valid UTF-8 \(bad byte 0xe9 at offset "
        r"1000\)",
    ):
        list(text_pieces(expand([str(tmp_path / "bad.txt")], "utf-8"), "utf-8", "strict", chunk=64))


@pytest.mark.parametrize("level", ["char", "word"])
def test_the_token_file_holds_the_encoded_text_mapped_not_copied(tricky, level):
    paths = [str(tricky / "a.txt"), str(tricky / "b.txt"), str(tricky / "sub")]
    text = read_texts(paths).text
    corpus, _ = encode_corpus(tricky / "run", level, Source(paths), val_frac=0.25)
    vocab = Vocab.build(text, level)
    assert corpus.vocab.itos == vocab.itos
    tokens = vocab.encode(text)
    n_val = int(round(len(tokens) * 0.25))
    assert np.array_equal(corpus.train, tokens[: len(tokens) - n_val])
    assert np.array_equal(corpus.val, tokens[len(tokens) - n_val :])
    assert corpus.fingerprint == fingerprint(text)
    assert corpus.train.dtype == np.uint8  # a small vocabulary: one byte per token
    assert isinstance(corpus.train.base, np.memmap) or isinstance(corpus.train, np.memmap)
    assert not corpus.train.flags.writeable
    meta = json.loads((tricky / "run/tokens.json").read_text())
    assert (tricky / "run/tokens.bin").stat().st_size == meta["tokens"]


def test_the_smallest_integer_type():
    assert [token_dtype(n) for n in (2, 256, 257, 65536, 65537)] == [
        np.uint8,
        np.uint8,
        np.uint16,
        np.uint16,
        np.int32,
    ]


def test_many_words_take_two_bytes(tmp_path):
    words = " ".join(f"w{i}" for i in range(300))
    (tmp_path / "w.txt").write_text((words + "\n") * 3)
    (tmp_path / "v.txt").write_text("w1 w2 unknownword\n")
    corpus, _ = encode_corpus(
        tmp_path / "run",
        "word",
        Source([str(tmp_path / "w.txt")]),
        Source([str(tmp_path / "v.txt")]),
    )
    assert corpus.train.dtype == np.uint16 and len(corpus.vocab) == 302
    assert corpus.vocab.decode(corpus.val) == "w1 w2 <unk>\n"


def test_fixed_part_of_the_validation_split_is_spread_and_the_same_every_time():
    tokens = np.arange(10_001) % 251
    x, y = sample_rows(tokens, 4, 100)
    assert x.shape == y.shape == (4, 100)
    assert x[0, 0] == tokens[0] and y[-1, -1] == tokens[-1]  # from the first token to the last
    assert np.array_equal(y[:, :-1], x[:, 1:])
    x2, _ = sample_rows(tokens, 4, 100)
    assert np.array_equal(x, x2)


@pytest.fixture(scope="module")
def big_val(tmp_path_factory):
    """A corpus whose validation split (200k characters) is larger than the part periodic
    evaluation scores (100k at least)."""
    d = tmp_path_factory.mktemp("bigval")
    (d / "train.txt").write_text(repetitive_text(4000))
    (d / "valid.txt").write_text(repetitive_text(8400))
    return d


def test_periodic_evaluation_scores_a_part_and_the_end_the_whole_split(big_val):
    p = run(
        "train",
        "train.txt",
        "--val-file",
        "valid.txt",
        "--hidden",
        "16",
        "--embed",
        "8",
        "--batch-size",
        "8",
        "--seq-len",
        "16",
        "--steps",
        "8",
        "--eval-every",
        "4",
        "--out",
        "run",
        "--json",
        cwd=big_val,
    )
    assert p.returncode == 0, err(p)
    res = json.loads(out(p))
    whole = len((big_val / "valid.txt").read_text()) - 1
    assert 100_000 <= res["val_tokens"] < whole  # the periodic part: less than the split
    assert res["val_loss_whole"] is not None and res["val_loss_whole"] != res["val_loss"]
    e = err(p)
    assert f"on the whole validation split ({whole:,} tokens)" in e
    assert f"periodic validation on a fixed {res['val_tokens']:,} tokens" in e
    from rnngen.checkpoint import load

    hist = load(big_val / "run/last.safetensors").info["history"]
    assert [h["step"] for h in hist] == [4, 8]
    assert all(h["val_tokens"] == res["val_tokens"] for h in hist)
    assert hist[-1]["val_loss_whole"] == res["val_loss_whole"] and "val_loss_whole" not in hist[0]


def test_resume_reads_the_token_file_not_the_text(big_val):
    args = ["--hidden", "16", "--embed", "8", "--batch-size", "8", "--seq-len", "16"]
    (big_val / "gone.txt").write_text(repetitive_text(800))
    p = run("train", "gone.txt", *args, "--steps", "6", "--out", "gone", cwd=big_val)
    assert p.returncode == 0, err(p)
    (big_val / "gone.txt").unlink()  # the text is not needed: its tokens are in the run
    p = run("train", "--resume", "gone", "--steps", "12", "--json", cwd=big_val)
    assert p.returncode == 0, err(p)
    assert json.loads(out(p))["steps"] == 12


def _peak_rss_mb(args: list[str], cwd: Path) -> float:
    """Peak RSS (VmHWM) of ``rnngen ARGS``, read when it reports that it is done."""
    p = subprocess.Popen(
        [rnngen_exe(), *args],
        cwd=cwd,
        env=cli_env(),
        text=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    peak, log = None, []
    for line in p.stderr:
        log.append(line)
        if line.startswith("done:"):
            status = Path(f"/proc/{p.pid}/status").read_text()
            peak = int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024
    p.wait(timeout=300)
    assert p.returncode == 0 and peak is not None, "".join(log)
    return peak


def test_memory_does_not_grow_with_the_corpus(tmp_path):
    """Before the token file, 4x the text cost about 10 bytes more per character (the text as a
    string and its int32 tokens: 480 MB more here); now the text streams in pieces of a few MB
    and its tokens are mapped, so the peak stays where it was."""
    line = "the quick brown fox jumps over the lazy dog; ünïcödé ☃\n".encode()
    (tmp_path / "val.txt").write_bytes(line * 200)
    args = ["--val-file", "val.txt", "--hidden", "32", "--steps", "2", "--force"]
    peaks = []
    for n in (300_000, 1_200_000):  # 17 MB and 68 MB, both many pieces
        (tmp_path / "t.txt").write_bytes(line * n)
        peaks.append(_peak_rss_mb(["train", "t.txt", *args, "--out", f"r{n}"], tmp_path))
    assert peaks[1] - peaks[0] < 30, peaks


def _rss_file_mb() -> float:
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"RssFile:\s+(\d+)", status).group(1)) / 1024


def test_pages_read_are_let_go(tmp_path):
    """Training lets go of the token file's pages at every evaluation, so a run's RSS does not
    grow by the whole file as its rows advance through it."""
    from rnngen.data.tokenfile import release_pages

    (tmp_path / "t.txt").write_bytes(b"abcdefgh\n" * 3_000_000)  # 27 MB: 27 MB of 1-byte tokens
    corpus, _ = encode_corpus(tmp_path / "run", "char", Source([str(tmp_path / "t.txt")]))
    before = _rss_file_mb()
    assert int(corpus.train.sum()) > 0 and int(corpus.val.sum()) > 0  # every page read
    touched = _rss_file_mb()
    release_pages(corpus.train, corpus.val)
    after = _rss_file_mb()
    assert touched - before > 20, (before, touched)
    assert touched - after > 20, (touched, after)
    ids = [corpus.vocab.stoi[c] for c in "abcdefgh\n"]
    assert corpus.train[:9].tolist() == ids  # the data is still there after letting go


def test_the_default_validation_split_is_capped(tmp_path):
    """10% of the text, at most ``val_max`` tokens: a big corpus's validation split stays the
    size a validation needs, and the fraction recorded is the one used (a resumed run splits the
    same way)."""
    from rnngen.data.tokenfile import read_meta

    (tmp_path / "t.txt").write_text("abcdefghij" * 10_000)  # 100,000 tokens
    corpus, _ = encode_corpus(tmp_path / "run", "char", Source([str(tmp_path / "t.txt")]),
                              val_frac=0.1, val_max=2_000)  # fmt: skip
    assert len(corpus.val) == 2_000 and len(corpus.train) == 98_000
    assert read_meta(tmp_path / "run")["val_frac"] == pytest.approx(0.02)
    small, _ = encode_corpus(tmp_path / "small", "char", Source([str(tmp_path / "t.txt")]),
                             val_frac=0.1, val_max=50_000)  # fmt: skip
    assert len(small.val) == 10_000  # under the cap: the fraction as given
