"""Seq2seq manners (issue 23, item 6, and the temporary file of item 9): the n-best list shows
the score it is ranked by, ``translate --on-error skip`` goes on past a line it cannot read, a
source with a tab says to cut the first column, a language model trained on a .tsv hears of
``--task seq2seq``, and a write into a missing directory names the user's path, not the
temporary file's. A tiny model trained once: ordering and error handling need no learned one."""

import json

import pytest
from clitools import err, out, reversals, run

TINY = ["--hidden", "32", "--embed", "16", "--steps", "60", "--batch-size", "16", "--threads", "1"]


@pytest.fixture(scope="module")
def wd(tmp_path_factory):
    d = tmp_path_factory.mktemp("manners")
    (d / "train.tsv").write_text(reversals(2000, 7))
    p = run("train", "train.tsv", "--task", "seq2seq", *TINY, "--out", "m", "--quiet", cwd=d)
    assert p.returncode == 0, err(p)
    return d


SOURCES = ["abcd", "hello", "qrstab", "fig"]


def test_n_best_prints_the_score_it_ranks_by(wd) -> None:
    stdin = "".join(s + "\n" for s in SOURCES).encode()
    common = ["translate", "m", "--beam", "4", "--n-best", "4", "--threads", "1"]
    text = run(*common, stdin=stdin, cwd=wd)
    js = run(*common, "--json", stdin=stdin, cwd=wd)
    assert text.returncode == 0 and js.returncode == 0, err(text) + err(js)
    rows = [r.split("\t") for r in out(text).splitlines()]
    objs = [json.loads(line) for line in out(js).splitlines()]
    assert [o["source"] for o in objs] == SOURCES
    at = 0
    for o in objs:
        n = len(o["outputs"])
        assert n >= 1 and len(o["scores"]) == len(o["per_token"]) == n
        mine = rows[at : at + n]
        at += n
        assert [r[0] for r in mine] == o["outputs"]
        printed = [float(r[1]) for r in mine]
        assert printed == sorted(printed, reverse=True)  # best first, as printed
        found = zip(printed, o["per_token"], o["scores"], o["outputs"], strict=True)
        for shown, per, total, output in found:
            assert shown == pytest.approx(per, abs=6e-5)  # what is printed is what ranks
            assert per == pytest.approx(total / (len(output) + 1))  # char target, </s> counted
        assert o["per_token"] == sorted(o["per_token"], reverse=True)
    assert at == len(rows)


def test_the_python_api_ranks_by_the_same_score(wd) -> None:
    import rnngen

    m = rnngen.load(wd / "m", threads=1)
    stdin = "".join(s + "\n" for s in SOURCES).encode()
    js = run("translate", "m", "--beam", "4", "--n-best", "3", "--json", stdin=stdin, cwd=wd)
    objs = [json.loads(line) for line in out(js).splitlines()]
    for cands, o in zip(m.translate(SOURCES, beam=4, n_best=3), objs, strict=True):
        assert [text for text, _ in cands] == o["outputs"]  # unpacks as (text, score)
        assert [c.score for c in cands] == pytest.approx(o["per_token"])
        assert [c[1] for c in cands] == sorted((c[1] for c in cands), reverse=True)
        assert [c.logprob for c in cands] == pytest.approx(o["scores"])
    with pytest.warns(UserWarning, match="line 2: characters the model does not know"):
        got = m.translate(["abc", "abé", "cab"], beam=2, on_error="skip")
    assert got[1] == "" and got[0] and got[2]
    with pytest.raises(rnngen.UserError, match="line 2: characters the model does not know"):
        m.translate(["abc", "abé"], beam=2)


BAD = "abc\nab\u00e9c\n\ncab\nqrs\tsrq\nbca\n"  # line 2: an unknown character; line 5: a tab


def test_on_error_skip_answers_an_empty_line_and_goes_on(wd) -> None:
    p = run("translate", "m", "--beam", "1", "--on-error", "skip", stdin=BAD.encode(), cwd=wd)
    assert p.returncode == 0, err(p)
    lines = out(p).split("\n")[:-1]
    assert len(lines) == 6 and lines[1] == "" and lines[2] == "" and lines[4] == ""
    assert lines[0] and lines[3] and lines[5]  # the readable ones are answered
    assert "<stdin>:2: characters the model does not know: 'é'; skipped" in err(p)
    assert "<stdin>:5: the source has a tab" in err(p)
    assert "skipped 2 lines the model cannot read" in err(p)
    # from a file, the same: no whole-file check first under skip
    (wd / "bad.txt").write_text(BAD)
    f = run("translate", "m", "bad.txt", "--beam", "1", "--on-error", "skip", "--json", cwd=wd)
    assert f.returncode == 0, err(f)
    objs = [json.loads(line) for line in out(f).splitlines()]
    assert [o["source"] for o in objs] == BAD.split("\n")[:-1]
    assert objs[1]["outputs"] == [] and objs[1]["error"].startswith("bad.txt:2: characters")
    assert "error" not in objs[0] and len(objs[0]["outputs"]) == 1
    assert "skipped 2 lines" in err(f)


def test_on_error_stops_by_default_naming_the_line(wd) -> None:
    p = run("translate", "m", "--beam", "1", stdin=BAD.encode(), cwd=wd)
    assert p.returncode == 1
    assert "error: <stdin>:2: characters the model does not know: 'é'" in err(p)
    assert len(out(p).splitlines()) == 1  # the line before it was answered
    p = run("translate", "m", "--on-error", "ignore", stdin=b"abc\n", cwd=wd)
    assert p.returncode == 2 and "--on-error" in err(p)


def test_a_source_with_a_tab_says_to_cut_the_first_column(wd) -> None:
    p = run("translate", "m", "train.tsv", cwd=wd)
    assert p.returncode == 1 and out(p) == ""
    assert "train.tsv:1: the source has a tab" in err(p)
    assert "cut -f1" in err(p) and "Traceback" not in err(p)


LM = ["--steps", "1", "--hidden", "8", "--embed", "4", "--batch-size", "2", "--seq-len", "8"]


def test_a_language_model_on_pairs_hears_of_task_seq2seq(wd) -> None:
    p = run("train", "train.tsv", *LM, "--threads", "1", "--out", "lm1", "--json", cwd=wd)
    assert p.returncode == 0, err(p)
    assert "train.tsv looks like source<TAB>target pairs" in err(p)
    assert "--task seq2seq" in err(p)
    assert json.loads(out(p))["steps"] == 1  # stdout holds the JSON alone
    (wd / "pairs.txt").write_text(reversals(50, 8))  # by the content, whatever the name
    p = run("train", "pairs.txt", *LM, "--threads", "1", "--out", "lm2", cwd=wd)
    assert p.returncode == 0 and "pairs.txt looks like source<TAB>target" in err(p)
    assert out(p) == ""
    p = run("train", "train.tsv", "--task", "lm", *LM, "--threads", "1", "--out", "lm3", cwd=wd)
    assert p.returncode == 0 and "--task seq2seq" not in err(p)  # asked for a language model


def test_what_looks_like_pairs(tmp_path) -> None:
    from rnngen.data.pairs import looks_like_pairs

    cases = {
        "a.tsv": "anything\n",
        "b.txt": "one\ttwo\nthree\tfour\nfive six\n",
        "c.txt": "the cat sat\non the mat\n",
        "d.txt": "a\tb\tc\nd\te\tf\n",
        "e.txt": "x" * 5000 + "\n",
    }
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
    found = {name: looks_like_pairs(tmp_path / name) for name in cases}
    assert found == {"a.tsv": True, "b.txt": True, "c.txt": False, "d.txt": False, "e.txt": False}
    assert not looks_like_pairs(tmp_path / "missing.txt") and not looks_like_pairs(tmp_path)


def test_a_write_into_a_missing_directory_names_the_users_path(wd) -> None:
    (wd / "src.txt").write_text("abc\n")
    p = run("heatmap", "m", "src.txt", "-o", "nodir/sub/page.html", "--threads", "1", cwd=wd)
    assert p.returncode == 1
    assert "error: nodir/sub/page.html: No such file or directory" in err(p)
    assert ".tmp" not in err(p) and not (wd / "nodir").exists()


def test_atomic_write_names_the_target(tmp_path) -> None:
    from rnngen.files import atomic_write

    (tmp_path / "dir").mkdir()
    for target in (tmp_path / "nodir" / "x.bin", tmp_path / "dir"):  # missing; a directory
        with pytest.raises(OSError) as e:
            atomic_write(target, b"data")
        assert e.value.filename == str(target), e.value
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir"]  # no temporary file left
