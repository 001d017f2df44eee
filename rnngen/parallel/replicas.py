"""Data-parallel training inside one process: ``--replicas N`` trains N replicas of the model in N
threads, each on its 1/N of every batch, and they exchange through shared memory what the N
processes of ``mpiexec -n N`` exchange over MPI (``rnngen.parallel.group``): the same rows per
replica, the same dropout seeds, the same sums. Two replicas give bit for bit the model that two
MPI processes give.

Why threads help: a training step of a small model is a chain of short GEMMs and time loops, and
two threads splitting each of them (``--threads 2``) leave much of the step serial; two replicas of
one thread each run whole steps side by side, and every kernel releases the GIL (Numba ``nogil``,
NumPy's BLAS), so only the Python between kernels takes turns.

Replica 0 runs in the calling thread and is the root: it alone reads the data, writes checkpoints
and reports; the others start in threads of their own (``start``), wait for the root's recipe (as
``rnngen.run.launch.setup`` sends it to MPI processes) and run the same loop. A failure in any
replica breaks the shared barrier, so no replica waits forever, and the root raises the failure.
"""

import pickle
import threading
from collections.abc import Callable
from typing import TypeVar

import numpy as np

from rnngen.errors import TrainingError, UsageError
from rnngen.kernels.threads import available_cores
from rnngen.parallel.group import Alone, Collective, Group, share_of_cores

R = TypeVar("R")


class ReplicaStoppedError(TrainingError):
    """Another replica failed or the root left the run: this one stops too."""


class Hub:
    """What the replicas of one run share: a barrier, one slot per replica, the first failure."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.barrier = threading.Barrier(n)
        self.slots: list = [None] * n
        self.failure: BaseException | None = None
        self.threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def fail(self, error: BaseException) -> None:
        """Record the first failure and release every replica waiting at the barrier."""
        with self._lock:
            if self.failure is None:
                self.failure = error
        self.barrier.abort()

    def wait(self, rank: int) -> None:
        """Wait until every replica is here. Raises the first failure on the root, and
        ReplicaStoppedError elsewhere, when a replica failed."""
        try:
            self.barrier.wait()
        except threading.BrokenBarrierError:
            if (
                rank == 0
                and self.failure is not None
                and not isinstance(self.failure, ReplicaStoppedError)
            ):
                raise self.failure from None
            raise ReplicaStoppedError("another replica of this run stopped") from None


class ThreadGroup(Collective):
    """One replica's view of the hub: the group interface the training loop speaks."""

    members = "replicas"

    def __init__(self, hub: Hub, rank: int) -> None:
        self.hub, self.rank, self.size = hub, rank, hub.n
        self.local_size = hub.n  # all on this machine: share_of_cores divides its cores
        self.is_root = rank == 0

    def _post(self, obj: object) -> list:
        """Every replica's ``obj`` by rank (the second barrier, before a slot is reused, is the
        caller's: ``_done``)."""
        self.hub.slots[self.rank] = obj
        self.hub.wait(self.rank)
        return list(self.hub.slots)

    def _done(self) -> None:
        self.hub.wait(self.rank)

    def _combine(self, a: np.ndarray, op: np.ufunc) -> None:
        """``a`` becomes ``op`` folded over the replicas' arrays in rank order, in place. Each
        replica folds its own 1/N of the elements and writes the result into every array."""
        if not a.flags.c_contiguous:
            raise ValueError("the arrays the replicas combine must be contiguous")
        arrays = [x.reshape(-1) for x in self._post(a)]
        n = arrays[0].size
        lo, hi = n * self.rank // self.size, n * (self.rank + 1) // self.size
        if hi > lo:
            acc = arrays[0][lo:hi].copy()
            for x in arrays[1:]:
                op(acc, x[lo:hi], out=acc)
            for x in arrays:
                x[lo:hi] = acc
        self._done()

    def sum_into(self, a: np.ndarray) -> None:
        self._combine(a, np.add)

    def max_into(self, a: np.ndarray) -> None:
        self._combine(a, np.maximum)

    def bcast(self, obj: R) -> R:
        # a copy, as a message would be: no replica shares a mutable object with another
        got = self._post(obj if self.is_root else None)[0]
        mine = obj if self.is_root else pickle.loads(pickle.dumps(got, pickle.HIGHEST_PROTOCOL))
        self._done()
        return mine

    def allgather(self, obj: R) -> list[R]:
        got = self._post(obj)
        mine = [
            x if r == self.rank else pickle.loads(pickle.dumps(x, pickle.HIGHEST_PROTOCOL))
            for r, x in enumerate(got)
        ]
        self._done()
        return mine

    def barrier(self) -> None:
        self.hub.wait(self.rank)

    def wait_idle(self) -> None:
        self.hub.wait(self.rank)  # a threading barrier sleeps while it waits

    def close(self, ok: bool = True) -> None:
        """The root's end of the run: on failure, release the others; then wait for them. Raises
        a replica's failure that the root has not seen."""
        if not self.is_root:
            return
        if not ok:
            self.hub.fail(ReplicaStoppedError("the root replica stopped"))
        for t in self.hub.threads:
            t.join()
        failure = self.hub.failure
        if ok and failure is not None and not isinstance(failure, ReplicaStoppedError):
            raise failure


def check_replicas(replicas: int, processes: int) -> None:
    """Raise UsageError for a replica count that cannot run."""
    if replicas < 1:
        raise UsageError(f"--replicas must be at least 1 (got {replicas})")
    if replicas > 1 and processes > 1:
        raise UsageError(
            f"--replicas {replicas} under an MPI launcher ({processes} processes): give one of them"
        )
    if replicas > 1 and not layer_runs_replicas():
        raise UsageError(
            f"--replicas {replicas} needs Numba's 'omp' or 'tbb' threading layer (its "
            "'workqueue' layer cannot run kernels from several threads at once): install "
            "the OpenMP runtime (libgomp) or 'pip install tbb', or train with --replicas 1"
        )


def layer_runs_replicas() -> bool:
    """Whether Numba's threading layer runs kernels from several threads at once (its 'omp'
    and 'tbb' layers do; 'workqueue' does not)."""
    import numba
    from numba.np.ufunc import parallel

    parallel._launch_threads()
    return numba.threading_layer() != "workqueue"


def start(
    n: int,
    threads: int | None,
    processes: int = 1,
    follow: Callable[[Group, int | None], None] | None = None,
) -> tuple[Group, int | None]:
    """(the group of ``n`` replicas, each one's threads: ``threads``, or the cores shared among
    them). Replica 0 is this thread; replicas 1..n-1 start in threads of their own and run
    ``follow(group, threads)``: they follow the root's set-up and train (the run's orchestration,
    ``rnngen.run.training``, says how). The caller ends the run with the group's
    ``close``, whatever happens. One replica is ``Group``. ``processes``: how many processes an
    MPI launcher started (replicas are refused under one)."""
    check_replicas(n, processes)
    if n == 1:
        return Alone(), threads
    hub = Hub(n)
    root = ThreadGroup(hub, 0)
    if threads is None:
        threads = share_of_cores(root, available_cores())
    for rank in range(1, n):
        t = threading.Thread(
            target=_replica,
            args=(ThreadGroup(hub, rank), threads, follow),
            name=f"rnngen-replica-{rank}",
            daemon=True,
        )
        hub.threads.append(t)
        t.start()
    return root, threads


def _replica(group: ThreadGroup, threads: int | None, follow: Callable) -> None:
    try:
        follow(group, threads)
    except BaseException as e:  # noqa: BLE001 - the root raises it
        group.hub.fail(e)
