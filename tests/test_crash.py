"""Never losing work: kill -9 at random moments, Ctrl-C, resume bit for bit, failed saves,
diverging losses, fine-tuning from a model. Real ``rnngen`` processes throughout."""

import os
import random
import re
import resource
import signal
import subprocess
import time

import numpy as np
import pytest
from clitools import OWN_BLAS_KERNELS, cli_env, err, out, repetitive_text, rnngen_exe, run

import rnngen.checkpoint as checkpoint

TINY = [
    "--layers",
    "1",
    "--hidden",
    "8",
    "--embed",
    "4",
    "--seq-len",
    "8",
    "--batch-size",
    "4",
    "--threads",
    "1",
]
SMALL = ["--hidden", "32", "--embed", "8", "--seq-len", "16", "--batch-size", "8", "--threads", "1"]


@pytest.fixture
def corpus(tmp_path):
    (tmp_path / "corpus.txt").write_text(repetitive_text())
    return tmp_path


def _same_weights(a: checkpoint.Checkpoint, b: checkpoint.Checkpoint) -> bool:
    return a.params.keys() == b.params.keys() and all(
        np.array_equal(a.params[k], b.params[k]) for k in a.params
    )


def test_resume_after_a_stop_gives_the_same_weights_bit_for_bit(corpus):
    """2N steps in one go == N steps, stop, --resume for N more (across an epoch boundary)."""
    common = ["corpus.txt", *SMALL, "--eval-every", "25", "--seed", "5", "-q"]
    env = OWN_BLAS_KERNELS  # the resumed run takes all cores, not --threads 1: see clitools
    full = run("train", *common, "--steps", "160", "--out", "runs/full", cwd=corpus, env=env)
    half = run("train", *common, "--steps", "80", "--out", "runs/split", cwd=corpus, env=env)
    assert full.returncode == 0 and half.returncode == 0, err(full) + err(half)
    # the stop limit may be raised on resume; nothing else is given: everything is in the checkpoint
    more = run("train", "--resume", "runs/split", "--steps", "160", cwd=corpus, env=env)
    assert more.returncode == 0, err(more)
    assert "resuming runs/split at step 80" in err(more)
    a = checkpoint.load(corpus / "runs/full/last.safetensors")
    b = checkpoint.load(corpus / "runs/split/last.safetensors")
    assert a.step == b.step == 160 and a.info["epoch"] == b.info["epoch"] == 2
    assert _same_weights(a, b)
    for k in a.arrays:  # Adam moments and the carried hidden state too
        assert np.array_equal(a.arrays[k], b.arrays[k]), k
    again = run("train", "--resume", "runs/split", cwd=corpus)  # finished: says so, changes nothing
    assert again.returncode == 0 and "already trained for 160 steps" in err(again)
    assert checkpoint.load(corpus / "runs/split/last.safetensors").step == 160


@pytest.mark.parametrize(
    ("cell", "level"), [("lstm", "char"), ("gru", "word"), ("rnn-tanh", "char")]
)
def test_the_number_of_threads_does_not_change_the_model(corpus, cell, level):
    """--threads 1 and --threads 3 train the same weights bit for bit: the batch ranges, the
    column split of the embedding gradient and the bias sums keep every sum's order. (3 threads
    on fewer cores still split the work three ways.)"""
    opts = [
        "corpus.txt",
        *SMALL[:-2],
        "--cell",
        cell,
        "--level",
        level,
        "--dropout",
        "0.2",
        "--steps",
        "40",
        "--eval-every",
        "20",
        "--seed",
        "3",
        "-q",
    ]
    runs = {}
    for threads in ("1", "3"):
        r = run(
            "train",
            *opts,
            "--threads",
            threads,
            "--out",
            f"runs/t{threads}",
            cwd=corpus,
            env=OWN_BLAS_KERNELS,
        )
        assert r.returncode == 0, err(r)
        runs[threads] = checkpoint.load(corpus / f"runs/t{threads}/last.safetensors")
    a, b = runs["1"], runs["3"]
    assert a.step == b.step == 40
    assert _same_weights(a, b)
    for k in a.arrays:  # Adam moments and the carried hidden state too
        assert np.array_equal(a.arrays[k], b.arrays[k]), k


def test_sigint_then_resume_equals_one_uninterrupted_run(corpus):
    """Ctrl-C finishes the step, saves, prints the resume command and exits 130; the resumed run
    ends with the weights of a run never stopped: GRU with dropout (masks from seed and step),
    AdamW with weight decay, a cosine schedule with warmup. The signal goes as soon as the first
    step is logged, and 3,000 steps (about 2 s here) leave it a wide margin: with 400 steps the
    whole run once ended before a signal sent 0.2 s later arrived."""
    opts = [
        "corpus.txt",
        *SMALL,
        "--cell",
        "gru",
        "--dropout",
        "0.2",
        "--optimizer",
        "adamw",
        "--weight-decay",
        "0.01",
        "--schedule",
        "cosine",
        "--warmup",
        "20",
        "--steps",
        "3000",
        "--eval-every",
        "300",
        "--seed",
        "9",
    ]
    full = run("train", *opts, "--out", "runs/whole", "-q", cwd=corpus)
    assert full.returncode == 0, err(full)
    p = subprocess.Popen(
        [rnngen_exe(), "train", *opts, "--out", "runs/int"],
        cwd=corpus,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    _wait_for(lambda: re.search(rb"step [1-9]\d* ", _peek(p)) is not None, p)
    p.send_signal(signal.SIGINT)
    seen = _peek(p)
    stdout, stderr = p.communicate(timeout=60)
    e = (seen + stderr).decode()
    assert p.returncode == 130, e
    assert "rnngen train --resume runs/int" in e and "Traceback" not in e and stdout == b""
    step = int(re.search(r"interrupted at step ([\d,]+)", e).group(1).replace(",", ""))
    assert 0 < step < 3000 and checkpoint.load(corpus / "runs/int/last.safetensors").step == step
    more = run("train", "--resume", "runs/int", "-q", cwd=corpus)
    assert more.returncode == 0, err(more)
    a = checkpoint.load(corpus / "runs/whole/last.safetensors")
    b = checkpoint.load(corpus / "runs/int/last.safetensors")
    assert a.step == b.step == 3000 and _same_weights(a, b)
    assert a.info["schedule"] == b.info["schedule"] and a.info["optimizer"] == b.info["optimizer"]


def test_sigterm_stops_like_ctrl_c(corpus):
    p = subprocess.Popen(
        [rnngen_exe(), "train", "corpus.txt", *TINY, "--steps", "10000000", "--out", "runs/term"],
        cwd=corpus,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    _wait_for(lambda: re.search(rb"step [1-9]", _peek(p)) is not None, p)
    p.terminate()
    seen = _peek(p)
    _, stderr = p.communicate(timeout=60)
    e = (seen + stderr).decode()
    assert p.returncode == 130 and "rnngen train --resume runs/term" in e, e
    step = int(re.search(r"interrupted at step ([\d,]+)", e).group(1).replace(",", ""))
    assert checkpoint.load(corpus / "runs/term/last.safetensors").step == step


def test_a_closed_stderr_does_not_stop_training(corpus):
    """``rnngen train ... 2>&1 | head -2``: the log is cut short, the run is not."""
    cmd = (
        f"'{rnngen_exe()}' train corpus.txt {' '.join(TINY)} --steps 1500 --eval-every 100 "
        "--out runs/pipe 2>&1 | head -2; echo rc=${PIPESTATUS[0]}"
    )
    p = subprocess.run(
        ["bash", "-c", cmd], cwd=corpus, env=cli_env(), capture_output=True, text=True, timeout=300
    )
    assert p.stdout.splitlines()[-1] == "rc=0", p.stdout
    assert checkpoint.load(corpus / "runs/pipe/last.safetensors").step == 1500


def test_kill_9_at_random_moments_never_loses_the_checkpoint(corpus):
    """A tiny model checkpointing every step is killed at random moments, many of them in the
    middle of a write: each time the run directory holds a checkpoint that loads, and --resume
    (the next process) continues from exactly that step."""
    rng = random.Random(1234)
    run_dir = corpus / "runs/k"
    last = run_dir / "last.safetensors"
    args = [
        "train",
        "corpus.txt",
        *TINY,
        "--steps",
        "100000000",
        "--eval-every",
        "1",
        "--out",
        "runs/k",
    ]
    kills, loads, resumes, mid_write = 0, 0, 0, 0
    step = None
    while kills < 22:
        log = corpus / f"kill{kills}.err"
        with open(log, "wb") as f:
            p = subprocess.Popen(
                [rnngen_exe(), *args],
                cwd=corpus,
                env=cli_env(),
                stdout=subprocess.DEVNULL,
                stderr=f,
            )
            if step is None:  # the first run: kill it once it has a checkpoint
                t0 = time.monotonic()
                _wait_for(last.exists, p)
                startup = time.monotonic() - t0  # a busy machine starts processes slowly
                time.sleep(rng.uniform(0.0, 0.3))
            elif kills % 3 == 2:  # every third one in the middle of writing a checkpoint
                t0 = time.monotonic()
                while not any(run_dir.glob(f".*.tmp{p.pid}")) and time.monotonic() - t0 < 9:
                    time.sleep(0.0005)
            else:  # the others anywhere from start-up to well into training
                time.sleep(rng.uniform(0.3 * startup, startup + 1.5))
            assert p.poll() is None, log.read_text()
            p.kill()
            p.wait()
        kills += 1
        mid_write += any(run_dir.glob(f".*.tmp{p.pid}"))  # killed while writing
        ck = checkpoint.load(last)  # never raises: the last checkpoint is whole
        if (run_dir / "best.safetensors").exists():
            checkpoint.load(run_dir / "best.safetensors")
        loads += 1
        said = re.search(r"resuming runs/k at step ([\d,]+)", log.read_text())
        if step is not None:
            assert ck.step >= step
            if said:  # the process got far enough to say where it starts: where the last one was
                assert int(said.group(1).replace(",", "")) == step
                resumes += 1
        step = ck.step
        args = ["train", "--resume", "runs/k"]
    final = run("train", "--resume", "runs/k", "--steps", str(step + 3), cwd=corpus)
    assert final.returncode == 0, err(final)
    assert f"resuming runs/k at step {step:,}" in err(final)
    assert checkpoint.load(last).step == step + 3
    assert not any(run_dir.glob(".*.tmp*"))  # stale temporary files were cleaned up
    print(f"kills {kills}, loads {loads}, resumes {resumes + 1}, mid-write {mid_write}")
    assert kills >= 20 and loads == kills and resumes >= 5
    assert mid_write >= 3


def _peek(p: subprocess.Popen) -> bytes:
    """Whatever stderr holds so far, without blocking (reads byte by byte up to 64 KiB)."""
    import select

    buf = getattr(p, "_peeked", b"")
    while select.select([p.stderr], [], [], 0)[0]:
        chunk = os.read(p.stderr.fileno(), 65536)
        if not chunk:
            break
        buf += chunk
    p._peeked = buf
    return buf


def _wait_for(cond, p: subprocess.Popen, timeout: float = 120) -> None:
    t0 = time.monotonic()
    while not cond():
        assert p.poll() is None, "the training process ended early"
        assert time.monotonic() - t0 < timeout
        time.sleep(0.02)


# ---- failed saves --------------------------------------------------------------------------------


def _limit_file_size(limit: int):
    def preexec() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a too-large write fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return preexec


def test_full_disk_while_saving_keeps_the_previous_checkpoint(corpus):
    """Writes fail (RLIMIT_FSIZE stands in for a full disk): training warns, goes on, and finally
    stops with a clear error; the checkpoints written before are untouched."""
    first = run(
        "train",
        "corpus.txt",
        *TINY,
        "--steps",
        "20",
        "--eval-every",
        "10",
        "--out",
        "runs/full",
        "-q",
        cwd=corpus,
    )
    assert first.returncode == 0, err(first)
    before = {q.name: q.read_bytes() for q in (corpus / "runs/full").iterdir()}
    limit = min(len(b) for b in before.values()) // 2
    p = subprocess.run(
        [rnngen_exe(), "train", "--resume", "runs/full", "--steps", "50"],
        cwd=corpus,
        env=cli_env(),
        capture_output=True,
        preexec_fn=_limit_file_size(limit),
        timeout=300,
    )
    e = err(p)
    assert p.returncode == 1, e
    assert "warning: runs/full/last.safetensors: could not write checkpoint (File too large)" in e
    assert "training goes on" in e
    last_line = e.strip().splitlines()[-1]
    assert last_line.startswith("error: runs/full/last.safetensors: could not write checkpoint")
    assert "the previous one is intact" in last_line and "Traceback" not in e
    assert {q.name: q.read_bytes() for q in (corpus / "runs/full").iterdir()} == before


def test_read_only_run_directory_is_refused_before_training(corpus):
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only directories")
    first = run("train", "corpus.txt", *TINY, "--steps", "5", "--out", "runs/ro", "-q", cwd=corpus)
    assert first.returncode == 0
    ro = corpus / "runs/ro"
    before = {q.name: q.read_bytes() for q in ro.iterdir()}
    ro.chmod(0o555)
    try:
        p = run("train", "--resume", "runs/ro", "--steps", "10", cwd=corpus)
    finally:
        ro.chmod(0o755)
    assert p.returncode == 1 and "runs/ro: cannot write the run directory" in err(p)
    assert {q.name: q.read_bytes() for q in ro.iterdir()} == before


# ---- diverging loss ------------------------------------------------------------------------------


def test_diverging_loss_rolls_back_halves_the_rate_then_stops_cleanly(corpus):
    p = run(
        "train",
        "corpus.txt",
        *TINY,
        "--lr",
        "1e6",
        "--clip",
        "0",
        "--steps",
        "200",
        "--out",
        "runs/div",
        cwd=corpus,
    )
    e = err(p)
    assert p.returncode == 1, e
    warnings = [line for line in e.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 4 and all("halved the learning rate" in w for w in warnings)
    assert e.strip().splitlines()[-1].startswith("error: training diverged")
    assert "5 times in a row" in e and "Traceback" not in e
    ck = checkpoint.load(corpus / "runs/div/last.safetensors")  # the last good state, saved
    assert all(np.isfinite(v).all() for v in ck.params.values())


# ---- fine-tuning ---------------------------------------------------------------------------------


def test_init_from_grows_the_vocabulary_and_keeps_the_old_weights(corpus):
    base = run(
        "train", "corpus.txt", *SMALL, "--steps", "30", "--out", "runs/base", "-q", cwd=corpus
    )
    assert base.returncode == 0, err(base)
    (corpus / "new.txt").write_text(repetitive_text().replace("cat", "Zebu") * 2)
    p = run(
        "train",
        "new.txt",
        "--init-from",
        "runs/base/last.safetensors",
        "--steps",
        "5",
        "--batch-size",
        "8",
        "--seq-len",
        "16",
        "--out",
        "runs/tuned",
        cwd=corpus,
    )
    assert p.returncode == 0, err(p)
    assert "added 2 characters it did not know to its vocabulary: 'Z', 'u'" in err(p)
    old = checkpoint.load(corpus / "runs/base/last.safetensors")
    new = checkpoint.load(corpus / "runs/tuned/last.safetensors")
    assert new.vocab.itos == [*old.vocab.itos, "Z", "u"]
    assert new.model_cfg.hidden == 32 and new.model_cfg.vocab_size == len(old.vocab) + 2
    s = run("sample", "runs/tuned", "--prime", "the Zebu", "--length", "10", cwd=corpus)
    assert s.returncode == 0 and out(s).startswith("the Zebu")
    bad = run("train", "new.txt", "--init-from", "runs/base", "--hidden", "64", cwd=corpus)
    assert bad.returncode == 2 and "--hidden 64 conflicts with runs/base" in err(bad)
