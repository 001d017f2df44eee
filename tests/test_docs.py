"""The documentation runs as written, so it cannot rot: every command of the README's tour, through
the installed ``rnngen`` command in a shell, and every ```python block of README.md and docs/*.md,
each on tiny generated files (``corpus.txt``, ``ptb.*.txt``, ``words.tsv``, ...) with small sizes
put in place of the ones a reader would train with.

A command added to the tour, or a block added to a page, is run without touching this file; what
it needs that the fixtures lack (a file, a size) goes in the mappings below."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from clitools import REPO, cli_env, repetitive_text, reversals, rnngen_exe

# Appended to every `rnngen train` of the tour that starts a run (not to --resume, which takes
# its sizes from the run): a few steps of a tiny model; language models also a short window.
SMALL_TRAIN = "--steps 20 --hidden 32 --embed 16 --batch-size 4 --threads 1"
SMALL_LM_TRAIN = SMALL_TRAIN + " --seq-len 16"

# Literal substitutions in the tour's commands, applied before the generic ones below.
TOUR_SUBSTITUTIONS = {
    "--steps 20000": "--steps 30",  # resume a 20-step run a little further
    "--length 500": "--length 50",
    "runs/a runs/b": "{first_run} {last_run}",  # two runs the tour trained
    "runs/a -o": "{first_run} -o",
    # a server runs until stopped: a few seconds of it, then SIGTERM, which it answers with exit 0
    "rnngen serve MODEL": "timeout --preserve-status -s TERM 8 rnngen serve MODEL --port 0",
}

# The settings every rnngen.train call of a Python block runs with, whatever the block says (a
# reader's sizes and minutes become a few steps of a tiny model).
SMALL_SETTINGS = {"hidden": 32, "embed": 16, "batch_size": 4, "threads": 1}
SMALL_STEPS = 20

TIMESTAMPED_RUN = re.compile(r"runs/([\w.]+)-\d{8}-\d{6}")  # runs/NAME-TIME, as train names it


def _text(lines: list[str], n: int) -> str:
    return "".join(lines[i % len(lines)] + "\n" for i in range(n))


def make_fixtures(d: Path) -> None:
    """The files the tour and the Python blocks name, tiny."""
    prose = repetitive_text(300) + _text(["ROMEO:", "Is the cat on the mat?", "JULIET:"], 30)
    (d / "corpus.txt").write_text(prose)
    (d / "notes").mkdir()
    (d / "notes" / "a.txt").write_text(repetitive_text(120))
    (d / "notes" / "b.txt").write_text(_text(["the bird sat on the cat.", "a dog saw a log."], 80))
    (d / "more.txt").write_text(_text(["more of the same, the cat and the dog."], 60))
    words = ["the cat sat on the mat", "the dog sat on the log", "a bird sang in the tree"]
    (d / "ptb.train.txt").write_text(_text(words, 300))
    (d / "ptb.valid.txt").write_text(_text(words[::-1], 30))
    (d / "ptb.test.txt").write_text(_text(words[1:], 30))
    letters = ["Dear Sir, the cat sat on the mat.", 'Yours, the "dog" (on the log).']
    (d / "letters.txt").write_text(_text(letters, 80))
    (d / "letter.txt").write_text("Dear Sir,\nthe cat ")
    (d / "lines.txt").write_text("the cat sat on the mat.\nmat the on sat cat the.\nthe dog.\n")
    (d / "chapter.txt").write_text(repetitive_text(12) + 'the "cat" (on the mat).\n')
    (d / "words.tsv").write_text(reversals(400, seed=1, longest=8, spaced=True))
    (d / "test.tsv").write_text(reversals(20, seed=2, longest=8, spaced=True))
    (d / "pairs.tsv").write_text(reversals(60, seed=3, longest=8, spaced=True))
    (d / "words.txt").write_text("ghoti\nphoto\nbread\n")


# --- the tour -------------------------------------------------------------------------------


def tour_commands() -> list[str]:
    """The commands of the README's tour block, comments stripped."""
    readme = (REPO / "README.md").read_text()
    section = readme.split("## A tour", 1)[1]
    block = re.search(r"```sh\n(.*?)\n```", section, re.S)
    assert block, "the README's tour has no sh block"
    lines = [re.sub(r"\s+#\s.*$", "", line).strip() for line in block.group(1).splitlines()]
    return [line for line in lines if line]


def _runs(d: Path) -> list[Path]:
    """The run directories under d/runs, oldest first (by their first checkpoint's birth)."""
    runs = [p for p in (d / "runs").glob("*") if (p / "best.safetensors").exists()]
    return sorted(runs, key=lambda p: p.stat().st_ctime_ns)


def _latest(d: Path) -> Path:
    """The model trained last: the run whose last checkpoint was written last (as a resumed run's
    is), which is what ``rnngen sample`` without MODEL picks too."""
    runs = [p for p in (d / "runs").glob("*") if (p / "last.safetensors").exists()]
    assert runs, "no run trained yet"
    return max(runs, key=lambda p: (p / "last.safetensors").stat().st_mtime_ns)


def small_command(command: str, d: Path) -> str:
    """The tour's command as the test runs it: fixtures for files, small sizes, real run paths."""
    for old, new in TOUR_SUBSTITUTIONS.items():
        command = command.replace(old, new)
    if "{first_run}" in command or "{last_run}" in command:
        runs = _runs(d)
        command = command.format(first_run=runs[0].relative_to(d), last_run=runs[-1].relative_to(d))

    def named_run(m: re.Match) -> str:
        found = sorted((d / "runs").glob(f"{m.group(1)}-*"))
        assert found, f"the tour names {m.group(0)}, but trained no run of {m.group(1)}"
        return str(found[-1].relative_to(d))

    command = TIMESTAMPED_RUN.sub(named_run, command)
    if re.search(r"\bMODEL\b", command):
        command = re.sub(r"\bMODEL\b", str(_latest(d).relative_to(d)), command)
    if re.search(r"\brnngen train\b", command) and "--resume" not in command:
        small = SMALL_TRAIN if "--task seq2seq" in command else SMALL_LM_TRAIN
        # the options go right after `rnngen train ...` (before any pipe or redirection)
        command = re.sub(
            r"(\brnngen train\b[^|<>]*)",
            lambda m: m.group(1).rstrip() + " " + small + " ",
            command,
            count=1,
        ).rstrip()
    return command


def test_the_tour_runs(tmp_path):
    commands = tour_commands()
    assert len(commands) >= 10 and commands[0].startswith("rnngen train")
    make_fixtures(tmp_path)
    exe_dir = str(Path(rnngen_exe()).parent)
    env = cli_env({"PATH": exe_dir + os.pathsep + os.environ.get("PATH", "")})
    stdin = (tmp_path / "corpus.txt").read_bytes()  # for the commands that read stdin
    for command in commands:
        run = small_command(command, tmp_path)
        p = subprocess.run(
            ["bash", "-o", "pipefail", "-c", run],
            cwd=tmp_path,
            env=env,
            input=stdin,
            capture_output=True,
            timeout=300,
        )
        stderr = p.stderr.decode(errors="replace")
        assert p.returncode == 0, f"{command}\n  ran as: {run}\n  exit {p.returncode}\n{stderr}"
        assert "Traceback" not in stderr, f"{run}\n{stderr}"
    assert (tmp_path / "curves.png").stat().st_size > 5000
    assert (tmp_path / "page.html").stat().st_size > 1000
    assert len((tmp_path / "prons.txt").read_text().splitlines()) == 3  # a line out per line in
    assert (tmp_path / "dates" / "test.tsv").is_file()


# --- the Python blocks ----------------------------------------------------------------------


def python_blocks() -> list[tuple[str, str]]:
    """Every ```python block of README.md and docs/*.md, as (page:line, code)."""
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    blocks = []
    for page in pages:
        text = page.read_text()
        for m in re.finditer(r"^```python\n(.*?)^```", text, re.S | re.M):
            line = text[: m.start()].count("\n") + 1
            blocks.append((f"{page.relative_to(REPO)}:{line}", m.group(1)))
    return blocks


PRELUDE = f"""
import rnngen

_train = rnngen.train


def _small_train(*args, **settings):
    settings.pop("minutes", None)
    settings["steps"] = min(settings.get("steps", {SMALL_STEPS}), {SMALL_STEPS})
    settings.update({SMALL_SETTINGS!r})
    return _train(*args, **settings)


rnngen.train = _small_train
"""


def test_the_docs_have_python_blocks():
    where = [w for w, _ in python_blocks()]
    assert any(w.startswith("README.md") for w in where)
    assert any(w.startswith("docs/python.md") for w in where)


@pytest.mark.parametrize(("where", "code"), python_blocks(), ids=[w for w, _ in python_blocks()])
def test_a_python_block_runs(tmp_path, where, code):
    make_fixtures(tmp_path)
    script = tmp_path / "block.py"
    script.write_text(PRELUDE + "\n# " + where + "\n" + code)
    p = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 0, f"{where}\n{code}\n{p.stderr}"
