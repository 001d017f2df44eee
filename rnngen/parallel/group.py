"""Data-parallel training over MPI (mpi4py): who does what when ``rnngen train`` runs as N
processes.

The global batch of B rows is cut into N equal contiguous row groups, one per process. Each process
runs the model on its rows; one allreduce of the flat gradient buffer per step (summed, divided by
N) gives every process the gradient of the global mean loss, so clipping and the optimizer, run
identically everywhere, keep the weights identical (``check_same`` verifies it cheaply at every
evaluation). Evaluation is split by rows and its sums reduced. Rank 0 alone writes checkpoints and
talks to the user; the checkpoint holds the carried state of all B rows (gathered), so a resumed run
may use another N that divides B.

Nothing here knows about language models beyond "a flat gradient buffer, a loss, a carried state
of (L, B, H) arrays": the sequence-to-sequence trainer uses the same group, combining by "sum" (its
processes' rows hold different numbers of target tokens, so each scales by the global count and
the gradients are summed, not averaged).

``Group`` is the protocol every group follows; as it stands it is the group of one (``Alone``:
every exchange a no-op), so the training loop has one code path. ``Collective`` writes the
exchanges of a group of several once, over four primitives; ``MPIGroup`` (processes) and
``rnngen.parallel.replicas.ThreadGroup`` (threads of one process) supply them.
"""

import hashlib
import os
import time
from collections.abc import Callable
from typing import TypeVar

import numpy as np

from rnngen.errors import TrainingError, UsageError, UserError

R = TypeVar("R")

# environment variables that MPI launchers set in every process they start: (size, rank)
_LAUNCHERS = (
    ("PMI_SIZE", "PMI_RANK"),  # MPICH's hydra, Intel MPI, Slurm's PMI-2
    ("OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK"),  # Open MPI
    ("PMIX_SIZE", "PMIX_RANK"),  # PMIx launchers
    ("MV2_COMM_WORLD_SIZE", "MV2_COMM_WORLD_RANK"),  # MVAPICH
)


def launched_size() -> int:
    """How many processes an MPI launcher started (1 when not started by one)."""
    for size, _rank in _LAUNCHERS:
        value = os.environ.get(size, "")
        if value.isdigit():
            return int(value)
    return 1


class Group:
    """The members training one model together, and what they exchange. The methods here are a
    group of one member's: the whole batch, nothing to exchange."""

    size, rank, local_size = 1, 0, 1
    is_root = True
    members = "processes"  # what the members are called in messages

    def rows(self, B: int) -> tuple[int, int]:
        """This process's row range of a batch of B rows (B divisible by size for training;
        evaluation's batch may leave some processes fewer rows, or none)."""
        lo = (B * self.rank) // self.size
        return lo, (B * (self.rank + 1)) // self.size

    def gradients(self, loss: float, grads: np.ndarray, combine: str = "mean") -> float:
        """The gradients of the members' rows combined, ``grads`` in place, and the global loss.
        ``combine`` "mean": each member's loss is its rows' mean, and the global mean is the
        members' average (equal rows each); "sum": each member scaled its loss by the global
        batch's token count (its rows hold different numbers of tokens), so the losses and
        gradients are summed."""
        return loss

    def agree(self, timed_out: bool, stop: bool, progress: float) -> tuple[bool, bool, float]:
        """What every process does next step: each flag true when it is on any process, and the
        root's fraction of the run done (a schedule that follows wall time must see one clock).
        One small allreduce."""
        return timed_out, stop, progress

    def sums(self, *values: float) -> tuple[float, ...]:
        """Each of ``values`` summed over the processes."""
        return values

    def gather_rows(self, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray] | None:
        """(L, b, H) arrays of this process's rows -> (L, B, H) arrays of all rows, on the root
        (None elsewhere)."""
        return arrays

    def bcast(self, obj: R) -> R:
        """The root's ``obj`` on every process."""
        return obj

    def allgather(self, obj: R) -> list[R]:
        """Every process's ``obj``, by rank, on every process."""
        return [obj]

    def root_only(self, fn: Callable[[], R]) -> R | None:
        """Run ``fn`` on the root; a ``UserError`` it raises is raised on every process (so all
        take the same path). The others get None."""
        return fn()

    def check_same(self, params: np.ndarray) -> None:
        """Raise TrainingError when the processes' parameters differ."""

    def barrier(self) -> None: ...

    def wait_idle(self) -> None:
        """A barrier that sleeps while it waits (MPI's own spins a core): for the processes
        that wait while the root prepares a run (encoding a 1 GB text takes half a minute)."""

    def close(self, ok: bool = True) -> None:
        """This member's end of the run (``ok``: it ended without an error): replicas in
        threads are released and joined (``rnngen.parallel.replicas``); nothing to do for
        processes."""

    def __enter__(self) -> "Group":
        return self

    def __exit__(self, kind, value, tb) -> None:
        self.close(ok=kind is None)


class Alone(Group):
    """The group of one member."""


class Collective(Group):
    """A group of several members, its exchanges written once over four primitives: ``sum_into``
    (an array summed over the members, in place), ``max_into``, ``bcast`` and ``allgather``.
    ``MPIGroup``'s members are processes; ``rnngen.parallel.replicas.ThreadGroup``'s are threads."""

    def sum_into(self, a: np.ndarray) -> None:
        """``a`` becomes its sum over the members, in place."""
        raise NotImplementedError

    def max_into(self, a: np.ndarray) -> None:
        """``a`` becomes its element-wise maximum over the members, in place."""
        raise NotImplementedError

    def gradients(self, loss: float, grads: np.ndarray, combine: str = "mean") -> float:
        self.sum_into(grads)
        if combine == "sum":
            return self.sums(loss)[0]
        grads *= grads.dtype.type(1.0 / self.size)
        return self.sums(loss)[0] / self.size

    def agree(self, timed_out: bool, stop: bool, progress: float) -> tuple[bool, bool, float]:
        buf = np.array([timed_out, stop, progress if self.is_root else -1.0], dtype=np.float64)
        self.max_into(buf)
        return bool(buf[0]), bool(buf[1]), float(buf[2])

    def sums(self, *values: float) -> tuple[float, ...]:
        buf = np.array(values, dtype=np.float64)
        self.sum_into(buf)
        return tuple(float(v) for v in buf)

    def gather_rows(self, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray] | None:
        out = {}
        for name, a in arrays.items():
            parts = self.allgather(np.ascontiguousarray(a))
            if self.is_root:
                out[name] = np.concatenate(parts, axis=1)
        return out if self.is_root else None

    def root_only(self, fn: Callable[[], R]) -> R | None:
        result, failure = None, None
        if self.is_root:
            try:
                result = fn()
            except UserError as e:
                failure = e
        failure = self.bcast(failure)
        if failure is not None:
            raise failure
        return result

    def check_same(self, params: np.ndarray) -> None:
        digest = hashlib.blake2b(np.ascontiguousarray(params).data, digest_size=16).hexdigest()
        digests = self.allgather(digest)
        if len(set(digests)) > 1:
            odd = [r for r, d in enumerate(digests) if d != digests[0]]
            raise TrainingError(
                f"the {self.size} {self.members}' weights differ (ranks {odd} disagree with rank "
                "0): the processes are not running the same rnngen, NumPy or BLAS, or a process "
                "is faulty; stop and resume from the last checkpoint"
            )


class MPIGroup(Collective):
    """The processes of ``MPI.COMM_WORLD``."""

    def __init__(self) -> None:
        from mpi4py import MPI

        self.MPI = MPI
        self.comm = MPI.COMM_WORLD
        self.size, self.rank = self.comm.Get_size(), self.comm.Get_rank()
        self.is_root = self.rank == 0
        self.local_size = self.comm.Split_type(MPI.COMM_TYPE_SHARED).Get_size()

    def sum_into(self, a: np.ndarray) -> None:
        self.comm.Allreduce(self.MPI.IN_PLACE, a, op=self.MPI.SUM)

    def max_into(self, a: np.ndarray) -> None:
        self.comm.Allreduce(self.MPI.IN_PLACE, a, op=self.MPI.MAX)

    def bcast(self, obj: R) -> R:
        return self.comm.bcast(obj, root=0)

    def allgather(self, obj: R) -> list[R]:
        return self.comm.allgather(obj)

    def barrier(self) -> None:
        self.comm.Barrier()

    def wait_idle(self) -> None:
        request = self.comm.Ibarrier()
        while not request.Test():
            time.sleep(0.01)


def make_group(mode: str) -> Group:
    """The group this process belongs to: ``mode`` 'auto' (MPI when an MPI launcher started more
    than one process) or 'off'. Raises UsageError when MPI is wanted but mpi4py is missing."""
    if mode not in ("auto", "off"):
        raise UsageError(f"--distributed must be 'auto' or 'off', not {mode!r}")
    n = launched_size()
    if mode == "off" or n <= 1:
        return Alone()
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        raise UsageError(
            f"started by an MPI launcher as {n} processes, but mpi4py is not installed: "
            "python3 -m pip install 'rnngen[mpi]', or give --distributed off"
        ) from None
    return MPIGroup()


def check_batch(group: Group, batch_size: int) -> None:
    """Raise UsageError when the processes (or replicas) cannot share the batch's rows
    equally."""
    n, who = group.size, group.members
    if batch_size % n:
        raise UsageError(
            f"--batch-size {batch_size} cannot be split among {n} {who}: give a batch size "
            f"divisible by {n} (each of them trains batch-size / {n} rows)"
        )


def share_of_cores(group: Group, cores: int) -> int:
    """Threads per process by default: this machine's cores shared among its processes."""
    return max(1, cores // max(1, group.local_size))
