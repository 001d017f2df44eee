"""The public Python API: what ``rnngen/__init__.py`` exports, the manual's language-model
example (docs/python.md, "A language model") run as written at its own sizes, errors as
``rnngen.UserError`` with the command line's messages, progress through a callback, and a library
that never prints."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from clitools import REPO, cli_env, err, measured, repetitive_text, run

import rnngen

SMALL = {"hidden": 32, "embed": 8, "seq_len": 16, "batch_size": 8}


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("api")
    (d / "corpus.txt").write_text(repetitive_text())
    return d


@pytest.fixture(scope="module")
def run_dir(corpus_dir):
    r = rnngen.train(
        [str(corpus_dir / "corpus.txt")],
        out=corpus_dir / "runs" / "api",
        steps=150,
        lr=0.01,
        seed=3,
        **SMALL,
    )
    return r.run_dir


def test_the_public_surface_is_declared_and_importing_it_is_cheap():
    assert set(rnngen.__all__) >= {
        "train",
        "load",
        "Model",
        "UserError",
        "UsageError",
        "Run",
        "TrainEvent",
        "plot_runs",
    }
    for name in rnngen.__all__:
        assert getattr(rnngen, name) is not None
    assert callable(rnngen.train) and callable(rnngen.load)
    from rnngen import checkpoint  # the subpackage is still reachable

    assert callable(rnngen.train) and checkpoint.SUFFIX == ".safetensors"
    code = "import sys, rnngen; print('numpy' in sys.modules, 'typer' in sys.modules)"
    p = subprocess.run([sys.executable, "-c", code], env=cli_env(), capture_output=True, text=True)
    assert p.stdout.split() == ["False", "False"], p.stderr


def test_the_library_never_imports_typer_or_rich():
    code = (
        "import sys, rnngen, rnngen.tasks.lm.model, rnngen.api, rnngen.pictures.heatmap, "
        "rnngen.pictures.curves, rnngen.generate.beam; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('typer', 'rich')))"
    )
    p = subprocess.run([sys.executable, "-c", code], env=cli_env(), capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "[]"


def _manual_python() -> str:
    page = (REPO / "docs" / "python.md").read_text()
    section = page.split("## A language model", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert blocks, "docs/python.md's A language model section has no python block"
    return "\n".join(blocks)


def test_the_manual_python_example_runs_as_written(tmp_path):
    (tmp_path / "corpus.txt").write_text(repetitive_text())
    script = tmp_path / "manual_example.py"
    script.write_text(_manual_python())
    p = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip(), "the example prints what it made"
    assert (tmp_path / "curves.png").stat().st_size > 5000
    assert p.stderr == "", "the library writes nothing to stderr"


def test_train_reports_to_its_callback_and_prints_nothing(corpus_dir, capfd):
    events = []
    r = rnngen.train(
        str(corpus_dir / "corpus.txt"),
        out=corpus_dir / "runs" / "cb",
        steps=40,
        eval_every=20,
        progress=events.append,
        **SMALL,
    )
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""
    kinds = [e.kind for e in events]
    assert kinds[0] == "start" and kinds.count("step") == 40 and kinds.count("eval") == 2
    assert events[0].info["vocab"] == len(set(repetitive_text()))
    evals = [e for e in events if e.kind == "eval"]
    assert evals[-1].step == 40 and evals[-1].val_loss == pytest.approx(r.history[-1]["val_loss"])
    assert r.steps == 40 and Path(r.checkpoint).is_file()
    assert r.run_dir == str(corpus_dir / "runs" / "cb")
    model = r.load()
    assert model.config.hidden == 32 and model.level == "char"


@pytest.mark.parametrize(
    ("call", "cli"),
    [
        (lambda d: rnngen.load(d / "missing"), ["sample", "missing"]),
        (
            lambda d: rnngen.train(str(d / "corpus.txt"), hidden=0),
            ["train", "corpus.txt", "--hidden", "0"],
        ),
        (lambda d: rnngen.train(str(d / "nope.txt")), ["train", "nope.txt"]),
        (lambda d: rnngen.train(), ["train"]),
    ],
)
def test_errors_are_user_errors_with_the_cli_messages(corpus_dir, call, cli):
    with pytest.raises(rnngen.UserError) as e:
        call(corpus_dir)
    p = run(*cli, cwd=corpus_dir)
    assert p.returncode == e.value.exit_code
    message = str(e.value).replace(str(corpus_dir) + "/", "")
    assert err(p).strip() == f"error: {message}"


def test_an_unknown_setting_is_a_usage_error(corpus_dir):
    with pytest.raises(rnngen.UsageError, match="unknown setting 'hiden'"):
        rnngen.train(str(corpus_dir / "corpus.txt"), hiden=32)


@pytest.mark.learning
def test_generate_score_evaluate(run_dir, capfd):
    m = rnngen.load(run_dir)
    text = "".join(m.generate(prime="the cat", length=50, temp=0.5, seed=4))
    assert text.startswith("the cat") and len(text) == 57
    assert text == "".join(m.generate(prime="the cat", length=50, temp=0.5, seed=4))
    good, bad = m.score(["the cat sat on the mat.", "mat the on sat cat the."])
    assert good.tokens == 24 and good.bits < bad.bits
    assert good.bits_per_token == pytest.approx(good.bits / 24)
    res = m.evaluate(text=repetitive_text(40))
    assert res.tokens == len(repetitive_text(40)) - 1
    assert measured("api evaluate perplexity (< 3)", res.perplexity) < 3  # 1.22 measured
    with pytest.raises(rnngen.UserError, match="language model"):
        m.translate(["ghoti"])
    assert capfd.readouterr().out == ""


def test_samples_are_one_batch_each_reproducible_from_the_seed(run_dir):
    m = rnngen.load(run_dir)
    three = m.samples(3, prime="the ", length=60, temp=1.0, seed=11)
    assert len(set(three)) == 3 and all(s.startswith("the ") and len(s) == 64 for s in three)
    assert m.samples(3, prime="the ", length=60, temp=1.0, seed=11) == three
    # sample i draws from its own generator: the same text whatever the batch
    five = m.samples(5, prime="the ", length=60, temp=1.0, seed=11)
    assert five[:3] == three


def test_train_on_text_in_memory_with_a_progress_display_on_stderr(tmp_path, capfd):
    """``text=`` (a string, or an iterable of lines) trains as a file of that text would;
    ``progress=True`` shows the progress on stderr, never stdout; the default shows nothing
    where stderr is not a terminal (as here) or a notebook; ``progress=False`` nothing."""
    lines = repetitive_text(60).splitlines()
    a = rnngen.train(text=lines, out=tmp_path / "lines", steps=6, eval_every=3, progress=True,
                     **SMALL)  # fmt: skip
    shown = capfd.readouterr()
    assert shown.out == "" and "step 6" in shown.err and "parameters" in shown.err
    (tmp_path / "corpus.txt").write_text("\n".join(lines) + "\n")
    b = rnngen.train(str(tmp_path / "corpus.txt"), out=tmp_path / "file", steps=6, eval_every=3,
                     **SMALL)  # fmt: skip
    c = rnngen.train(text="\n".join(lines) + "\n", out=tmp_path / "text", steps=6, eval_every=3,
                     progress=False, **SMALL)  # fmt: skip
    assert capfd.readouterr() == ("", "")  # not a terminal: nothing by default, nor with False
    assert a.train_loss == b.train_loss == c.train_loss and a.val_loss == b.val_loss
    assert (
        rnngen.load(a.run_dir).info()["fingerprint"] == rnngen.load(b.run_dir).info()["fingerprint"]
    )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m: m.evaluate(repetitive_text(2)), "no such file"),  # a string alone is a path
        (lambda m: m.evaluate(), "a file path or text="),
        (lambda m: m.evaluate("x.txt", text="y"), "a file path or text="),
        (lambda m: m.evaluate(text="the cat", bacth_size=4), "unknown keyword 'bacth_size'"),
        (lambda m: "".join(m.generate(temprature=0.5)), "unknown setting 'temprature'"),
        (lambda m: m.samples(2, top_kk=3), "unknown setting 'top_kk'"),
        (lambda m: m.warm("eat"), "use must be one of"),
        (lambda m: m.translate(["ghoti"]), "is a language model; translate"),
        (lambda m: rnngen.train(text=[1, 2]), "iterable of strings"),
        (lambda m: rnngen.train("a.txt", text="b"), "not both"),
        (lambda m: rnngen.train(text="b", progress="yes"), "progress must be"),
    ],
)
def test_wrong_calls_are_usage_errors_that_say_what_is_valid(run_dir, call, message):
    with pytest.raises(rnngen.UserError, match=re.escape(message)):
        call(rnngen.load(run_dir))


def test_evaluate_reads_a_path_or_scores_text(run_dir, corpus_dir):
    m = rnngen.load(run_dir)
    by_path = m.evaluate(corpus_dir / "corpus.txt")
    by_text = m.evaluate(text=(corpus_dir / "corpus.txt").read_text())
    assert by_path.tokens == by_text.tokens and by_path.loss == pytest.approx(by_text.loss)
