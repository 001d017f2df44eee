"""The training loop: batches, periodic evaluation, best/last checkpoints, stop rules.

No printing here: the caller passes a ``Reporter`` whose methods the loop calls (the CLI renders
them with rich on stderr).
"""

import math
import time
from pathlib import Path
from typing import Any

import numpy as np

import rnngen.checkpoint as checkpoint
from rnngen.data.batches import Position
from rnngen.errors import CheckpointError, TrainingError
from rnngen.files import remove_stale_temps
from rnngen.results import TrainResult
from rnngen.training import record
from rnngen.training.guard import DivergenceGuard, diverged
from rnngen.training.job import Job
from rnngen.training.optim import make_optimizer
from rnngen.training.schedule import DEFAULT_DECAY, Schedule

DEFAULT_EPOCHS = 10


class Reporter:
    """Receives training events. The default ignores them all."""

    def start(self, info: dict) -> None: ...
    def step(self, step: int, loss: float, tokens_per_sec: float, elapsed: float) -> None: ...
    def evaluated(
        self,
        step: int,
        val_loss: float,
        best: bool,
        val_error: float | None = None,
        val_bits_per_char: float | None = None,
    ) -> None: ...
    def evaluating(self, done: int, total: int) -> None: ...
    def evaluated_whole(
        self, step: int, val_loss: float, tokens: int, bits_per_char: float | None = None
    ) -> None: ...
    def saved(self, path: Path) -> None: ...
    def warning(self, message: str) -> None: ...


class Trainer:
    """The training loop of every task: runs ``job`` (the task's side: network, batches, step,
    validation, its part of a checkpoint; ``rnngen.training.job``), writing best and last
    checkpoints into ``out_dir``. A fresh model unless ``restore`` loads a checkpoint's training
    state (``--resume``) or ``load_weights`` its weights (``--init-from``)."""

    def __init__(self, job: Job, out_dir: Path) -> None:
        self.job, self.out_dir = job, out_dir
        self.tcfg, self.group = job.tcfg, job.group
        c = self.tcfg
        self.opt = make_optimizer(
            c.optimizer,
            self.model.params.size,
            c.lr,
            c.weight_decay,
            c.momentum,
            c.beta1,
            c.beta2,
            c.eps,
        )
        decay = c.decay if c.decay is not None else DEFAULT_DECAY.get(c.schedule, 0.5)
        self.schedule = Schedule(c.schedule, c.lr, decay, c.decay_after, c.warmup, c.min_lr)
        self.lr = self.tcfg.lr  # the rate of the latest step
        self.bad_evals = 0  # evaluations since the best one (for --patience)
        self.step = 0
        self.history: list[dict] = []
        self.curve: list[list[float]] = []  # [step, mean train loss since the last, lr, seconds]
        self._curve_losses: list[float] = []
        self.best: dict | None = None  # the best evaluation's val_loss and measures
        self._t0 = time.perf_counter()  # the run's start (history records seconds since)
        self.stop_requested = False  # set from a signal handler: finish the step, save, return
        self.recent: list[float] = []  # the last 100 training losses
        self.meta: dict = {}  # stored in the checkpoints' info: the caller's record of the inputs
        self.saved_step: int | None = None  # step of the newest last checkpoint written
        self.save_failures = 0  # checkpoint writes failed in a row
        self.seconds_before = 0.0  # wall time of the earlier sessions of a resumed run
        self.lock = None  # the run directory's lock (rnngen.training.lock), released by run()
        self.restored_state = None  # a resumed run's carried state, all rows (for the others)
        self.notes: list[str] = []  # what the user should know, told as warnings at the start
        job.plan_validation(self.eval_every)

    # ---- the job's, as the callers see them ---------------------------------------------------

    @property
    def task_name(self) -> str:
        return self.job.task_name

    @property
    def own_settings(self) -> Any:
        return self.job.own_settings

    @property
    def mcfg(self) -> Any:
        return self.job.mcfg

    @property
    def model(self) -> Any:
        return self.job.model

    @property
    def corpus(self) -> Any:
        return self.job.corpus

    @property
    def stream(self) -> Any:
        return self.job.stream

    @property
    def plan(self) -> Any:
        return self.job.plan

    @property
    def best_val(self) -> float | None:
        """The validation loss of the best checkpoint."""
        return None if self.best is None else self.best["val_loss"]

    def shared_data(self) -> Any:
        return self.job.shared_data()

    # ---- plan -----------------------------------------------------------------------------------

    @property
    def max_steps(self) -> int | None:
        """Step budget from --steps and --epochs (None when only --minutes limits the run)."""
        c = self.tcfg
        epochs = c.epochs
        if epochs is None and c.steps is None and c.minutes is None:
            epochs = DEFAULT_EPOCHS
        limits = []
        if c.steps is not None:
            limits.append(c.steps)
        if epochs is not None:
            limits.append(max(1, int(round(epochs * self.stream.steps_per_epoch))))
        return min(limits) if limits else None

    @property
    def eval_every(self) -> int:
        return self.tcfg.eval_every or self.job.default_eval_every()

    def _progress(self, t0: float, max_steps: int | None) -> float:
        """Fraction of the run done, by steps or by wall time, whichever is further."""
        done = 0.0
        if max_steps:
            done = self.step / max_steps
        if self.tcfg.minutes:
            done = max(done, (time.perf_counter() - t0) / (60.0 * self.tcfg.minutes))
        return done

    def done_reason(self) -> str | None:
        """Why a resumed run has nothing left to do under its limits, or None."""
        if self.max_steps is not None and self.step >= self.max_steps:
            return (
                f"{self.out_dir}: already trained for {self.step:,} steps, its limit; give a "
                "larger --steps or --epochs to train on"
            )
        if self._out_of_patience():
            return (
                f"{self.out_dir}: stopped early after {self.tcfg.patience} evaluations without "
                "improvement; give a larger --patience to train on"
            )
        return None

    def _out_of_patience(self) -> bool:
        p = self.tcfg.patience
        return p is not None and self.bad_evals >= p

    # ---- loop -----------------------------------------------------------------------------------

    def run(self, reporter: Reporter | None = None) -> TrainResult:
        """Train until a stop rule says so; the run directory's lock is released at the end."""
        try:
            return self._run(reporter or Reporter())
        finally:
            if self.lock is not None:
                self.lock.release()
                self.lock = None

    def _run(self, rep: Reporter) -> TrainResult:
        c = self.tcfg
        self.out_dir.mkdir(parents=True, exist_ok=True)
        max_steps, deadline = self.max_steps, None
        t0 = time.perf_counter()
        self._t0 = t0 - self.seconds_before  # history's seconds count the whole run (--resume)
        if c.minutes is not None:  # wall time of this session (checkpoints hold no clock time)
            deadline = t0 + c.minutes * 60.0
        rep.start(
            {
                "run_dir": str(self.out_dir),
                "max_steps": max_steps,
                "seconds": None if c.minutes is None else c.minutes * 60,
                "params": self.model.params.size,
                "steps_per_epoch": self.stream.steps_per_epoch,
                "threads": self.plan.threads,
                "parts": self.plan.parts,
                "processes": self.group.size,
                "members": self.group.members,
                "val_part_tokens": self.job.val_tokens() if self.job.scores_part else None,
                **self.job.data_info(),
            }
        )
        for note in self.notes:
            rep.warning(note)
        train_time, tokens_done = 0.0, 0
        recent = self.recent
        val_loss: float | None = None
        self.val_loss_whole: float | None = None
        if self.group.is_root:  # the writer: other machines do not see its processes
            remove_stale_temps(self.out_dir)
        guard = DivergenceGuard(self._capture, self._restore_capture)
        baseline = self.job.baseline()
        while True:
            if max_steps is not None and self.step >= max_steps:
                break
            timed_out = deadline is not None and time.perf_counter() >= deadline
            # every process stops at the same step, and a schedule that follows wall time
            # (cosine under --minutes) follows the root's clock
            # (the flag a signal handler sets is only read here, never cleared: a Ctrl-C that
            # lands while agree() returns is not lost)
            progress = self._progress(t0, max_steps)
            timed_out, stop, progress = self.group.agree(timed_out, self.stop_requested, progress)
            if timed_out or stop or self._out_of_patience():
                self.stop_requested = stop  # the agreed way out, the same on every process
                break
            ts = time.perf_counter()
            guard.before_step(self.step)
            self.lr = self.schedule.rate(
                self.step, self.step / self.stream.steps_per_epoch, progress
            )
            loss, tokens = self.job.train_batch(self.step)
            why = diverged(loss, recent, baseline)
            if why is not None:
                self._recover(guard, rep, f"{why} at step {self.step + 1}")
                continue
            guard.healthy()
            self.opt.step(self.model.params.flat, self.model.grads.flat, c.clip, self.lr)
            self.step += 1
            train_time += time.perf_counter() - ts
            tokens_done += tokens
            recent.append(loss)
            if len(recent) > 100:
                recent.pop(0)
            rep.step(self.step, loss, tokens_done / train_time, time.perf_counter() - t0)
            self._record_curve(loss)
            if self.step % self.eval_every == 0:
                val_loss = self._evaluate_and_save(rep, float(np.mean(recent)))
                guard.want_capture()
        final_train = float(np.mean(recent)) if recent else float("nan")
        if self.stop_requested:  # no evaluation: stop fast, and a resumed run is the same run
            if self.saved_step != self.step:
                rep.saved(self._save("last", final_train))
        elif self.step > 0 and (not self.history or self.history[-1]["step"] != self.step):
            val_loss = self._evaluate_and_save(rep, final_train, final=True)
        elif self.step > 0 and self.job.scores_part and self.job.has_val:
            self._score_whole(rep, final_train)  # the last step's evaluation scored the part
        elif self.saved_step != self.step:
            self._save("last", final_train)
        best = self.out_dir / ("best" + checkpoint.SUFFIX)
        last = self.out_dir / ("last" + checkpoint.SUFFIX)
        return TrainResult(
            steps=self.step,
            train_loss=final_train,
            val_loss=val_loss,
            best_val_loss=self.best_val,
            tokens_per_sec=tokens_done / train_time if train_time > 0 else 0.0,
            seconds=time.perf_counter() - t0,
            checkpoint=str(best if best.exists() else last),
            run_dir=str(self.out_dir),
            epochs=self.step / self.stream.steps_per_epoch,
            interrupted=self.stop_requested,
            val_loss_whole=self.val_loss_whole,
            val_bits_per_char=self._bpc(val_loss),
            val_bits_per_char_whole=self._bpc(self.val_loss_whole),
            val_tokens=self.job.val_tokens(),
            best={k: (self.best or {}).get(k) for k in self.job.measure_names},
            history=self.history,
        )

    def _record_curve(self, loss: float) -> None:
        """The training loss between evaluations, for learning curves: its mean over every
        ``eval_every // 10`` steps (at least 10), with the learning rate and the wall time."""
        self._curve_losses.append(loss)
        if self.step % max(10, self.eval_every // 10) == 0:
            mean = float(np.mean(self._curve_losses))
            seconds = round(time.perf_counter() - self._t0, 2)
            self.curve.append([self.step, round(mean, 5), self.lr, seconds])
            self._curve_losses.clear()

    def _evaluate_and_save(
        self, rep: Reporter, train_loss: float, final: bool = False
    ) -> float | None:
        """Evaluate, then write the last (and maybe best) checkpoint.

        A failed write keeps the previous file (see ``checkpoint.save``); mid-run the loop warns
        and goes on, trying again at the next evaluation, and stops after 3 failures in a row. A
        failed final write raises CheckpointError.
        """
        val_loss = None
        improved = False
        measures: dict[str, float] = {}
        previous_best = self.best
        self.group.check_same(self.model.params.flat)
        self.job.release_pages()  # RSS stays flat over a long run
        whole = None
        if self.job.has_val:
            val_loss = self.job.validate(rep, whole=not self.job.scores_part)
            if final and self.job.scores_part:
                whole = self.job.validate(rep, whole=True)
                self.val_loss_whole = whole
                self._report_whole(rep, whole)
            elif not self.job.scores_part:
                self.val_loss_whole = val_loss
            measures = self.job.measures(val_loss)
            now = {"val_loss": val_loss, **measures}
            improved = self.best is None or self.job.better(now, self.best)
            if improved:
                self.best = now
            if not final:  # only evaluations every eval_every steps count for patience/plateau
                self.bad_evals = 0 if improved else self.bad_evals + 1
        seconds = round(time.perf_counter() - self._t0, 2)  # wall time into the run, for curves
        self.history.append(
            {
                "step": self.step,
                "train_loss": train_loss,
                "val_loss": val_loss,
                "lr": self.lr,
                "seconds": seconds,
            }
        )
        if val_loss is not None:
            self.history[-1]["val_tokens"] = self.job.val_tokens()
            self.history[-1].update(measures)
        if whole is not None:
            self._record_whole(whole)
        if val_loss is not None:
            rep.evaluated(self.step, val_loss, improved, **measures)
            if not final and self.schedule.evaluated(improved):
                rep.warning(
                    f"validation {self.job.selected_by} did not improve: learning rate "
                    f"now {self.schedule.lr * self.schedule.scale:.4g}"
                )
        try:
            rep.saved(self._save("last", train_loss))
            if improved or not self.job.has_val:
                self._save("best", train_loss)
        except CheckpointError as e:
            self.best = previous_best  # the best file still holds it
            self.save_failures += 1
            if final or self.save_failures >= 3:
                raise
            rep.warning(f"{e}; training goes on and tries again at the next evaluation")
        else:
            self.save_failures = 0
        return val_loss

    def _bpc(self, loss: float | None) -> float | None:
        return None if loss is None else self.job.bits_per_char(loss)

    def _record_whole(self, whole: float) -> None:
        self.history[-1]["val_loss_whole"] = whole
        bpc = self.job.bits_per_char(whole)
        if bpc is not None:
            self.history[-1]["val_bits_per_char_whole"] = bpc

    def _report_whole(self, rep: Reporter, whole: float) -> None:
        tokens = self.job.val_tokens(whole=True)
        rep.evaluated_whole(self.step, whole, tokens, self.job.bits_per_char(whole))

    def _score_whole(self, rep: Reporter, train_loss: float) -> None:
        """At the end of a run whose last evaluation scored the part only: the whole validation
        data, into that evaluation's record and the last checkpoint."""
        whole = self.val_loss_whole = self.job.validate(rep, whole=True)
        self._record_whole(whole)
        self._report_whole(rep, whole)
        rep.saved(self._save("last", train_loss))

    def _recover(self, guard: DivergenceGuard, rep: Reporter, why: str) -> None:
        """Roll back to the last good state and halve the learning rate; after repeated
        failures, write the last good state as the last checkpoint and raise TrainingError."""
        ok = guard.rollback(self.step)
        if not ok:
            last = self.out_dir / ("last" + checkpoint.SUFFIX)
            where = f"the last checkpoint ({last}) is intact"
            if self.saved_step is None or self.step > self.saved_step:
                try:
                    self._save("last", float(np.mean(self.recent)) if self.recent else math.nan)
                    where = f"the last good state (step {self.step:,}) is saved in {last}"
                except CheckpointError as e:
                    where = str(e)
            raise TrainingError(
                f"training diverged: {why}, {guard.failures} times in a row despite rolling back "
                f"and halving the learning rate; {where}; try a lower --lr (given {self.tcfg.lr:g})"
                " or gradient clipping (--clip)"
            )
        self.schedule.scale *= 0.5  # kept by checkpoints with the schedule's state
        rep.warning(
            f"{why}; rolled back to step {self.step:,} and halved the learning rate (now "
            f"{self.schedule.lr * self.schedule.scale:.4g})"
        )

    # ---- state: checkpoints, captures for rollback, resume ---------------------------------------

    def _capture(self) -> dict:
        """A copy of everything the next step depends on (for rollback)."""
        return {
            "params": self.model.params.flat.copy(),
            "opt": {k: v.copy() for k, v in self.opt.state_arrays().items()},
            "opt_info": self.opt.state_info(),
            "state": self.job.capture(),
            "pos": (self.stream.pos.epoch, self.stream.pos.step_in_epoch),
            "step": self.step,
            "recent": list(self.recent),
        }

    def _restore_capture(self, cap: dict) -> None:
        self.model.params.flat[...] = cap["params"]
        self.opt.load_state(cap["opt"], cap["opt_info"])
        self.job.restore_capture(cap["state"])
        self.stream.pos = Position(*cap["pos"])
        self.step = cap["step"]
        self.recent[:] = cap["recent"]

    def restore(self, ck: "checkpoint.Checkpoint") -> None:
        """Continue the run ``ck`` was saved from (``rnngen.training.record.restore``)."""
        record.restore(self, ck)

    def load_weights(self, params: dict[str, np.ndarray]) -> None:
        """Copy weights in by name (``rnngen.training.record.load_weights``)."""
        record.load_weights(self.model, params)

    def _save(self, name: str, train_loss: float) -> Path:
        """Write a checkpoint (the root process alone, with the carried state of all rows)."""
        carried = self.job.carried()  # every member of a group has the same task
        state = self.group.gather_rows(carried) if carried else {}
        path = self.group.root_only(
            lambda: checkpoint.save(
                record.checkpoint_of(self, train_loss, state),
                self.out_dir / (name + checkpoint.SUFFIX),
            )
        )
        if name == "last":
            self.saved_step = self.step
        return path or self.out_dir / (name + checkpoint.SUFFIX)
