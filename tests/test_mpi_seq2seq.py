"""Data-parallel training of sequence-to-sequence models over MPI, for real: ``mpiexec -n 2``
starting the installed ``rnngen`` command twice. The processes take contiguous rows of each batch
of pairs; their rows hold different numbers of target tokens, so each scales its gradient by the
whole batch's count and the gradients are summed."""

import json

import numpy as np
import pytest
from clitools import (
    checkpoint_arrays,
    err,
    history,
    mpi,
    one_and_two_processes,
    out,
    reversals,
    run,
)

# a small model, 20 steps: seconds per run; --best-by error decodes the validation sources too
SMALL = [
    "--task",
    "seq2seq",
    "--tgt-level",
    "word",
    "--hidden",
    "32",
    "--embed",
    "16",
    "--batch-size",
    "8",
    "--seed",
    "5",
    "--lr",
    "0.01",
    "--best-by",
    "error",
    "--schedule",
    "constant",  # a run resumed with a longer --steps continues the same rates
]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("mpi_s2s")
    (d / "pairs.tsv").write_text(reversals(600, 3, 9, spaced=True))
    (d / "small.tsv").write_text(reversals(17, 4, 9, spaced=True))  # batches of 8, 8 and 1 pairs
    (d / "valid.tsv").write_text(reversals(40, 5, 9, spaced=True))
    return d


def last(workdir, run: str) -> dict[str, np.ndarray]:
    return checkpoint_arrays(workdir / run / "last.safetensors")


def close(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    """The same weights up to the order of float sums."""
    assert a.keys() == b.keys()
    for k in a:
        x, y = a[k].astype(np.float64), b[k].astype(np.float64)
        assert np.linalg.norm(x - y) <= 1e-5 * np.linalg.norm(x), k


def test_two_processes_train_what_one_process_trains(workdir):
    common = [
        "train",
        "pairs.tsv",
        *SMALL,
        "--steps",
        "20",
        "--eval-every",
        "5",
        "--json",
        "--teacher-forcing",
        "0.8",
    ]
    one_and_two_processes(workdir, common, 20)
    a = last(workdir, "one")
    b = last(workdir, "two1")
    close(a, b)
    c = last(workdir, "two2")
    assert all(np.array_equal(b[k], c[k]) for k in b)  # two runs with N = 2: bit for bit
    h1, h2 = history(workdir / "one/last.safetensors"), history(workdir / "two1/last.safetensors")
    assert [h["step"] for h in h1] == [h["step"] for h in h2] == [5, 10, 15, 20]
    for e1, e2 in zip(h1, h2, strict=True):
        assert round(e1["train_loss"], 4) == round(e2["train_loss"], 4)
        assert round(e1["val_loss"], 4) == round(e2["val_loss"], 4)  # every pair, shared out
        assert e1["val_error"] == e2["val_error"]  # every source decoded once, counts summed
        assert e1["val_tokens"] == e2["val_tokens"]


def test_a_short_last_batch_leaves_a_process_without_rows(workdir):
    """17 pairs in batches of 8: the third batch's one pair goes to rank 0, rank 1 adds zeros."""
    common = ["train", "small.tsv", "--val-file", "valid.tsv", *SMALL, "--epochs", "2", "--json"]
    one = run(*common, "--out", "short1", "--threads", "1", cwd=workdir)
    two = mpi(2, *common, "--out", "short2", cwd=workdir)
    for p in (one, two):
        assert p.returncode == 0, err(p)
        assert json.loads(out(p))["steps"] == 6
    close(
        last(workdir, "short1"),
        last(workdir, "short2"),
    )


def test_pairs_from_stdin_reach_every_process(workdir):
    """mpiexec gives rank 0 the stdin: the others get the pairs from it."""
    data = (workdir / "pairs.tsv").read_bytes()
    p = mpi(
        2,
        "train",
        "-",
        *SMALL,
        "--steps",
        "6",
        "--eval-every",
        "3",
        "--out",
        "piped",
        "--json",
        cwd=workdir,
        stdin=data,
    )
    assert p.returncode == 0, err(p)
    assert json.loads(out(p))["steps"] == 6
    file = mpi(
        2,
        "train",
        "pairs.tsv",
        *SMALL,
        "--steps",
        "6",
        "--eval-every",
        "3",
        "--out",
        "filed",
        cwd=workdir,
    )
    assert file.returncode == 0, err(file)
    a, b = (
        last(workdir, "piped"),
        last(workdir, "filed"),
    )
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_resume_with_the_same_or_another_process_count(workdir):
    common = [
        "train",
        "pairs.tsv",
        *SMALL,
        "--eval-every",
        "5",
        "--dropout",
        "0.2",
        "--label-smoothing",
        "0.1",
    ]
    full = mpi(2, *common, "--steps", "20", "--out", "full", cwd=workdir)
    assert full.returncode == 0, err(full)
    first = mpi(2, *common, "--steps", "10", "--out", "same", cwd=workdir)
    assert first.returncode == 0, err(first)
    more = mpi(2, "train", "--resume", "same", "--steps", "20", cwd=workdir)
    assert more.returncode == 0, err(more)
    a, b = (
        last(workdir, "full"),
        last(workdir, "same"),
    )
    assert all(np.array_equal(a[k], b[k]) for k in a)  # exactly the uninterrupted run
    assert (
        history(workdir / "full/last.safetensors")[-1]["val_error"]
        == history(workdir / "same/last.safetensors")[-1]["val_error"]
    )
    alone = run("train", "--resume", "same", "--steps", "25", "--threads", "1", cwd=workdir)
    assert alone.returncode == 0, err(alone)  # one process continues a run of two
    assert "resuming same at step 20" in err(alone)
