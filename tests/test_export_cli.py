"""``rnngen export``'s bad inputs (issue 24, item 4): each refused in one line on stderr, with exit
status 2 (a request that cannot work as given) or 1 (a missing model, package or a file in the
way), no traceback, and nothing written: no target, no temporary file."""

import pytest
from clitools import REPO, err, repetitive_text, reversals, run

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

TINY = ["--hidden", "8", "--embed", "4", "--layers", "1", "--batch-size", "4"]


@pytest.fixture(scope="module")
def wd(tmp_path_factory):
    d = tmp_path_factory.mktemp("export-cli")
    (d / "corpus.txt").write_text(repetitive_text(100))
    (d / "pairs.tsv").write_text(reversals(200, 1))
    for args in (
        ["train", "corpus.txt", *TINY, "--seq-len", "8", "--steps", "2", "--out", "lm", "-q"],
        ["train", "pairs.tsv", "--task", "seq2seq", *TINY, "--steps", "2", "--out", "s2s", "-q"],
    ):
        p = run(*args, cwd=d)
        assert p.returncode == 0, err(p)
    (d / "empty").mkdir()
    return d


def files(d) -> set[str]:
    return {p.name for p in d.iterdir()}


def refused(d, code: int, *args: str, env: dict | None = None) -> str:
    """Run ``rnngen export ARGS``; check it failed with ``code`` in one line and wrote nothing."""
    before = files(d)
    p = run("export", *args, cwd=d, env=env)
    lines = err(p).strip().splitlines()
    assert p.returncode == code, err(p)
    assert len(lines) == 1 and lines[0].startswith("error: "), err(p)
    assert "Traceback" not in err(p) and p.stdout == b""
    assert files(d) == before  # nothing half-written, no temporary file left
    return lines[0]


def test_a_run_without_a_checkpoint(wd):
    line = refused(wd, 1, "empty", "-o", "m.onnx")
    assert "empty: no checkpoint in this directory" in line
    assert "no such file" in refused(wd, 1, "nowhere", "-o", "m.onnx")


def test_an_unknown_format(wd):
    line = refused(wd, 2, "lm", "--format", "tflite", "-o", "m.tflite")
    assert "unknown format 'tflite'" in line and "onnx, web, c" in line


def test_int8_where_it_is_not_supported(wd):
    line = refused(wd, 2, "s2s", "-o", "m.onnx", "--int8")
    assert "--int8" in line and "sequence-to-sequence" in line


def test_a_format_the_model_cannot_take(wd):
    line = refused(wd, 2, "s2s", "--format", "web", "-o", "page")
    assert "sequence-to-sequence" in line and "--format onnx" in line


def test_an_existing_file_without_force(wd):
    (wd / "taken.score.onnx").write_bytes(b"mine")
    try:
        line = refused(wd, 1, "lm", "-o", "taken.onnx")  # the step graph's file is free
        assert "taken.score.onnx: exists; give --force" in line
        assert (wd / "taken.score.onnx").read_bytes() == b"mine"
        p = run("export", "lm", "-o", "taken.onnx", "--force", cwd=wd)
        assert p.returncode == 0, err(p)
        assert (wd / "taken.score.onnx").read_bytes()[:4] != b"mine"
    finally:
        for name in ("taken.onnx", "taken.score.onnx"):
            (wd / name).unlink(missing_ok=True)


def test_a_directory_where_a_file_is_wanted(wd):
    assert "empty: is a directory" in refused(wd, 2, "lm", "-o", "empty")
    (wd / "m.score.onnx").mkdir()  # a file the export derives from -o is a directory
    try:
        assert "m.score.onnx: is a directory" in refused(wd, 2, "lm", "-o", "m.onnx", "--force")
    finally:
        (wd / "m.score.onnx").rmdir()


def test_a_file_where_a_directory_is_wanted(wd):
    assert "is a file" in refused(wd, 2, "lm", "--format", "web", "-o", "corpus.txt")


def test_a_missing_directory(wd):
    assert "no such directory" in refused(wd, 1, "lm", "-o", "nowhere/m.onnx")


def test_without_the_export_extra_one_line_names_it(wd, tmp_path):
    """onnx not importable (a stand-in package that raises ImportError, first on the path)."""
    fake = tmp_path / "onnx"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise ImportError('No module named onnx')\n")
    line = refused(wd, 1, "lm", "-o", "m.onnx", env={"PYTHONPATH": f"{tmp_path}:{REPO}"})
    assert 'pip install "rnngen[export]"' in line and "onnx" in line
