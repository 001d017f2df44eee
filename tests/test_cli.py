"""End to end through the installed ``rnngen`` command, in subprocesses, on real files."""

import json
import os
import pty
import re
import signal
import subprocess
from pathlib import Path

import pytest
from clitools import (
    cli_env,
    err,
    measured,
    out,
    repetitive_text,
    rnngen_exe,
    run,
    with_format_version,
)

import rnngen.checkpoint as checkpoint
from rnngen.data.text import fingerprint

SMALL = ["--hidden", "32", "--embed", "8", "--seq-len", "16", "--batch-size", "8"]


@pytest.fixture(scope="session")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    (d / "corpus.txt").write_text(repetitive_text())
    return d


@pytest.fixture(scope="session")
def trained(workdir):
    """One small char model trained through the CLI, shared by the tests below."""
    p = run(
        "train",
        "corpus.txt",
        *SMALL,
        "--steps",
        "150",
        "--lr",
        "0.01",
        "--seed",
        "3",
        "--out",
        "runs/small",
        "--json",
        cwd=workdir,
    )
    assert p.returncode == 0, err(p)
    return workdir, p


@pytest.mark.learning
def test_train_prints_json_on_stdout_and_progress_on_stderr(trained):
    workdir, p = trained
    metrics = json.loads(out(p))  # stdout is exactly one JSON object
    for key in ("steps", "train_loss", "val_loss", "tokens_per_sec", "seconds", "checkpoint"):
        assert key in metrics
    assert metrics["steps"] == 150  # val loss: 0.098 measured on both GEMM paths, 1 or 2 threads
    assert measured("cli val loss (< 1.0)", metrics["val_loss"]) < 1.0
    assert (workdir / metrics["checkpoint"]).is_file()
    e = err(p)
    assert "run directory: runs/small" in e and "val" in e and "tok/s" in e
    assert "\x1b[" not in e  # NO_COLOR and not a terminal: no escape codes
    assert sorted(q.name for q in (workdir / "runs/small").iterdir()) == [
        "best.safetensors",
        "last.safetensors",
        "tokens.bin",  # the corpus, encoded once (rnngen.data.tokenfile)
        "tokens.json",
    ]


@pytest.mark.learning
def test_sample_streams_only_text_to_stdout_and_is_reproducible(trained):
    workdir, _ = trained
    a = run("sample", "runs/small", "--length", "300", "--seed", "7", "--temp", "0.5", cwd=workdir)
    b = run(
        "sample",
        "runs/small/best.safetensors",
        "--length",
        "300",
        "--seed",
        "7",
        "--temp",
        "0.5",
        cwd=workdir,
    )
    assert a.returncode == 0 and b.returncode == 0, err(a)
    assert out(a) == out(b) and len(out(a)) == 300
    assert set(out(a)) <= set(repetitive_text())  # only characters of the corpus
    assert "sampling from" in err(a) and "sampling from" not in out(a)
    words = re.findall(r"[a-z]+", out(a))
    known = set(re.findall(r"[a-z]+", repetitive_text()))
    share = sum(w in known for w in words) / len(words)
    assert measured("cli sample known words (> 0.8)", share) > 0.8  # learned the words: 0.97


def test_sample_without_model_uses_the_newest_run_and_says_so(trained):
    workdir, _ = trained
    p = run("sample", "--length", "20", "--prime", "the ", "--temp", "0", cwd=workdir)
    assert p.returncode == 0, err(p)
    assert out(p).startswith("the ") and len(out(p)) == 24
    assert "runs/small/best.safetensors" in err(p)


def test_sample_piped_into_head_ends_quietly(trained):
    workdir, _ = trained
    cmd = f"'{rnngen_exe()}' sample runs/small --length 200000 --seed 1 | head -c 50"
    p = subprocess.run(
        ["bash", "-c", cmd + '; echo "rc=${PIPESTATUS[0]}" >&2'],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
        env=cli_env(),
    )
    assert len(p.stdout) == 50
    assert "rc=0" in p.stderr and "Traceback" not in p.stderr and "BrokenPipe" not in p.stderr


def test_sample_stop_and_num(trained):
    workdir, _ = trained
    p = run(
        "sample",
        "runs/small",
        "--prime",
        "the cat",
        "--stop",
        ".",
        "--seed",
        "2",
        "--length",
        "500",
        "--num",
        "3",
        "-q",
        cwd=workdir,
    )
    assert p.returncode == 0 and err(p) == ""
    samples = out(p).split("\n\n")
    assert len(samples) == 3
    assert all(s.startswith("the cat") and "." not in s for s in samples)


@pytest.mark.learning
def test_eval_reports_loss_bits_and_perplexity(trained):
    workdir, _ = trained
    p = run("eval", "runs/small", "corpus.txt", "--json", cwd=workdir)
    assert p.returncode == 0, err(p)
    m = json.loads(out(p))
    assert m["tokens"] == len(repetitive_text()) - 1
    assert m["bits_per_token"] == pytest.approx(m["loss"] / 0.6931471805599453)
    assert m["perplexity"] == pytest.approx(2.718281828459045 ** m["loss"], rel=1e-9)
    assert measured("cli eval loss (< 1.0)", m["loss"]) < 1.0  # 0.083 measured
    human = run("eval", "runs/small", "corpus.txt", cwd=workdir)
    assert "perplexity" in out(human) and "bits/char" in out(human)


def test_train_reads_stdin(workdir):
    p = run(
        "train",
        "-",
        *SMALL,
        "--steps",
        "3",
        "--out",
        "runs/stdin",
        "-q",
        cwd=workdir,
        stdin=repetitive_text().encode(),
    )
    assert p.returncode == 0, err(p)
    assert err(p) == "" and out(p) == ""
    assert checkpoint.load(workdir / "runs/stdin/last.safetensors").step == 3


@pytest.fixture(scope="session")
def trained_word(workdir):
    """A small word-level model, runs/word."""
    text = repetitive_text(800)
    (workdir / "words.txt").write_text(text)
    (workdir / "words_val.txt").write_text(repetitive_text(40) + "the zebra sat.\n")
    p = run(
        "train",
        "words.txt",
        "--level",
        "word",
        "--val-file",
        "words_val.txt",
        "--hidden",
        "32",
        "--seq-len",
        "8",
        "--batch-size",
        "8",
        "--steps",
        "120",
        "--lr",
        "0.01",
        "--out",
        "runs/word",
        "--json",
        cwd=workdir,
    )
    assert p.returncode == 0, err(p)
    return workdir


def test_word_level_train_sample_eval(trained_word):
    workdir = trained_word
    ck = checkpoint.load(workdir / "runs/word/best.safetensors")
    assert ck.vocab.level == "word" and ck.vocab.itos[:2] == ["<eos>", "<unk>"]
    s = run(
        "sample", "runs/word", "--length", "60", "--seed", "1", "--prime", "the cat", cwd=workdir
    )
    assert s.returncode == 0 and "<eos>" not in out(s) and "\n" in out(s)
    assert out(s).startswith("the cat ")
    e = run("eval", "runs/word", "words_val.txt", "--json", cwd=workdir)
    assert e.returncode == 0 and "<unk>" in err(e)  # 'zebra' was scored as <unk>
    assert json.loads(out(e))["perplexity"] < 5
    w = run("sample", "runs/word", "--prime", "the zebra", "--length", "5", cwd=workdir)
    assert w.returncode == 0 and "zebra" in err(w)  # warned, mapped to <unk>


def test_train_takes_files_directories_and_stdin_in_order(workdir):
    lines = repetitive_text().splitlines(keepends=True)
    d = workdir / "many"
    (d / "a").mkdir(parents=True)
    (d / "a" / "z.txt").write_text("".join(lines[:200]))
    (d / "b.txt").write_text("".join(lines[200:300]).rstrip("\n"))  # a newline is added after it
    (d / ".hidden.txt").write_text("SECRET\n")  # hidden, binary and empty files are skipped
    (d / "blob.bin").write_bytes(BINARY)
    (d / "empty.txt").write_text("")
    (workdir / "extra.txt").write_text("".join(lines[300:]))
    p = run(
        "train",
        "many",
        "-",
        "extra.txt",
        *SMALL,
        "--steps",
        "2",
        "--out",
        "runs/many",
        "-q",
        cwd=workdir,
        stdin=b"from stdin\n",
    )
    assert p.returncode == 0, err(p)
    ck = checkpoint.load(workdir / "runs/many/last.safetensors")
    expected = "".join(lines[:300]) + "from stdin\n" + "".join(lines[300:])
    assert ck.info["fingerprint"] == fingerprint(expected)
    assert "S" not in ck.vocab.stoi and ck.info["corpus"] == "many + 2 more"
    assert ck.info["sources"] == [str(d), "-", str(workdir / "extra.txt")]


def test_encoding_and_errors_options(workdir):
    (workdir / "latin.txt").write_bytes(("café crème, déjà vu\n" * 80).encode("latin-1"))
    p = run(
        "train",
        "latin.txt",
        "--encoding",
        "latin-1",
        *SMALL,
        "--steps",
        "2",
        "--out",
        "runs/latin",
        "-q",
        cwd=workdir,
    )
    assert p.returncode == 0, err(p)
    assert "é" in checkpoint.load(workdir / "runs/latin/last.safetensors").vocab.stoi
    q = run(
        "train",
        "latin.txt",
        "--errors",
        "replace",
        *SMALL,
        "--steps",
        "2",
        "--out",
        "runs/replaced",
        "-q",
        cwd=workdir,
    )
    assert q.returncode == 0, err(q)
    vocab = checkpoint.load(workdir / "runs/replaced/last.safetensors").vocab.stoi
    assert "\ufffd" in vocab and "é" not in vocab


def test_score_lines_sort_in_a_pipeline(trained):
    workdir, _ = trained
    text = "the cat sat on the mat.\nthe mat sat on the cat.\n\nthe dog sat on the log.\n"
    (workdir / "lines.txt").write_text(text)
    cmd = f"'{rnngen_exe()}' score runs/small < lines.txt | sort -k2 -n"
    p = subprocess.run(
        ["bash", "-c", cmd], cwd=workdir, capture_output=True, text=True, env=cli_env(), timeout=300
    )
    assert p.returncode == 0, p.stderr
    rows = [r.split("\t") for r in p.stdout.splitlines()]
    assert sorted(r[5] for r in rows) == sorted(text.splitlines())
    bpt = [float(r[1]) for r in rows]
    assert bpt == sorted(bpt)
    for bits, per_token, ppl, tokens, per_char, line in rows:
        assert int(tokens) == len(line) + 1  # the line end counts
        assert float(per_token) == pytest.approx(float(bits) / int(tokens), abs=1e-4)
        assert float(ppl) == pytest.approx(2 ** float(per_token), rel=1e-3)
        assert float(per_char) == pytest.approx(float(bits) / (len(line) + 1), abs=1e-4)
    assert "scored 4 lines" in p.stderr and "bits/char" in p.stderr
    j = run("score", "runs/small", "lines.txt", "--json", cwd=workdir)
    objs = [json.loads(line) for line in out(j).splitlines()]
    assert [o["line"] for o in objs] == [1, 2, 3, 4] and objs[2]["text"] == ""
    by_text = {r[5]: float(r[0]) for r in rows}
    assert all(o["bits"] == pytest.approx(by_text[o["text"]], abs=1e-4) for o in objs)
    empty = run("score", "runs/small", "-", cwd=workdir, stdin=b"")
    assert empty.returncode == 0 and out(empty) == "" and "no lines to score" in err(empty)


def test_info_describes_the_model(trained):
    workdir, _ = trained
    p = run("info", "runs/small", "--json", cwd=workdir)
    assert p.returncode == 0, err(p)
    d = json.loads(out(p))
    ck = checkpoint.load(workdir / "runs/small/best.safetensors")
    assert (d["cell"], d["layers"], d["hidden"], d["embed"]) == ("lstm", 2, 32, 8)
    assert d["vocab_size"] == len(set(repetitive_text()))
    assert d["parameters"] == sum(v.size for v in ck.params.values())
    assert d["fingerprint"] == fingerprint(repetitive_text()) and d["corpus"] == "corpus.txt"
    assert d["steps"] == 150 and [h["step"] for h in d["history"]][-1] == 150
    assert d["best_val_loss"] == min(h["val_loss"] for h in d["history"])
    human = out(run("info", "runs/small", cwd=workdir))
    assert "parameters" in human and f"{d['parameters']:,}" in human and "history" in human


def test_quiet_silences_every_command(trained):
    workdir, _ = trained
    commands = [
        ["sample", "runs/small", "--length", "5"],
        ["eval", "runs/small", "corpus.txt"],
        ["score", "runs/small", "corpus.txt"],
        ["info", "runs/small"],
        ["corpus", "list"],
        ["corpus", "get", "python-docs", "-o", "docs.txt"],
    ]
    for args in commands:
        p = run(*args, "--quiet", cwd=workdir)
        assert p.returncode == 0 and err(p) == "", (args, err(p))


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_output_device_is_one_clear_error(trained):
    workdir, _ = trained
    for args in (["sample", "runs/small", "--length", "50"], ["score", "runs/small", "corpus.txt"]):
        with open("/dev/full", "wb") as full:
            p = subprocess.run(
                [rnngen_exe(), *args, "-q"],
                cwd=workdir,
                env=cli_env(),
                stdout=full,
                stderr=subprocess.PIPE,
                timeout=300,
            )
        e = p.stderr.decode()
        assert (
            p.returncode == 1 and e == "error: cannot write the output (No space left on device)\n"
        )


def _stderr_on_a_terminal(args: list[str], cwd, env: dict) -> tuple[int, str]:
    master, slave = pty.openpty()
    p = subprocess.Popen(
        [rnngen_exe(), *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
    )
    os.close(slave)
    p.communicate(timeout=120)
    data = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the other end is closed and everything has been read
            break
        if not chunk:
            break
        data += chunk
    os.close(master)
    return p.returncode, data.decode()


def test_colour_only_on_a_terminal_and_never_with_no_color(tmp_path):
    env = {k: v for k, v in cli_env().items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env["TERM"] = "xterm-256color"
    code, e = _stderr_on_a_terminal(["sample", "nomodel.safetensors"], tmp_path, env)
    assert code == 1 and "no such file" in e and "\x1b[" in e
    code, e = _stderr_on_a_terminal(
        ["sample", "nomodel.safetensors"], tmp_path, {**env, "NO_COLOR": "1"}
    )
    assert code == 1 and "no such file" in e and "\x1b[" not in e
    p = subprocess.run(
        [rnngen_exe(), "sample", "nomodel.safetensors"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert p.returncode == 1 and b"no such file" in p.stderr and b"\x1b[" not in p.stderr


def test_ctrl_c_exits_130_without_a_traceback(trained):
    workdir, _ = trained
    p = subprocess.Popen(
        [rnngen_exe(), "sample", "runs/small", "--length", "1000000000"],
        cwd=workdir,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert len(p.stdout.read(100)) == 100  # it is generating
    p.send_signal(signal.SIGINT)
    _, e = p.communicate(timeout=60)
    assert p.returncode == 130 and b"Traceback" not in e


# ---- bad input: one clear line on stderr, the documented exit code, no traceback ----------------


def _truncated(wd):
    data = (wd / "runs/small/best.safetensors").read_bytes()
    return data[: len(data) // 2]


def _newer(wd):
    """runs/small's best checkpoint, claiming a format version from the future."""
    data = (wd / "runs/small/best.safetensors").read_bytes()
    return with_format_version(data, checkpoint.FORMAT_VERSION + 1)


BINARY = b"\x7fELF\x00\x01\x02" * 50

BAD = [
    # (name, files to create (bytes, or a function of the work directory), args, exit code,
    #  message fragment[, options: cwd (a fresh directory), stdin])
    ("missing corpus", {}, ["train", "nope.txt"], 1, "nope.txt: no such file"),
    ("empty corpus", {"e.txt": b""}, ["train", "e.txt"], 1, "e.txt: is empty"),
    ("empty stdin", {}, ["train", "-"], 1, "<stdin>: is empty"),
    ("no corpus at all", {}, ["train"], 2, "give the text to train on"),
    (
        "directory without text",
        {"bins/a.bin": BINARY, "bins/.notes.txt": b"hidden\n"},
        ["train", "bins"],
        1,
        "bins: no text files in this directory",
    ),
    ("binary corpus", {"b.bin": BINARY}, ["train", "b.bin"], 1, "binary"),
    (
        "invalid utf-8",
        {"l.txt": b"caf\xe9 au lait\n" * 30},
        ["train", "l.txt"],
        1,
        "l.txt: is not valid UTF-8 (bad byte 0xe9 at offset 3)",
    ),
    (
        "invalid utf-8 in a directory",
        {"d/ok.txt": b"fine\n", "d/sub/l.txt": b"\xff\n"},
        ["train", "d"],
        1,
        "d/sub/l.txt: is not valid UTF-8 (bad byte 0xff at offset 0)",
    ),
    (
        "unknown encoding",
        {},
        ["train", "corpus.txt", "--encoding", "klingon"],
        2,
        "--encoding 'klingon' is not a known text encoding",
    ),
    (
        "bad --errors",
        {},
        ["train", "corpus.txt", "--errors", "ignore"],
        2,
        "--errors must be 'strict' or 'replace'",
    ),
    (
        "shorter than a batch",
        {"s.txt": b"hello world\n" * 5},
        ["train", "s.txt"],
        1,
        "one batch needs",
    ),
    (
        "shorter than one sequence",
        {"t.txt": b"hi\n"},
        ["train", "t.txt", "--batch-size", "1"],
        1,
        "t.txt: too short",
    ),
    ("zero hidden", {}, ["train", "corpus.txt", "--hidden", "0"], 2, "--hidden must be at least 1"),
    ("negative embed", {}, ["train", "corpus.txt", "--embed", "-4"], 2, "--embed must be at least"),
    ("negative steps", {}, ["train", "corpus.txt", "--steps", "-5"], 2, "--steps must be at least"),
    ("zero batch", {}, ["train", "corpus.txt", "--batch-size", "0"], 2, "--batch-size must be"),
    ("zero seq-len", {}, ["train", "corpus.txt", "--seq-len", "0"], 2, "--seq-len must be"),
    ("val-frac above 1", {}, ["train", "corpus.txt", "--val-frac", "1.5"], 2, "--val-frac must be"),
    (
        "val-frac zero",
        {},
        ["train", "corpus.txt", "--val-frac", "0"],
        2,
        "--val-frac must be between 0 and 1, exclusive (got 0)",
    ),
    (
        "conflicting val",
        {},
        ["train", "corpus.txt", "--val-frac", "0.2", "--val-file", "corpus.txt"],
        2,
        "conflict",
    ),
    ("bad level", {}, ["train", "corpus.txt", "--level", "byte"], 2, "--level must be"),
    (
        "tie with mismatched sizes",
        {},
        ["train", "corpus.txt", "--tie", "--embed", "32", "--hidden", "64"],
        2,
        "--tie needs --embed equal to --hidden",
    ),
    (
        "unwritable output directory",
        {},
        ["train", "corpus.txt", "--out", "corpus.txt/run"],
        1,
        "corpus.txt/run: cannot write the run directory",
    ),
    (
        "resume a run that does not exist",
        {},
        ["train", "--resume", "runs/nope"],
        1,
        "runs/nope: no such run",
    ),
    (
        "resume with a conflicting option",
        {},
        ["train", "--resume", "runs/small", "--hidden", "64"],
        2,
        "--hidden 64 conflicts with the run in runs/small, which has hidden 32",
    ),
    (
        "resume with --out",
        {},
        ["train", "--resume", "runs/small", "--out", "elsewhere"],
        2,
        "--out cannot be combined with the run in runs/small",
    ),
    (
        "resume on other text",
        {"other.txt": b"completely different words\n" * 200},
        ["train", "other.txt", "--resume", "runs/small"],
        1,
        "other.txt: is not the text the run in runs/small was trained on",
    ),
    (
        "resume and init-from",
        {},
        ["train", "corpus.txt", "--resume", "runs/small", "--init-from", "runs/small"],
        2,
        "--resume and --init-from conflict",
    ),
    (
        "init-from with another size",
        {},
        ["train", "corpus.txt", "--init-from", "runs/small", "--layers", "3"],
        2,
        "--layers 3 conflicts with runs/small, which has layers 2",
    ),
    (
        "missing model",
        {},
        ["sample", "nomodel.safetensors"],
        1,
        "nomodel.safetensors: no such file",
    ),
    (
        "truncated model",
        {"trunc.safetensors": _truncated},
        ["sample", "trunc.safetensors"],
        1,
        "trunc.safetensors: checkpoint is truncated",
    ),
    (
        "foreign model",
        {"fake.safetensors": b"not a model at all" * 10},
        ["sample", "fake.safetensors"],
        1,
        "not an rnngen checkpoint",
    ),
    (
        "newer-version model",
        {"newer.safetensors": _newer},
        ["sample", "newer.safetensors"],
        1,
        "written by a newer rnngen",
    ),
    (
        "no model anywhere",
        {},
        ["sample"],
        1,
        "no model given and none found under ./runs",
        {"cwd": "empty"},
    ),
    ("negative temp", {}, ["sample", "runs/small", "--temp", "-1"], 2, "--temp must be >= 0"),
    ("negative length", {}, ["sample", "runs/small", "--length", "-3"], 2, "--length must be"),
    ("top-p zero", {}, ["sample", "runs/small", "--top-p", "0"], 2, "--top-p must be in (0, 1]"),
    ("top-p above 1", {}, ["sample", "runs/small", "--top-p", "1.5"], 2, "--top-p must be"),
    ("negative top-k", {}, ["sample", "runs/small", "--top-k", "-1"], 2, "--top-k must be >= 0"),
    (
        "unknown prime chars",
        {},
        ["sample", "runs/small", "--prime", "Zürich"],
        1,
        "characters the model does not know: 'Z', 'ü'",
    ),
    (
        "unknown prime words",
        {},
        ["sample", "runs/word/best.safetensors", "--prime", "the zebra", "--length", "5"],
        0,
        "warning: prime words not in the vocabulary, read as <unk>: 'zebra'",
    ),
    (
        "eval unknown chars",
        {"u.txt": "ÅÅÅ the cat\n".encode()},
        ["eval", "runs/small", "u.txt"],
        1,
        "'Å'",
    ),
    (
        "score unknown chars",
        {"z.txt": b"the cat\nthe Zebra\n"},
        ["score", "runs/small", "z.txt"],
        1,
        "z.txt: line 2 has characters the model does not know: 'Z'",
    ),
    (
        "info of a foreign file",
        {"fake.safetensors": b"not a model at all" * 10},
        ["info", "fake.safetensors"],
        1,
        "fake.safetensors: not an rnngen checkpoint",
    ),
]


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_input_gets_one_clear_line(trained, trained_word, case):
    workdir, _ = trained
    name, files, args, code, fragment, *opts = case
    opts = opts[0] if opts else {}
    for fname, data in files.items():
        (workdir / fname).parent.mkdir(parents=True, exist_ok=True)
        (workdir / fname).write_bytes(data(workdir) if callable(data) else data)
    cwd = workdir
    if "cwd" in opts:
        cwd = workdir / opts["cwd"]
        cwd.mkdir(exist_ok=True)
    runs = sorted(q for q in (workdir / "runs").rglob("*") if q.is_file())
    before = {q: q.read_bytes() for q in runs}
    p = run(*args, cwd=cwd)
    e = err(p)
    assert p.returncode == code, e
    assert fragment in e
    assert "Traceback" not in e
    assert len(e.strip().splitlines()) == 1, e
    if code != 0:
        assert e.startswith("error: ") and out(p) == ""
    after = sorted(q for q in (workdir / "runs").rglob("*") if q.is_file())
    assert after == runs and {q: q.read_bytes() for q in runs} == before  # nothing lost or changed


def test_the_bad_input_table_is_broad():
    assert len(BAD) >= 25 and len({c[0] for c in BAD}) == len(BAD)


def test_train_refuses_to_overwrite_a_run_unless_forced(trained):
    workdir, _ = trained
    before = (workdir / "runs/small/best.safetensors").read_bytes()
    p = run("train", "corpus.txt", *SMALL, "--steps", "2", "--out", "runs/small", cwd=workdir)
    assert p.returncode == 1 and "already holds best.safetensors" in err(p)
    assert "--force" in err(p) and "Traceback" not in err(p)
    assert (workdir / "runs/small/best.safetensors").read_bytes() == before
    q = run("train", "corpus.txt", *SMALL, "--steps", "2", "--out", "runs/forced", cwd=workdir)
    r = run(
        "train",
        "corpus.txt",
        *SMALL,
        "--steps",
        "2",
        "--out",
        "runs/forced",
        "--force",
        cwd=workdir,
    )
    assert q.returncode == 0 and r.returncode == 0, err(r)


def test_sample_with_no_model_anywhere(tmp_path):
    p = run("sample", cwd=tmp_path)
    assert p.returncode == 1 and "none found" in err(p) and "Traceback" not in err(p)
