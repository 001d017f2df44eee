"""``--replicas N``: data-parallel training in N threads of one process, exchanging through shared
memory what ``mpiexec -n N`` processes exchange over MPI. Two replicas must give what two MPI
processes give, bit for bit; the group's exchanges are checked on their own with real threads."""

import json
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from clitools import (
    checkpoint_arrays,
    cli_env,
    err,
    history,
    mpi,
    out,
    repetitive_text,
    reversals,
    rnngen_exe,
    run,
)

from rnngen.errors import TrainingError
from rnngen.parallel.replicas import Hub, ReplicaStoppedError, ThreadGroup

LM = [
    "corpus.txt",
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
    "--dropout",
    "0.2",
]
S2S = [
    "pairs.tsv",
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
    "--dropout",
    "0.2",
    "--label-smoothing",
    "0.1",
    "--teacher-forcing",
    "0.8",
    "--schedule",
    "constant",  # a run resumed with a longer --steps continues the same rates
]
TASKS = {"lm": LM, "seq2seq": S2S}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("replicas")
    (d / "corpus.txt").write_text(repetitive_text(600))
    (d / "pairs.tsv").write_text(reversals(300, 3, 9, spaced=True))
    return d


def weights(workdir, name: str) -> dict[str, np.ndarray]:
    return checkpoint_arrays(workdir / name / "last.safetensors")


def same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def without_clock(h: list[dict]) -> list[dict]:
    return [{k: v for k, v in e.items() if k != "seconds"} for e in h]


@pytest.mark.parametrize("task", TASKS)
def test_two_replicas_train_what_two_mpi_processes_train_bit_for_bit(workdir, task):
    common = [
        "train",
        *TASKS[task],
        "--steps",
        "12",
        "--eval-every",
        "4",
        "--threads",
        "1",
        "--json",
    ]
    threads = run(*common, "--replicas", "2", "--out", f"{task}-threads", cwd=workdir)
    assert threads.returncode == 0, err(threads)
    assert len(out(threads).strip().splitlines()) == 1  # the root alone prints --json ...
    assert json.loads(out(threads))["steps"] == 12
    assert err(threads).count("run directory:") == 1  # ... and the log
    assert "1 threads x 2 replicas" in err(threads)
    procs = mpi(2, *common, "--out", f"{task}-procs", cwd=workdir)
    assert procs.returncode == 0, err(procs)
    assert same(weights(workdir, f"{task}-threads"), weights(workdir, f"{task}-procs"))
    h1 = history(workdir / f"{task}-threads/last.safetensors")
    h2 = history(workdir / f"{task}-procs/last.safetensors")
    assert [e["step"] for e in h1] == [4, 8, 12]
    assert without_clock(h1) == without_clock(h2)  # validation shared out and summed alike
    one = run(*common, "--replicas", "1", "--out", f"{task}-one", cwd=workdir)  # another model
    assert one.returncode == 0, err(one)
    assert not same(weights(workdir, f"{task}-one"), weights(workdir, f"{task}-threads"))


@pytest.mark.parametrize("task", TASKS)
def test_a_run_of_replicas_resumes_exactly(workdir, task):
    common = ["train", *TASKS[task], "--eval-every", "5", "--replicas", "2"]
    full = run(*common, "--steps", "16", "--out", f"{task}-full", cwd=workdir)
    assert full.returncode == 0, err(full)
    first = run(*common, "--steps", "8", "--out", f"{task}-half", cwd=workdir)
    assert first.returncode == 0, err(first)
    more = run("train", "--resume", f"{task}-half", "--steps", "16", "--replicas", "2", cwd=workdir)
    assert more.returncode == 0, err(more)
    assert f"resuming {task}-half at step 8" in err(more)
    assert same(weights(workdir, f"{task}-full"), weights(workdir, f"{task}-half"))
    alone = run(
        "train", "--resume", f"{task}-half", "--steps", "18", "--replicas", "1", cwd=workdir
    )
    assert alone.returncode == 0, err(alone)  # one replica continues a run of two
    assert f"resuming {task}-half at step 16" in err(alone)


def test_a_resumed_run_keeps_its_replicas_unless_told(workdir):
    common = ["train", *LM, "--eval-every", "5", "--replicas", "2"]
    full = run(*common, "--steps", "12", "--out", "kept-full", cwd=workdir)
    assert full.returncode == 0, err(full)
    first = run(*common, "--steps", "6", "--out", "kept", cwd=workdir)
    assert first.returncode == 0, err(first)
    more = run("train", "--resume", "kept", "--steps", "12", cwd=workdir)  # no --replicas
    assert more.returncode == 0, err(more)
    assert "x 2 replicas" in err(more)
    assert same(weights(workdir, "kept-full"), weights(workdir, "kept"))


@pytest.mark.parametrize("gemm", ["own", "blas"])
def test_seq2seq_trains_in_two_shards_by_default_whatever_the_threads(workdir, gemm):
    """The default: every batch in 2 shards (replicas), so 1, 2 or 3 threads per shard give the
    same model bit for bit, on either GEMM path."""
    common = ["train", *S2S, "--steps", "6", "--eval-every", "3", "--json"]
    env = {"RNNGEN_GEMM": gemm}
    got = {}
    for threads in ("1", "2", "3"):
        name = f"shards-{gemm}-{threads}"
        p = run(*common, "--threads", threads, "--out", name, cwd=workdir, env=env)
        assert p.returncode == 0, err(p)
        assert f"{threads} threads x 2 replicas" in err(p)
        got[threads] = weights(workdir, name)
    assert same(got["1"], got["2"]) and same(got["1"], got["3"])
    explicit = run(*common, "--replicas", "2", "--out", f"shards-{gemm}-x", cwd=workdir, env=env)
    assert explicit.returncode == 0, err(explicit)
    assert same(got["1"], weights(workdir, f"shards-{gemm}-x"))


def test_ctrl_c_stops_the_replicas_after_a_step_and_says_how_to_resume(workdir):
    args = [
        "train",
        *LM,
        "--steps",
        "100000",
        "--eval-every",
        "3",
        "--replicas",
        "2",
        "--out",
        "stopped",
    ]
    p = subprocess.Popen(
        [rnngen_exe(), *args],
        cwd=workdir,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        t0 = time.monotonic()
        while not (workdir / "stopped" / "last.safetensors").exists():
            assert p.poll() is None, p.stderr.read().decode()
            assert time.monotonic() - t0 < 120
            time.sleep(0.2)
        time.sleep(1.0)
        p.send_signal(signal.SIGINT)
        _, e = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    e = e.decode()
    assert p.returncode == 130, e
    assert e.count("interrupted at step") == 1, e
    assert "rnngen train --resume stopped" in e  # a resumed run keeps its replicas
    stopped_at = int(e.split("interrupted at step ")[1].split(";")[0].replace(",", ""))
    info = run("info", "stopped/last.safetensors", "--json", cwd=workdir)
    assert json.loads(out(info))["steps"] == stopped_at, e


def test_replicas_that_cannot_run_are_refused(workdir):
    zero = run("train", *LM, "--replicas", "0", "--out", "zero", cwd=workdir)
    assert zero.returncode == 2 and "--replicas must be at least 1" in err(zero)
    odd = run("train", *LM, "--replicas", "2", "--batch-size", "7", "--out", "odd", cwd=workdir)
    assert odd.returncode == 2, err(odd)
    assert "--batch-size 7 cannot be split among 2 replicas" in err(odd)
    assert "Traceback" not in err(odd) and not (workdir / "odd" / "last.safetensors").exists()
    both = mpi(2, "train", *LM, "--replicas", "2", "--out", "both", cwd=workdir)
    assert both.returncode != 0
    assert "--replicas 2 under an MPI launcher (2 processes)" in err(both)
    assert not (workdir / "both").exists()
    # Numba's workqueue layer aborts the process when two threads launch kernels at once
    queue = run(
        "train",
        *LM,
        "--replicas",
        "2",
        "--out",
        "queue",
        cwd=workdir,
        env={"NUMBA_THREADING_LAYER": "workqueue"},
    )
    assert queue.returncode == 2, err(queue)
    assert "needs Numba's 'omp' or 'tbb' threading layer" in err(queue)
    assert not (workdir / "queue").exists()


API_SCRIPT = """
import threading, rnngen
before = threading.active_count()
r = rnngen.train("corpus.txt", hidden=32, embed=16, batch_size=8, seq_len=16, seed=5, lr=0.01,
                 dropout=0.2, steps=6, eval_every=3, threads=1, replicas=2, out="api")
assert r.steps == 6, r.steps
assert threading.active_count() == before, "a replica's thread is left"
try:
    rnngen.train("corpus.txt", batch_size=5, steps=2, replicas=2, out="api-odd")
except rnngen.UserError as e:
    assert "cannot be split among 2 replicas" in str(e), e
else:
    raise AssertionError("an odd batch was not refused")
assert threading.active_count() == before, "a replica's thread is left"
"""


def test_the_python_api_trains_replicas_as_the_command_does(workdir):
    """In a fresh interpreter, as a user's script runs: where NumPy's OpenBLAS takes the
    products, their last bits may depend on the process's past (this test's first version ran
    in the pytest worker and differed from the command in the last bits after other test files
    had run in that worker)."""
    common = ["train", *LM, "--steps", "6", "--eval-every", "3", "--threads", "1"]
    cli = run(*common, "--replicas", "2", "--out", "api-cli", cwd=workdir)
    assert cli.returncode == 0, err(cli)
    api = subprocess.run(
        [sys.executable, "-c", API_SCRIPT],
        cwd=workdir,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert api.returncode == 0, api.stderr
    assert api.stdout == ""  # the library prints nothing
    assert same(weights(workdir, "api"), weights(workdir, "api-cli"))


# ---- the group's exchanges, on their own ----------------------------------------------------


def in_threads(n: int, fn) -> list:
    """``fn(group)`` for each of ``n`` replicas of one hub, each in a thread; results by rank
    (an exception is returned as the result)."""
    hub, results = Hub(n), [None] * n

    def body(rank: int) -> None:
        try:
            results[rank] = fn(ThreadGroup(hub, rank))
        except BaseException as e:  # noqa: BLE001
            hub.fail(e)
            results[rank] = e

    threads = [threading.Thread(target=body, args=(r,)) for r in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
        assert not t.is_alive(), "a replica hangs"
    return results


def test_the_replicas_exchanges():
    rng = np.random.default_rng(0)
    data = [rng.standard_normal(1001).astype(np.float32) for _ in range(3)]

    def exchange(g: ThreadGroup):
        a = data[g.rank].copy()
        g.sum_into(a)
        m = data[g.rank].copy()
        g.max_into(m)
        mine = {"list": [g.rank]}
        sent = g.bcast(mine)
        sent["list"].append(g.rank)  # a copy: the root's object is not changed by the others
        gathered = g.allgather(10 * g.rank)
        rows = g.gather_rows({"h": np.full((2, g.rank + 1, 3), g.rank, np.float32)})
        flags = g.agree(g.rank == 2, False, 0.25 if g.is_root else 0.75)
        total = g.sums(1.5 * g.rank, g.rank)
        return a, m, mine, gathered, rows, flags, total

    results = in_threads(3, exchange)
    want = (data[0] + data[1]) + data[2]  # folded in rank order, as float32
    for rank, (a, m, mine, gathered, rows, flags, total) in enumerate(results):
        assert np.array_equal(a, want)
        assert np.array_equal(m, np.maximum(np.maximum(data[0], data[1]), data[2]))
        assert gathered == [0, 10, 20]
        assert flags == (True, False, 0.25)  # any replica's flag, the root's progress
        assert total == (4.5, 3.0)
        if rank == 0:
            assert mine == {"list": [0, 0]}
            assert rows["h"].shape == (2, 6, 3)
            assert rows["h"][0, :, 0].tolist() == [0, 1, 1, 2, 2, 2]
        else:
            assert mine == {"list": [rank]} and rows is None


def test_weights_that_differ_between_replicas_are_caught():
    results = in_threads(2, lambda g: g.check_same(np.full(4, g.rank, np.float32)))
    assert all(isinstance(r, TrainingError) for r in results)
    assert "the 2 replicas' weights differ (ranks [1]" in str(results[0])


def test_a_failing_replica_stops_the_others_and_the_root_raises_its_error():
    def work(g: ThreadGroup):
        if g.rank == 1:
            raise ValueError("replica 1 broke")
        g.sum_into(np.zeros(4, np.float32))  # the root waits for a replica that never comes

    results = in_threads(2, work)
    assert isinstance(results[0], ValueError) and str(results[0]) == "replica 1 broke"

    def root_leaves(g: ThreadGroup):
        if g.is_root:
            g.hub.fail(ReplicaStoppedError("the root replica stopped"))
            return "left"
        g.barrier()

    results = in_threads(2, root_leaves)
    assert results[0] == "left" and isinstance(results[1], ReplicaStoppedError)
