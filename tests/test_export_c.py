"""The C export (``rnngen.export.c.write_c``) of small models trained by ``rnngen train``, compiled
here with ``cc -O2 -std=c99 -Wall -Werror`` and run: its argmax continuation equals ``rnngen
sample --temp 0`` for 200 tokens, for every cell at character and word level; the int8 file
compiles, runs, and follows the int8 model's own argmax (its weights dequantized, in NumPy); the
flags do what the file's help says."""

import shutil
import subprocess
from pathlib import Path

import pytest
from exporttools import MODELS, PRIMES, distinct, reference_int8_argmax, sample, shared_models

CC = shutil.which("cc") or shutil.which("gcc")
pytestmark = pytest.mark.skipif(CC is None, reason="no C compiler (cc)")
FLAGS = ["-O2", "-std=c99", "-Wall", "-Werror"]


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict:
    return shared_models(tmp_path_factory)


@pytest.fixture(scope="module")
def binaries(models, tmp_path_factory) -> dict:
    """(cell, level, int8) -> a compiled model, built once for the module."""
    from rnngen import load
    from rnngen.export.c import write_c

    where = tmp_path_factory.mktemp("export-c-bin")
    built = {}
    for (cell, level), run_dir in models.items():
        model = load(run_dir)
        for int8 in (False, True):
            name = f"{cell}-{level}{'-int8' if int8 else ''}"
            (source,) = write_c(model, where / f"{name}.c", int8)
            p = subprocess.run(
                [CC, *FLAGS, str(source), "-lm", "-o", str(where / name)],
                capture_output=True,
                text=True,
            )
            assert p.returncode == 0 and p.stderr == "", p.stderr  # no warnings either
            built[(cell, level, int8)] = where / name
    return built


def run_c(binary: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(binary), *args], capture_output=True, timeout=60)


@pytest.mark.parametrize("cell,level", MODELS)
def test_argmax_equals_rnngen_sample(models, binaries, cell, level):
    prime = PRIMES[level]
    want = sample(models[(cell, level)], prime)
    p = run_c(binaries[(cell, level, False)], "-p", prime, "-t", "0", "-n", "200")
    assert p.returncode == 0, p.stderr
    got = p.stdout.decode("utf-8")
    assert got == want
    assert distinct(got[len(prime) :]) >= 5  # the continuation is worth comparing


@pytest.mark.parametrize("prime", ["", "the cat sat on the mat.\n", "a bird\nthe dog "])
def test_argmax_from_other_primes(models, binaries, prime):
    """No prime, a prime that ends a line, and one that spans lines (word level: <eos>, and
    where a space is due)."""
    for key in [("lstm", "char"), ("gru", "word")]:
        want = sample(models[key], prime)
        got = run_c(binaries[(*key, False)], "-p", prime, "-t", "0", "-n", "200").stdout
        assert got.decode("utf-8") == want, key


def test_unknown_words_read_as_unk_as_rnngen_does(models, binaries):
    key = ("lstm", "word")
    prime = "the zebra sat"
    want = sample(models[key], prime)
    p = run_c(binaries[(*key, False)], "-p", prime, "-t", "0", "-n", "200")
    assert p.stdout.decode("utf-8") == want
    assert "'zebra'" in p.stderr.decode() and "<unk>" in p.stderr.decode()


def test_unknown_characters_refused(binaries):
    p = run_c(binaries[("lstm", "char", False)], "-p", "the Zebra", "-t", "0")
    assert p.returncode == 1
    assert p.stdout == b""
    assert "does not know" in p.stderr.decode() and "'Z'" in p.stderr.decode()


@pytest.mark.parametrize("cell,level", MODELS)
def test_int8_compiles_runs_and_follows_its_own_argmax(models, binaries, cell, level):
    """The int8 file's argmax continuation equals the int8 model's (every matrix dequantized
    as stored, run in NumPy): the quantized weights are written and read back as intended.
    How close int8 comes to float32 is measured in the bench, not asserted here."""
    prime = PRIMES[level]
    p = run_c(binaries[(cell, level, True)], "-p", prime, "-t", "0", "-n", "200")
    assert p.returncode == 0, p.stderr
    got = p.stdout.decode("utf-8")
    assert got == reference_int8_argmax(models[(cell, level)], prime, 200)


def test_flags(binaries):
    binary = binaries[("gru", "char", False)]
    assert run_c(binary, "-p", "the ", "-n", "0").stdout == b"the "
    a = run_c(binary, "-p", "the ", "-t", "1", "-s", "5", "-n", "300").stdout
    b = run_c(binary, "-p", "the ", "-t", "1", "-s", "5", "-n", "300").stdout
    c = run_c(binary, "-p", "the ", "-t", "1", "-s", "6", "-n", "300").stdout
    assert a == b != c  # same seed, same text
    hot = run_c(binary, "-t", "1.5", "-s", "1", "-n", "300").stdout.decode()
    assert len(hot) == 300 and distinct(hot) > 10  # sampling, not argmax
    help_ = run_c(binary, "-h")
    assert help_.returncode == 0 and b"-p PRIME" in help_.stdout
    for bad in (["-x", "1"], ["-t", "-1"], ["-n", "ten"], ["-p"], ["-"]):
        p = run_c(binary, *bad)
        assert p.returncode == 2 and p.stdout == b"", bad
        assert p.stderr


def test_word_level_length_counts_tokens(binaries):
    text = run_c(binaries[("lstm", "word", False)], "-t", "0", "-n", "30").stdout.decode()
    assert len(text.split()) + text.count("\n") == 30 > len(text.split())  # words and <eos>


def test_the_file_reads_well_and_allocates_nothing(models, tmp_path):
    from rnngen import load
    from rnngen.export.c import write_c

    (path,) = write_c(load(models[("lstm", "char")]), tmp_path / "model.c", int8=False)
    text = path.read_text()
    assert "malloc(" not in text and "static const float" in text
    # the step near the top, the weights at the end, marked
    weights = text.index("/* ---- 5. the weights")
    assert text.index("static void rnn_step(") < weights < text.index("static const float", weights)
    assert [p.name for p in tmp_path.iterdir()] == ["model.c"]  # no temporary file left


def test_a_directory_is_refused(models, tmp_path):
    from rnngen import UserError, load
    from rnngen.export.c import write_c

    with pytest.raises(UserError, match="is a directory"):
        write_c(load(models[("lstm", "char")]), tmp_path, int8=False)


def test_token_text_survives_the_c_compiler(tmp_path):
    """Token texts as C string literals: quotes, backslashes, trigraphs, control characters,
    non-ASCII and a digit after an escape come back byte for byte."""
    from rnngen.export.c import _c_string

    tokens = ['"', "\\", "??=", "?", "\t", "\n", "\x01", "\x7f", "é", "€", "😀", "\x0112", "a b"]
    body = "\n".join(f"    fputs({_c_string(t)}, stdout); putchar(0);" for t in tokens)
    src = tmp_path / "t.c"
    src.write_text(f"#include <stdio.h>\nint main(void) {{\n{body}\n    return 0;\n}}\n")
    p = subprocess.run([CC, *FLAGS, str(src), "-o", str(tmp_path / "t")], capture_output=True)
    assert p.returncode == 0 and p.stderr == b"", p.stderr
    got = subprocess.run([str(tmp_path / "t")], capture_output=True).stdout
    assert got.split(b"\0")[:-1] == [t.encode() for t in tokens]
