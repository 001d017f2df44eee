"""Data-parallel training over MPI, for real: ``mpiexec -n 2`` (MPICH's hydra, from the ``mpich``
wheel) starting the installed ``rnngen`` command twice on this machine, over loopback."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from clitools import (
    checkpoint_arrays,
    cli_env,
    err,
    history,
    mpi,
    mpiexec_exe,
    one_and_two_processes,
    out,
    repetitive_text,
    reversals,
    rnngen_exe,
    run,
)

# a small model and batch, 20 steps: seconds per run
SMALL = [
    "--hidden",
    "32",
    "--embed",
    "16",
    "--batch-size",
    "8",
    "--seq-len",
    "16",
    "--seed",
    "5",
    "--lr",
    "0.01",
]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("mpi")
    (d / "corpus.txt").write_text(repetitive_text(600))
    (d / "pairs.tsv").write_text(reversals(200, 3))
    return d


def test_two_processes_train_what_one_process_trains(workdir):
    common = ["train", "corpus.txt", *SMALL, "--steps", "20", "--eval-every", "5", "--json"]
    one_and_two_processes(workdir, common, 20)
    a = checkpoint_arrays(workdir / "one/last.safetensors")
    b = checkpoint_arrays(workdir / "two1/last.safetensors")
    c = checkpoint_arrays(workdir / "two2/last.safetensors")
    assert a.keys() == b.keys() and b["state.h"].shape[1] == 8  # the state of all 8 rows
    for k in a:
        x, y = a[k].astype(np.float64), b[k].astype(np.float64)
        assert np.linalg.norm(x - y) <= 1e-5 * np.linalg.norm(x), k
        assert np.array_equal(b[k], c[k]), k  # two runs with N = 2: identical bit for bit
    h1, h2 = history(workdir / "one/last.safetensors"), history(workdir / "two1/last.safetensors")
    assert [h["step"] for h in h1] == [h["step"] for h in h2] == [5, 10, 15, 20]
    for e1, e2 in zip(h1, h2, strict=True):
        assert round(e1["train_loss"], 4) == round(e2["train_loss"], 4)
        assert round(e1["val_loss"], 4) == round(e2["val_loss"], 4)
    assert history(workdir / "two2/last.safetensors") == [
        {**h, "seconds": h3["seconds"]}
        for h, h3 in zip(h2, history(workdir / "two2/last.safetensors"), strict=True)
    ]


MPI_SCRIPT = """
import os, rnngen
events = []
run = rnngen.train("corpus.txt", hidden=32, embed=16, batch_size=8, seq_len=16, seed=5, lr=0.01,
                   steps=20, eval_every=5, out="api-mpi", progress=events.append)
starts = [e for e in events if e.kind == "start"]
line = f"{run.steps} {len(starts)} {starts[0].info['processes'] if starts else 0}\\n"
os.write(2, line.encode())  # one write: the two processes' lines cannot interleave
"""


def test_the_python_api_trains_over_mpi_as_the_command_does(workdir):
    """``mpiexec -n 2 python script.py`` calling ``rnngen.train``: the two processes train one
    model together, as ``mpiexec -n 2 rnngen train`` does, bit for bit; each process's library
    prints nothing on stdout."""
    common = ["train", "corpus.txt", *SMALL, "--steps", "20", "--eval-every", "5"]
    cli = mpi(2, *common, "--out", "cli-mpi", cwd=workdir)
    assert cli.returncode == 0, err(cli)
    (workdir / "script.py").write_text(MPI_SCRIPT)
    api = subprocess.run(
        [mpiexec_exe(), "-n", "2", sys.executable, "script.py"],
        cwd=workdir,
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=300,
    )
    assert api.returncode == 0, api.stderr
    assert api.stdout == ""
    # each process ran 20 steps; the root alone reported progress, of 2 processes
    assert sorted(api.stderr.strip().split("\n")) == ["20 0 0", "20 1 2"], api.stderr
    a = checkpoint_arrays(workdir / "cli-mpi/last.safetensors")
    b = checkpoint_arrays(workdir / "api-mpi/last.safetensors")
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(a[k], b[k]), k


def test_resume_with_the_same_or_another_process_count(workdir):
    common = ["train", "corpus.txt", *SMALL, "--eval-every", "5"]
    full = mpi(2, *common, "--steps", "20", "--out", "full", cwd=workdir)
    assert full.returncode == 0, err(full)
    for n, name in ((2, "same"), (1, "other")):
        first = mpi(2, *common, "--steps", "10", "--out", name, cwd=workdir)
        assert first.returncode == 0, err(first)
        extra = ["--threads", "1"] if n == 1 else []
        more = mpi(n, "train", "--resume", name, "--steps", "20", *extra, cwd=workdir)
        assert more.returncode == 0, err(more)
        a = checkpoint_arrays(workdir / "full/last.safetensors")
        b = checkpoint_arrays(workdir / name / "last.safetensors")
        for k in a:
            if n == 2:
                assert np.array_equal(a[k], b[k]), k  # exactly the uninterrupted run
            else:
                x, y = a[k].astype(np.float64), b[k].astype(np.float64)
                assert np.linalg.norm(x - y) <= 1e-5 * np.linalg.norm(x), k


def test_usage_and_input_errors_are_reported_once(workdir):
    for data in (["corpus.txt", *SMALL], ["pairs.tsv", "--task", "seq2seq"]):
        p = mpi(2, "train", *data, "--batch-size", "7", "--out", "odd", cwd=workdir)
        assert p.returncode == 2
        assert err(p).strip() == (
            "error: --batch-size 7 cannot be split among 2 processes: give "
            "a batch size divisible by 2 (each of them trains batch-size / "
            "2 rows)"
        )
        assert not (workdir / "odd").exists()
    p = mpi(2, "train", "missing.txt", "--steps", "2", cwd=workdir)
    assert p.returncode == 1 and err(p).strip() == "error: missing.txt: no such file"
    assert not (workdir / "runs").exists()


def test_distributed_off_trains_each_process_alone(workdir):
    args = ["train", "corpus.txt", *SMALL, "--steps", "3", "--distributed", "off", "--json"]
    p = subprocess.run(
        [
            mpiexec_exe(),
            "-n",
            "1",
            rnngen_exe(),
            *args,
            "--out",
            "a",
            ":",
            "-n",
            "1",
            rnngen_exe(),
            *args,
            "--out",
            "b",
        ],
        cwd=workdir,
        capture_output=True,
        env=cli_env(),
        timeout=300,
    )
    assert p.returncode == 0, err(p)
    runs = [json.loads(line) for line in out(p).strip().splitlines()]
    assert sorted(r["run_dir"] for r in runs) == ["a", "b"]  # two runs, each its own
    assert "processes" not in err(p)


def _start(workdir: Path, out_dir: str) -> subprocess.Popen:
    args = [
        "train",
        "corpus.txt",
        *SMALL,
        "--steps",
        "100000",
        "--eval-every",
        "3",
        "--out",
        out_dir,
    ]
    return subprocess.Popen(
        [mpiexec_exe(), "-n", "2", rnngen_exe(), *args],
        cwd=workdir,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def _wait_for_checkpoint(workdir: Path, out_dir: str, p: subprocess.Popen) -> None:
    t0 = time.monotonic()
    while not (workdir / out_dir / "last.safetensors").exists():
        assert p.poll() is None, p.stderr.read().decode()
        assert time.monotonic() - t0 < 120
        time.sleep(0.2)
    time.sleep(1.0)


def _ranks(p: subprocess.Popen) -> list[int]:
    """The rnngen processes mpiexec started (children of its proxy)."""
    found = []
    for proxy in subprocess.run(
        ["pgrep", "-P", str(p.pid)], capture_output=True, text=True
    ).stdout.split():
        found += [
            int(x)
            for x in subprocess.run(
                ["pgrep", "-P", proxy], capture_output=True, text=True
            ).stdout.split()
        ]
    return found


def test_a_killed_process_ends_the_run_and_the_checkpoint_survives(workdir):
    p = _start(workdir, "killed")
    try:
        _wait_for_checkpoint(workdir, "killed", p)
        ranks = _ranks(p)
        assert len(ranks) == 2
        os.kill(ranks[-1], signal.SIGKILL)
        t0 = time.monotonic()
        p.wait(timeout=30)  # no hang: the others exit too
        assert time.monotonic() - t0 < 30 and p.returncode != 0
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
    info = run("info", "killed/last.safetensors", "--json", cwd=workdir)
    assert info.returncode == 0, err(info)
    step = json.loads(out(info))["steps"]
    more = mpi(2, "train", "--resume", "killed", "--steps", str(step + 3), cwd=workdir)
    assert more.returncode == 0, err(more)
    assert f"resuming killed at step {step:,}" in err(more)


def test_ctrl_c_stops_every_process_after_a_step_and_saves(workdir):
    p = _start(workdir, "stopped")
    try:
        _wait_for_checkpoint(workdir, "stopped", p)
        p.send_signal(signal.SIGINT)  # Ctrl-C on mpiexec
        _, e = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
    e = e.decode()
    assert p.returncode == 130, e
    assert e.count("interrupted at step") == 1, e  # rank 0 alone speaks
    stopped_at = int(e.split("interrupted at step ")[1].split(";")[0].replace(",", ""))
    info = run("info", "stopped/last.safetensors", "--json", cwd=workdir)
    assert json.loads(out(info))["steps"] == stopped_at, e


def test_a_wall_time_schedule_follows_one_clock(workdir):
    """Under --minutes, cosine's rate follows the fraction of time gone: every process takes the
    root's, so the weights stay identical (before, each process read its own clock and the
    weights check stopped the run at its first evaluation: 'the 2 processes' weights differ')."""
    p = mpi(
        2,
        "train",
        "corpus.txt",
        *SMALL,
        "--minutes",
        "0.08",
        "--schedule",
        "cosine",
        "--eval-every",
        "10",
        "--out",
        "cosine",
        "--json",
        cwd=workdir,
    )
    assert p.returncode == 0, err(p)
    assert "weights differ" not in err(p) and json.loads(out(p))["steps"] >= 10
