"""Continuous batching: one thread owns the models and steps, for each language model, one batch
of rows (a row: one of a request's ``n`` completions) through the batched sampler
(``rnngen.generate.batch.Stepper``), one token per row per step.

A request joins the running batch at its next step (its prompt read by the model's forward pass,
its rows' states appended to the batch's) and its rows leave when they are done (``max_tokens``,
a stop string), when its client went away (``cancel``) or when its time is up: the next step
no longer computes them. Each row draws from its own generator, seeded with (seed, row), so a
seeded request writes the same text whoever shares its batch, the text of
``LanguageModel.samples(n, prompt, seed=seed, ...)``; at temperature 0 a row takes the argmax.

What a step produced goes to the event loop in one ``call_soon_threadsafe`` per step (not one
per request): a list of (request, events) whose events each request's queue receives. Requests
that are not token streams (translate, score) run whole on this thread between two steps
(``call``). The kernels release the GIL, so the event loop serves HTTP on the other core while a
step runs."""

import queue
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import numpy as np

from rnngen.server.models import Served
from rnngen.server.protocol import CompletionRequest

MAX_ROWS = 256  # rows in one model's batch; more requests wait for room
STEPPERS = 8  # batch sizes whose step buffers are kept (about 1.7 MB each at B64 H256 L2)
TOP_LOGPROBS = 5


class Completion:
    """A completion request as the scheduler sees it. ``deliver`` is called on the request's
    event loop with each step's events: (index, text, logprobs or None, finish reason or None);
    index None is an error of the whole request (its text the message, its reason "error" or
    "timeout")."""

    def __init__(
        self,
        served: Served,
        req: CompletionRequest,
        prime_ids: np.ndarray,
        loop: Any,
        deliver: Callable[[list], None],
        timeout: float,
    ) -> None:
        self.served, self.req, self.prime_ids = served, req, prime_ids
        self.loop, self.deliver = loop, deliver
        self.deadline = time.monotonic() + timeout
        self.cancelled = False  # set by the event loop: its rows leave at the next step
        self.tokens = 0  # completion tokens drawn so far, over every row
        self.rows_left = req.n  # rows not yet finished or dropped
        # called on the event loop once the scheduler is done with the request (every row
        # finished or dropped), whether or not anyone still reads its events: the request's
        # slot is freed even if its stream never started
        self.on_done: Callable[[], None] | None = None

    def cancel(self) -> None:
        self.cancelled = True


class Row:
    """One completion of a request: its generator, decoder, what is held back of a stop string
    that may be starting, and the tokens it may still draw."""

    __slots__ = ("job", "index", "rng", "decode", "pending", "left", "hold", "offset")

    def __init__(self, job: Completion, index: int, rng: Any, decode: Any) -> None:
        self.job, self.index, self.rng, self.decode = job, index, rng, decode
        self.pending = ""
        self.left = job.req.max_tokens
        self.hold = max((len(s) for s in job.req.stop), default=1) - 1
        self.offset = len(job.req.prompt) if job.req.echo else 0  # logprobs' text_offset

    def take(self, tok: int) -> tuple[str, str | None]:
        """The text that token ``tok`` releases, and the finish reason if the row is done."""
        self.left -= 1
        self.job.tokens += 1
        text = self.pending + self.decode([tok])
        stops = self.job.req.stop
        if stops:
            found = [i for i in (text.find(s) for s in stops) if i >= 0]
            if found:
                self.pending = ""
                return text[: min(found)], "stop"
            keep = min(self.hold, len(text))
            self.pending, text = text[len(text) - keep :], text[: len(text) - keep]
        if self.left <= 0:
            text += self.pending + self.decode.flush()
            self.pending = ""
            return text, "length"
        return text, None


class Batch:
    """The rows of one language model's requests, their carried state (L, B, H) and their
    next-token logits (B, V)."""

    def __init__(self, served: Served) -> None:
        from rnngen.generate.batch import BatchGenerator, Stepper

        self.served = served
        self.gen = BatchGenerator(served.model.checkpoint)
        self.base = Stepper(self.gen.model, 1)
        self.steppers: OrderedDict[int, Any] = OrderedDict()
        self.rows: list[Row] = []
        self.state: Any = None
        self.logits: np.ndarray | None = None
        self.waiting: deque[Completion] = deque()
        self.ended: list[Completion] = []  # requests whose last row left in this step

    def stepper(self, B: int) -> Any:
        s = self.steppers.pop(B, None) or self.base.resized(B)
        self.steppers[B] = s
        if len(self.steppers) > STEPPERS:
            self.steppers.popitem(last=False)
        return s

    def join(self, job: Completion, out: dict) -> None:
        """The request's rows, after its prompt, appended to the batch (or finished at once)."""
        from rnngen.generate.text import decoder_after, resolve_seed
        from rnngen.nn.lm import State

        req = job.req
        if req.max_tokens == 0:
            out.setdefault(job, []).extend((i, "", None, "length") for i in range(req.n))
            self.ended.append(job)
            return
        state, logits = self.gen.primed(job.prime_ids, req.n)
        seed = resolve_seed(req.seed)
        vocab = self.served.vocab
        self.rows += [
            Row(job, i, np.random.default_rng([seed, i]), decoder_after(vocab, req.prompt))
            for i in range(req.n)
        ]
        if self.state is None:
            self.state, self.logits = state, logits
        else:
            pairs = zip(self.state.arrays, state.arrays, strict=True)
            self.state = State(state.names, tuple(np.concatenate(ab, axis=1) for ab in pairs))
            self.logits = np.concatenate([self.logits, logits], axis=0)

    def keep(self, mask: np.ndarray) -> None:
        """Only the rows where ``mask`` is true stay."""
        from rnngen.nn.lm import State

        for r, k in zip(self.rows, mask, strict=True):
            if not k:
                r.job.rows_left -= 1
                if r.job.rows_left == 0:
                    self.ended.append(r.job)
        self.rows = [r for r, k in zip(self.rows, mask, strict=True) if k]
        if not self.rows:
            self.state = self.logits = None
            return
        idx = np.flatnonzero(mask)
        kept = tuple(np.ascontiguousarray(a[:, idx]) for a in self.state.arrays)
        self.state = State(self.state.names, kept)
        self.logits = self.logits[idx]

    def drop_gone(self, out: dict) -> None:
        """Rows whose client went away or whose time is up leave before the step."""
        now = time.monotonic()
        for r in self.rows:
            job = r.job
            if not job.cancelled and now > job.deadline:
                job.cancelled = True
                late = (None, "the request ran out of time", None, "timeout")
                out.setdefault(job, []).append(late)
        if any(r.job.cancelled for r in self.rows):
            self.keep(np.array([not r.job.cancelled for r in self.rows]))

    def step(self, out: dict) -> None:
        """One token for every row: drawn, decoded, handed out; then the model reads them."""
        from rnngen.generate.batch import draw_rows

        self.drop_gone(out)
        rows, logits = self.rows, self.logits
        if not rows:
            return
        B = len(rows)
        toks = np.empty(B, np.int64)
        groups: dict[tuple, list[int]] = {}
        for i, r in enumerate(rows):
            q = r.job.req
            groups.setdefault((q.temperature, q.top_k, q.top_p), []).append(i)
        for (temp, top_k, top_p), idx in groups.items():
            sub = logits if len(idx) == B else logits[idx]
            toks[idx] = draw_rows(sub, temp, top_k, top_p, [rows[i].rng for i in idx])
        want = [i for i, r in enumerate(rows) if r.job.req.logprobs is not None]
        lps = self._logprobs(logits, toks, want) if want else {}
        done = np.zeros(B, bool)
        for i, r in enumerate(rows):
            text, finish = r.take(int(toks[i]))
            out.setdefault(r.job, []).append((r.index, text, lps.get(i), finish))
            done[i] = finish is not None
        if done.any():
            self.keep(~done)
            toks = toks[~done]
        if self.rows:
            self.logits = self.stepper(len(self.rows))(toks, self.state)

    def _logprobs(self, logits: np.ndarray, toks: np.ndarray, want: list[int]) -> dict:
        """OpenAI's logprobs of the tokens drawn by rows ``want`` (the model's own distribution,
        before temperature): the token, its log-probability, the most likely tokens', its
        offset in the text."""
        z = logits[want].astype(np.float64)
        z -= z.max(axis=1, keepdims=True)
        lp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        vocab = self.served.vocab
        found = {}
        for k, i in enumerate(want):
            r, tok = self.rows[i], int(toks[i])
            top = np.argsort(-lp[k], kind="stable")[: min(r.job.req.logprobs, TOP_LOGPROBS)]
            shown = vocab.shown(tok)
            found[i] = {
                "tokens": [shown],
                "token_logprobs": [float(lp[k, tok])],
                "top_logprobs": [{vocab.shown(int(t)): float(lp[k, t]) for t in top}],
                "text_offset": [r.offset],
            }
            r.offset += len(shown)
        return found


class Scheduler:
    """The thread that owns the models (see the module docstring)."""

    def __init__(self, served: list[Served]) -> None:
        self.served = served
        self.batches = {s.name: Batch(s) for s in served if s.is_lm}
        self.inbox: queue.SimpleQueue = queue.SimpleQueue()
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()
        self.stopping = False
        self.steps = 0
        self.errors: list[str] = []  # what went wrong inside (a bug): shown by the access log

    # ---- from the event loop ------------------------------------------------------------------

    def start(self) -> None:
        with self.lock:
            if self.thread is None:
                self.stopping = False
                self.thread = threading.Thread(target=self._run, name="rnngen-serve", daemon=True)
                self.thread.start()

    def submit(self, job: Completion) -> None:
        self.start()
        self.inbox.put(job)

    def call(self, fn: Callable[[], Any]) -> Future:
        """Run ``fn`` on the scheduler's thread between two steps; its result as a Future."""
        self.start()
        fut: Future = Future()
        self.inbox.put((fn, fut))
        return fut

    def stop(self, timeout: float = 10.0) -> None:
        with self.lock:
            thread, self.thread = self.thread, None
            self.stopping = True
        if thread is not None:
            self.inbox.put(None)
            thread.join(timeout)

    @property
    def active(self) -> int:
        return sum(len(b.rows) for b in self.batches.values())

    # ---- on the thread ------------------------------------------------------------------------

    def _run(self) -> None:
        from rnngen.kernels.threads import apply, plan_threads

        plan = plan_threads(1, 1)  # the other core serves HTTP
        apply(plan)
        while not self.stopping:
            out: dict = {}
            items = []
            if not any(b.rows or b.waiting for b in self.batches.values()):
                try:  # idle: wait for work (and look at self.stopping twice a second)
                    items.append(self.inbox.get(timeout=0.5))
                except queue.Empty:
                    continue
            while True:
                try:
                    items.append(self.inbox.get_nowait())
                except queue.Empty:
                    break
            for item in items:
                if item is None:
                    continue
                if isinstance(item, Completion):
                    self.batches[item.served.name].waiting.append(item)
                else:
                    self._call(*item)
                    apply(plan)  # translate and score set the threads their own way
            ended: list[Completion] = []
            for b in self.batches.values():
                ended += self._admit(b, out)
                try:
                    b.step(out)
                except Exception as e:  # a bug: the batch's requests get an error, not silence
                    self._failed(b.rows, e, out)
                    b.keep(np.zeros(len(b.rows), bool))
                ended += b.ended
                b.ended = []
            self.steps += 1
            self._deliver(out, ended)

    def _admit(self, b: Batch, out: dict) -> list[Completion]:
        """Waiting requests join while there is room; those that never will are returned."""
        ended = []
        while b.waiting and len(b.rows) + b.waiting[0].req.n <= MAX_ROWS:
            job = b.waiting.popleft()
            if job.cancelled:
                ended.append(job)
                continue
            try:
                b.join(job, out)
            except Exception as e:
                self._failed([], e, out, job)
                ended.append(job)
        return ended

    def _failed(self, rows: list[Row], e: Exception, out: dict, job: Completion | None = None):
        message = f"internal error: {type(e).__name__}: {e}"
        self.errors.append(message)
        for j in {r.job for r in rows} | ({job} if job else set()):
            j.cancelled = True
            out.setdefault(j, []).append((None, message, None, "error"))

    @staticmethod
    def _call(fn: Callable[[], Any], fut: Future) -> None:
        if not fut.set_running_or_notify_cancel():
            return
        try:
            fut.set_result(fn())
        except BaseException as e:  # handed to the request, which answers it
            fut.set_exception(e)

    @staticmethod
    def _deliver(out: dict, ended: list[Completion]) -> None:
        by_loop: dict[Any, tuple[list, list]] = {}
        for job, events in out.items():
            by_loop.setdefault(job.loop, ([], []))[0].append((job, events))
        for job in ended:
            by_loop.setdefault(job.loop, ([], []))[1].append(job)
        for loop, (items, done) in by_loop.items():
            try:
                loop.call_soon_threadsafe(_hand_out, items, done)
            except RuntimeError:  # the loop is closed: nobody is listening
                for job, _ in items:
                    job.cancelled = True


def _hand_out(items: list, done: list[Completion]) -> None:
    """On the event loop: each request's events to its queue, then the requests that are over
    told so."""
    for job, events in items:
        job.deliver(events)
    for job in done:
        if job.on_done is not None:
            job.on_done()
