"""Nothing unchecked reaches a kernel: a run's token file that was changed after it was written
(ids beyond the vocabulary, a truncated file, ids changed within range) is rebuilt from the text
the run was trained on, or refused in one line naming it when that text is gone; a second ``rnngen
train --force`` into a run directory a live run holds is refused before it writes anything there;
``--init-from`` a seq2seq model and a seq2seq side that would read all ``<unk>`` are refused in
one line naming what the user named."""

import json
import shutil
import signal
import subprocess
from pathlib import Path

import numpy as np
import pytest
from clitools import (
    REPO,
    cli_env,
    err,
    repetitive_text,
    reversals,
    rnngen_exe,
    run,
    with_meta,
)

import rnngen.checkpoint as checkpoint
from rnngen.data.tokenfile import file_digest

SMALL = ["--hidden", "32", "--embed", "8", "--seq-len", "16", "--batch-size", "8"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A small char model trained 10 steps on a corpus; its run directory is copied per test."""
    d = tmp_path_factory.mktemp("tokens")
    (d / "corpus.txt").write_text(repetitive_text())
    p = run(
        "train", "corpus.txt", *SMALL, "--steps", "10", "--eval-every", "10", "--out", "base", cwd=d
    )
    assert p.returncode == 0, err(p)
    return d


def _copy(workdir: Path, name: str) -> Path:
    shutil.copytree(workdir / "base", workdir / name)
    return workdir / name


def _beyond(data: bytearray, vocab: int) -> bytearray:
    data[100:300] = b"\xff" * 200  # ids 255 in a 19-symbol run
    return data


def _within(data: bytearray, vocab: int) -> bytearray:
    data[100:300] = bytes((b + 1) % vocab for b in data[100:300])  # every id a valid other one
    return data


def _truncated(data: bytearray, vocab: int) -> bytearray:
    return data[: len(data) // 2]


EDITS = {"ids beyond the vocabulary": _beyond, "ids within range": _within, "truncated": _truncated}


def _damage(run_dir: Path, edit) -> bytes:
    """Apply ``edit`` to the run's tokens.bin; the bytes as written."""
    tokens = run_dir / "tokens.bin"
    before = tokens.read_bytes()
    vocab = len(json.loads((run_dir / "tokens.json").read_text())["vocab"]["tokens"])
    tokens.write_bytes(bytes(edit(bytearray(before), vocab)))
    assert tokens.read_bytes() != before
    return before


@pytest.mark.parametrize("edit", EDITS, ids=list(EDITS))
def test_a_changed_token_file_is_rebuilt_from_the_runs_text(workdir, edit):
    run_dir = _copy(workdir, f"rebuilt-{list(EDITS).index(edit)}")
    written = _damage(run_dir, EDITS[edit])
    p = run("train", "--resume", run_dir.name, "--steps", "12", "-q", cwd=workdir)
    e = err(p)
    assert p.returncode == 0, e
    warnings = [line for line in e.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and f"{run_dir.name}/tokens.bin: " in warnings[0], e
    assert "rebuilt it from" in warnings[0] and str(workdir / "corpus.txt") in warnings[0]
    assert (run_dir / "tokens.bin").read_bytes() == written  # the same ids as the first time
    assert checkpoint.load(run_dir / "last.safetensors").step == 12


@pytest.mark.parametrize("edit", EDITS, ids=list(EDITS))
def test_a_changed_token_file_is_refused_when_the_text_is_gone(workdir, edit):
    run_dir = _copy(workdir, f"refused-{list(EDITS).index(edit)}")
    ck = run_dir / "last.safetensors"
    ck_bytes = ck.read_bytes()
    _damage(run_dir, EDITS[edit])
    # the run's recorded text is gone: its checkpoint names a file that is not there
    gone = workdir / "gone.txt"
    ck.write_bytes(with_meta(ck_bytes, lambda m: m["info"].__setitem__("sources", [str(gone)])))
    p = run("train", "--resume", run_dir.name, "--steps", "12", cwd=workdir)
    e = err(p)
    assert p.returncode == 1, e
    assert len(e.strip().splitlines()) == 1 and "Traceback" not in e, e
    assert e.startswith(f"error: {run_dir.name}/tokens.bin: "), e
    assert f"cannot be rebuilt: {gone}: " in e, e
    assert checkpoint.load(ck).step == 10  # nothing trained


def test_a_forged_checksum_still_meets_the_range_check(workdir):
    """ids beyond the vocabulary with tokens.json's checksum forged to match: mapping the file
    checks every id against the vocabulary before a kernel sees one."""
    run_dir = _copy(workdir, "forged")
    _damage(run_dir, _beyond)
    meta_path = run_dir / "tokens.json"
    meta = json.loads(meta_path.read_text())
    meta["sha256"] = file_digest(run_dir / "tokens.bin")
    meta_path.write_text(json.dumps(meta))
    p = run("train", "--resume", "forged", "--steps", "12", cwd=workdir)
    e = err(p)
    assert p.returncode == 1, e
    assert e.strip() == (
        "error: forged/tokens.bin: holds token id 255 at position 100, but its vocabulary has "
        "19 tokens (ids 0 to 18); the file is damaged"
    ), e


def test_a_word_token_file_of_65535s_is_refused(tmp_path):
    """The issue's word run with every id 65535, mapped from Python: refused naming the file."""
    from rnngen.data.tokenfile import Source, encode_corpus, open_corpus, read_meta
    from rnngen.errors import DataError

    words = " ".join(f"w{i}" for i in range(300))
    (tmp_path / "t.txt").write_text((words + "\n") * 20)
    run_dir = tmp_path / "run"
    corpus, _ = encode_corpus(run_dir, "word", Source([str(tmp_path / "t.txt")]))
    assert corpus.train.dtype == np.uint16
    n = len(corpus.train) + len(corpus.val)
    del corpus
    np.full(n, 65535, np.uint16).tofile(run_dir / "tokens.bin")
    meta = read_meta(run_dir)
    assert meta is not None and meta["sha256"] != file_digest(run_dir / "tokens.bin")
    with pytest.raises(DataError, match=r"tokens.bin: holds token id 65535 at position 0, but "):
        open_corpus(run_dir)


# ---- the run lock comes first -------------------------------------------------------------------


def test_force_into_a_live_run_is_refused_before_it_writes(workdir):
    (workdir / "other.txt").write_text("a different text, with other letters: xyzzy QUUX!\n" * 80)
    cmd = [rnngen_exe(), "train", "corpus.txt", *SMALL, "--steps", "100000", "--eval-every", "20"]
    live = subprocess.Popen(
        [*cmd, "--out", "live"],
        cwd=workdir,
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    tokens, meta = workdir / "live/tokens.bin", workdir / "live/tokens.json"
    try:
        for line in live.stderr:  # plain log lines: stderr is not a terminal
            if " val " in line:  # training, its first checkpoint being written
                break
        assert live.poll() is None and tokens.exists()
        before = (tokens.read_bytes(), tokens.stat().st_mtime_ns, meta.read_bytes())
        p = run("train", "other.txt", *SMALL, "--out", "live", "--force", cwd=workdir)
        e = err(p)
        assert p.returncode == 1, e
        assert e.strip() == (
            f"error: live: another rnngen train (process {live.pid}) is writing this run "
            "directory; wait for it to end, or choose another --out"
        ), e
        assert (tokens.read_bytes(), tokens.stat().st_mtime_ns, meta.read_bytes()) == before
        live.send_signal(signal.SIGINT)  # the first run stops after its step, saved
        live.stderr.read()
        assert live.wait(timeout=60) == 130
    finally:
        if live.poll() is None:
            live.kill()
            live.wait()
    ck = checkpoint.load(workdir / "live/last.safetensors")
    assert ck.step >= 20 and ck.info["sources"] == [str(workdir / "corpus.txt")]
    assert (tokens.read_bytes(), meta.read_bytes()) == (before[0], before[2])


# ---- messages name what the user named ----------------------------------------------------------


def test_init_from_a_seq2seq_model_names_the_file(workdir):
    s2s = REPO / "tests/fixtures/v2/s2s-lstm-attn.safetensors"
    p = run("train", "corpus.txt", "--init-from", str(s2s), "--out", "x", cwd=workdir)
    e = err(p)
    assert p.returncode == 2, e
    assert e.strip() == (
        f"error: {s2s}: holds a seq2seq model, not a language model; --init-from starts a "
        "language model from a language model's weights"
    ), e
    assert not (workdir / "x").exists()


def test_a_seq2seq_side_that_would_be_all_unk_is_refused(tmp_path):
    (tmp_path / "pairs.tsv").write_text(reversals(300, seed=3))
    args = ["train", "pairs.tsv", "--task", "seq2seq", "--src-level", "word", "--tgt-level"]
    p = run(*args, "char", "--min-count", "5", "--steps", "1", "--out", "r", cwd=tmp_path)
    e = err(p)
    assert p.returncode == 1, e
    assert e.strip() == (
        "error: pairs.tsv: no source word occurs at least --min-count 5 times in the training "
        "pairs, so every source token would be <unk>; lower --min-count, or give more pairs"
    ), e
    assert not (tmp_path / "r").exists()
