"""ONNX export (issue 24), through the installed command and onnxruntime: every cell at character
and word level, trained and random, steps 200 tokens with its state carried to the logits rnngen
computes (within 1e-5 relative), its scoring graph gives what ``rnngen score`` gives, the example
sampler (onnxruntime and NumPy alone) prints what ``rnngen sample --temp 0`` prints, and a
seq2seq model's graphs decode greedily what ``rnngen translate --beam 1`` decodes."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from clitools import REPO, cli_env, err, out, repetitive_text, reversals, rnngen_exe, run

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

TINY = ["--hidden", "16", "--layers", "2", "--batch-size", "8", "--seq-len", "16"]
TRAIN = ["--steps", "20", "--threads", "1", "-q", "--seed", "3"]
LMS = {  # name -> rnngen train options
    "char-lstm": ["--cell", "lstm", "--embed", "8"],
    "char-gru": ["--cell", "gru", "--embed", "8"],
    "char-rnn": ["--cell", "rnn-tanh", "--embed", "8"],
    "word-lstm": ["--level", "word", "--cell", "lstm", "--embed", "16", "--tie"],
    "word-gru": ["--level", "word", "--cell", "gru", "--embed", "8"],
    "word-rnn": ["--level", "word", "--cell", "rnn-relu", "--embed", "8"],
    "bpe-gru": ["--level", "bpe", "--vocab-size", "300", "--cell", "gru", "--embed", "8"],
}
S2S = {  # name -> rnngen train --task seq2seq options
    "lstm-bi-general": ["--cell", "lstm"],
    "gru-uni-additive": ["--cell", "gru", "--encoder", "uni", "--attention", "additive"],
    "rnn-bi-dot-words": ["--cell", "rnn-tanh", "--attention", "dot", "--tgt-level", "word"],
    "lstm-bi-general-bpe": ["--cell", "lstm", "--level", "bpe", "--vocab-size", "270"],
}
# runs a script (argv[1]) where ``import rnngen`` fails, as where rnngen is not installed
NO_RNNGEN = (
    "import sys, runpy\n"
    "class Block:\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    "        if name.split('.')[0] == 'rnngen': raise ImportError('rnngen is blocked')\n"
    "sys.meta_path.insert(0, Block())\n"
    "sys.argv = sys.argv[1:]\n"
    "runpy.run_path(sys.argv[0], run_name='__main__')\n"
)


STEPS = 200
REL = 1e-5


def run_all(commands: dict[str, list[str]], cwd, first_alone: bool = False) -> None:
    """``rnngen ARGS`` for every entry at once (2 cores: half the wall time of one by one);
    ``first_alone``: the first entry before the others, so that on a machine that has not yet
    compiled the kernels they load what it compiled instead of each compiling them again."""
    if first_alone:
        first = next(iter(commands))
        run_all({first: commands[first]}, cwd)
        commands = {k: v for k, v in commands.items() if k != first}
    procs = {
        k: subprocess.Popen(
            [rnngen_exe(), *args],
            cwd=cwd,
            env=cli_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for k, args in commands.items()
    }
    for k, p in procs.items():
        _, e = p.communicate(timeout=600)
        assert p.returncode == 0, f"{k}: {e.decode()}"


def randomized(src, dst, seed: int) -> None:
    """A copy of checkpoint ``src`` with fresh weights, as ``rnngen train`` initialises them
    (an untrained model), and a random start state."""
    import rnngen.checkpoint as checkpoint

    ck = checkpoint.load(src)
    net = ck.build_model()
    rng = np.random.default_rng(seed)
    net.init_weights(rng)
    ck.params = {k: v.copy() for k, v in net.params.views.items()}
    for k in [k for k in ck.arrays if k.startswith("start.")]:
        ck.arrays[k] = rng.uniform(-0.9, 0.9, ck.arrays[k].shape).astype(np.float32)
    checkpoint.save(ck, dst)


@pytest.fixture(scope="module")
def lms(tmp_path_factory):
    """name -> (checkpoint, step graph): each LMS model trained, and a random twin of each."""
    d = tmp_path_factory.mktemp("onnx-lm")
    (d / "corpus.txt").write_text(repetitive_text(300))
    run_all({n: ["train", "corpus.txt", *TINY, *TRAIN, *o, "--out", n] for n, o in LMS.items()}, d)
    run_all({n: ["export", n, "-o", f"{n}.onnx"] for n in LMS}, d)
    models = {n: (d / n / "best.safetensors", d / f"{n}.onnx") for n in LMS}
    import rnngen
    from rnngen.export.onnx import write_onnx

    for i, n in enumerate(LMS):  # the random twins through the library (the command is tested)
        ck, graph = d / f"random-{n}.safetensors", d / f"random-{n}.onnx"
        randomized(d / n / "best.safetensors", ck, i)
        write_onnx(rnngen.load(ck), graph, int8=False)
        models[f"random-{n}"] = (ck, graph)
    return models


ALL_LMS = [*LMS, *(f"random-{n}" for n in LMS)]


def session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def start_feeds(sess, B: int) -> dict[str, np.ndarray]:
    """The start state of the file's metadata, repeated over B rows."""
    start = json.loads(sess.get_modelmeta().custom_metadata_map["rnngen.start_state"])
    return {
        n: np.repeat(np.asarray(a, np.float32)[:, None, :], B, axis=1) for n, a in start.items()
    }


@pytest.mark.parametrize("name", ALL_LMS)
def test_step_graph_logits_follow_rnngen_for_200_steps(lms, name):
    import rnngen.checkpoint as checkpoint

    ck_path, graph = lms[name]
    net = checkpoint.load(ck_path).build_model()
    sess = session(graph)
    B = 3
    state = net.start_state(B)  # what rnngen sample and score start from
    feeds = start_feeds(sess, B)
    names = [o.name for o in sess.get_outputs()]
    rng = np.random.default_rng(0)
    worst = 0.0
    for _ in range(STEPS):
        ids = rng.integers(0, net.cfg.vocab_size, B)
        want = net.logits(ids[None, :].astype(np.int32), state)
        got = dict(zip(names, sess.run(None, {"ids": ids.astype(np.int64), **feeds}), strict=True))
        worst = max(worst, float(np.max(np.abs(got["logits"] - want)) / np.max(np.abs(want))))
        feeds = {n: got[f"{n}_next"] for n in feeds}
    np.testing.assert_allclose(feeds["h"], state.h, rtol=0, atol=1e-5)
    print(f"parity {name}: logits {worst:.2e} relative, h {np.abs(feeds['h'] - state.h).max():.2e}")
    assert worst <= REL, f"{name}: logits off by {worst:.2e} relative"


LINES = ["the cat sat on the mat.", "", "a bird", "the dog sat on the log. the cat saw the bird."]


@pytest.mark.parametrize("name", LMS)
def test_scoring_graph_gives_what_rnngen_score_gives(lms, name, tmp_path):
    ck_path, graph = lms[name]
    (tmp_path / "lines.txt").write_text("\n".join(LINES) + "\n")
    p = run("score", str(ck_path), "lines.txt", "--json", "-q", cwd=tmp_path)
    assert p.returncode == 0, err(p)
    want = [json.loads(line)["bits"] for line in out(p).splitlines()]
    sess = session(graph.with_name(graph.name.replace(".onnx", ".score.onnx")))
    meta = sess.get_modelmeta().custom_metadata_map
    vocab = {t: i for i, t in enumerate(json.loads(meta["rnngen.vocab"]))}
    special = json.loads(meta["rnngen.special_tokens"])
    start = json.loads(meta["rnngen.start_token"])
    level = meta["rnngen.level"]
    end = special["eos"] if level == "word" else special["newline"]
    if level == "bpe":
        import tokenizers

        tk = tokenizers.Tokenizer.from_str(meta["rnngen.tokenizer"])
    worst = 0.0
    for line, bits in zip(LINES, want, strict=True):
        if level == "bpe":
            line_ids = tk.encode(line, add_special_tokens=False).ids
        else:
            toks = list(line) if level == "char" else line.split()
            line_ids = [vocab.get(t, special["unk"]) for t in toks]
        ids = np.array([start, *line_ids, end], np.int64)
        lp = sess.run(["logprobs"], {"ids": ids[:, None], **start_feeds(sess, 1)})[0]
        assert lp.shape == (len(ids) - 1, 1)
        got = -lp.sum() / math.log(2)
        worst = max(worst, abs(got - bits) / bits)
        assert got == pytest.approx(bits, rel=REL, abs=1e-4)
    print(f"parity {name}: scoring graph's bits {worst:.2e} relative")


@pytest.mark.parametrize("name", ["char-lstm", "word-gru", "random-char-rnn", "bpe-gru"])
def test_the_example_samples_what_rnngen_sample_does_at_temp_0(lms, name, tmp_path):
    """examples/sample_onnx.py, run where rnngen cannot be imported, prints what ``rnngen sample
    --temp 0`` prints for the same prime and length."""
    ck_path, graph = lms[name]
    prime = {"word": "the cat\nsat on the zebra", "bpe": "Zürich ☃\nthe c"}.get(
        name.split("-")[0], "the c"
    )
    args = ["--prime", prime, "--temp", "0", "--length", "200"]
    want = run("sample", str(ck_path), *args, "-q", cwd=tmp_path)
    assert want.returncode == 0, err(want)
    example = str(REPO / "examples" / "sample_onnx.py")
    got = subprocess.run(
        [sys.executable, "-c", NO_RNNGEN, example, str(graph), *args],
        capture_output=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert got.returncode == 0, got.stderr.decode()
    assert got.stdout.decode() == out(want)
    assert len(out(want)) > len(prime)


def test_metadata_names_everything_a_program_needs(lms):
    import rnngen.checkpoint as checkpoint

    ck_path, graph = lms["char-lstm"]
    ck = checkpoint.load(ck_path)
    model = onnx.load(graph)
    meta = {p.key: p.value for p in model.metadata_props}
    assert json.loads(meta["rnngen.vocab"]) == ck.vocab.itos
    assert meta["rnngen.level"] == "char" and meta["rnngen.cell"] == "lstm"
    assert (meta["rnngen.layers"], meta["rnngen.hidden"]) == ("2", "16")
    assert json.loads(meta["rnngen.start_token"]) == ck.vocab.stoi["\n"]
    start = json.loads(meta["rnngen.start_state"])
    for n in ("h", "c"):  # exactly the checkpoint's, float32 through JSON and back
        assert np.array_equal(np.asarray(start[n], np.float32), ck.arrays[f"start.{n}"][:, 0])
    io = json.loads(meta["rnngen.io"])
    g = model.graph
    assert [i.name for i in g.input] == ["ids", "h", "c"]
    assert [o.name for o in g.output] == ["logits", "h_next", "c_next"]
    assert set(io) == {"ids", "h", "c", "logits", "h_next", "c_next"}
    assert all(i.doc_string for i in [*g.input, *g.output])  # what netron shows
    assert g.input[0].type.tensor_type.shape.dim[0].dim_param == "B"  # the batch is dynamic
    assert meta["rnngen.operators"] == "standard"
    assert {n.op_type for n in g.node} >= {"LSTM"}
    score = onnx.load(graph.with_name("char-lstm.score.onnx"))
    assert [o.name for o in score.graph.output] == ["logprobs", "h_next", "c_next"]


def test_a_subword_model_carries_its_tokenizer(lms):
    """The tokenizer.json rnngen wrote beside the checkpoint, loadable by Hugging Face's tokenizers
    with the model's ids; the start token is the line end's subword."""
    import tokenizers

    ck_path, graph = lms["bpe-gru"]
    meta = session(graph).get_modelmeta().custom_metadata_map
    assert meta["rnngen.level"] == "bpe"
    assert meta["rnngen.tokenizer"] == (ck_path.parent / "tokenizer.json").read_text()
    vocab = json.loads(meta["rnngen.vocab"])
    tk = tokenizers.Tokenizer.from_str(meta["rnngen.tokenizer"])
    assert [tk.id_to_token(i) for i in range(len(vocab))] == vocab
    start = json.loads(meta["rnngen.start_token"])
    assert vocab[start] == "Ċ" and json.loads(meta["rnngen.special_tokens"])["newline"] == start


@pytest.mark.parametrize("name", ["char-gru", "char-rnn", "word-lstm"])
def test_basic_operator_graphs_match_too(lms, name):
    """The MatMul form that --int8 quantizes for the GRU and RNN, in float32: the same logits and
    scores as the standard operators."""
    import rnngen.checkpoint as checkpoint
    from rnngen.export.onnx import lm

    ck_path, graph = lms[name]
    ck = checkpoint.load(ck_path)
    std, basic = (
        session(graph),
        ort.InferenceSession(lm.step_graph(ck, basic=True).model("t", {}).SerializeToString()),
    )
    ids = np.array([1, 2, 3], np.int64)
    feeds = start_feeds(std, 3)
    a, b = std.run(None, {"ids": ids, **feeds}), basic.run(None, {"ids": ids, **feeds})
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)
    score = ort.InferenceSession(lm.score_graph(ck, basic=True).model("t", {}).SerializeToString())
    std_score = session(graph.with_name(graph.name.replace(".onnx", ".score.onnx")))
    window = np.random.default_rng(1).integers(0, ck.model_cfg.vocab_size, (30, 2))
    feeds = start_feeds(std, 2)
    a, b = std_score.run(None, {"ids": window, **feeds}), score.run(None, {"ids": window, **feeds})
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["char-lstm", "char-gru", "word-lstm"])
def test_int8_quantizes_the_weights_and_scores_nearly_the_same(lms, name, tmp_path):
    ck_path, graph = lms[name]
    p = run("export", str(ck_path), "-o", "q.onnx", "--int8", cwd=tmp_path)
    assert p.returncode == 0, err(p)
    assert "wrote" in err(p) and "Please consider" not in err(p)  # the quantizer's advice: hushed
    ops = {n.op_type for n in onnx.load(tmp_path / "q.onnx").graph.node}
    assert ops & {"DynamicQuantizeLSTM", "MatMulInteger"}
    meta = session(tmp_path / "q.onnx").get_modelmeta().custom_metadata_map
    assert json.loads(meta["rnngen.int8"]) is True
    window = np.random.default_rng(2).integers(0, int(meta["rnngen.vocab_size"]), (40, 2))
    float_score = session(graph.with_name(graph.name.replace(".onnx", ".score.onnx")))
    feeds = start_feeds(float_score, 2)
    a = float_score.run(["logprobs"], {"ids": window, **feeds})[0]
    b = session(tmp_path / "q.score.onnx").run(["logprobs"], {"ids": window, **feeds})[0]
    assert abs(a.mean() - b.mean()) < 0.05  # nats per token; bench/bench_export.py measures it


# ---- sequence-to-sequence -------------------------------------------------------------------


@pytest.fixture(scope="module")
def s2s(tmp_path_factory):
    d = tmp_path_factory.mktemp("onnx-s2s")
    (d / "train.tsv").write_text(reversals(2000, 5))
    (d / "words.tsv").write_text(reversals(2000, 5, spaced=True))
    sources = [line.split("\t")[0] for line in reversals(200, 9).splitlines()]
    (d / "sources.txt").write_text("\n".join(sources) + "\n")
    common = "--task seq2seq --hidden 32 --embed 16 --layers 2 --batch-size 32 --lr 0.01".split()
    common += ["--steps", "60", "--threads", "1", "-q"]
    pairs = {n: "words.tsv" if n.endswith("words") else "train.tsv" for n in S2S}
    run_all(
        {n: ["train", pairs[n], *common, *o, "--out", n] for n, o in S2S.items()},
        d,
        first_alone=True,
    )
    run_all({n: ["export", n, "-o", f"{n}.onnx"] for n in S2S}, d)
    return d


@pytest.mark.parametrize("name", S2S)
def test_seq2seq_greedy_through_the_graphs_equals_translate_beam_1(s2s, name):
    """examples/translate_onnx.py (greedy, onnxruntime and NumPy alone) on 200 sources writes what
    ``rnngen translate --beam 1`` writes."""
    p = run("translate", name, "sources.txt", "--beam", "1", "-q", cwd=s2s)
    assert p.returncode == 0, err(p)
    example = str(REPO / "examples" / "translate_onnx.py")
    got = subprocess.run(
        [sys.executable, "-c", NO_RNNGEN, example, f"{name}.onnx", "sources.txt"],
        capture_output=True,
        cwd=s2s,
        timeout=120,
    )
    assert got.returncode == 0, got.stderr.decode()
    assert len(out(p).splitlines()) == 200
    assert got.stdout.decode() == out(p)
