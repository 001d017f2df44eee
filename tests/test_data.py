"""Vocabularies, corpus decoding and the truncated-BPTT batch streams."""

import numpy as np
import pytest

from rnngen.data.batches import BatchStream, eval_batches, split_tail
from rnngen.data.text import decode_text, read_text
from rnngen.data.vocab import EOS, UNK, Vocab
from rnngen.errors import DataError


def test_char_vocab_round_trips_any_unicode():
    text = "Grüße, 世界! 🎉\nnaïve café\n"
    v = Vocab.build(text, "char")
    assert v.itos == sorted(set(text))
    assert v.decode(v.encode(text)) == text
    assert Vocab.from_dict(v.to_dict()).itos == v.itos


def test_word_vocab_adds_eos_per_line_and_maps_rare_words_to_unk():
    text = "a b a\nb a c\n"
    v = Vocab.build(text, "word", min_count=2)
    assert v.itos[:2] == [EOS, UNK]
    assert set(v.itos) == {EOS, UNK, "a", "b"}
    ids = v.encode(text)
    words = [v.itos[i] for i in ids]
    assert words == ["a", "b", "a", EOS, "b", "a", UNK, EOS]
    assert v.decode(ids) == "a b a\nb a <unk>\n"


def test_word_vocab_max_vocab_keeps_most_frequent():
    v = Vocab.build("x x x y y z\n", "word", max_vocab=4)
    assert v.itos == [EOS, UNK, "x", "y"]


def test_stream_decoder_spaces_words_across_chunks():
    v = Vocab.build("hello world\nbye now\n", "word")
    ids = list(v.encode("hello world\nbye now\n"))
    dec = v.decoder()
    pieces = [dec(ids[:1]), dec(ids[1:4]), dec(ids[4:])]
    assert "".join(pieces) == "hello world\nbye now\n"


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"", "is empty"),
        (b"abc\x00def", "binary"),
        (b"ok \xff\xfe bad", "not valid UTF-8 (bad byte 0xff at offset 3)"),
    ],
)
def test_decode_text_rejects_bad_input_with_a_clear_message(raw, message):
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        decode_text(raw, "f.txt")


def test_decode_text_normalises_line_ends_and_bom():
    assert decode_text("\ufeffa\r\nb\rc".encode(), "f") == "a\nb\nc"


def test_read_text_names_missing_files(tmp_path):
    with pytest.raises(DataError, match="nope.txt: no such file"):
        read_text(tmp_path / "nope.txt")
    with pytest.raises(DataError, match="is a directory"):
        read_text(tmp_path)


def test_split_tail_holds_out_the_end():
    tr, va = split_tail(np.arange(100), 0.1)
    assert list(va) == list(range(90, 100)) and len(tr) == 90


def test_batch_stream_rows_are_contiguous_streams_carried_across_batches():
    tokens = np.arange(1000, dtype=np.int32)
    s = BatchStream(tokens, batch_size=4, seq_len=10)
    row_len = 999 // 4
    assert s.steps_per_epoch == row_len // 10
    x1, y1, new1 = s.next()
    x2, y2, new2 = s.next()
    assert x1.shape == (10, 4) and new1 and not new2
    for b in range(4):
        assert list(x1[:, b]) == list(range(b * row_len, b * row_len + 10))
        assert list(y1[:, b]) == list(range(b * row_len + 1, b * row_len + 11))
        assert x2[0, b] == x1[-1, b] + 1  # the next batch continues the same stream
    for _ in range(s.steps_per_epoch - 2):
        s.next()
    _, _, new = s.next()
    assert new and s.pos.epoch == 1


@pytest.mark.parametrize("n, B, T", [(2, 1, 1), (101, 4, 7), (1000, 16, 64), (37, 50, 5)])
def test_eval_batches_score_every_token_after_the_first_exactly_once(n, B, T):
    tokens = np.arange(n, dtype=np.int32)
    pairs = []
    for x, y, _ in eval_batches(tokens, B, T):
        assert x.shape == y.shape
        pairs += list(zip(x.T.reshape(-1), y.T.reshape(-1), strict=True))
    assert sorted(int(t) for _, t in pairs) == list(range(1, n))
    assert all(t == i + 1 for i, t in pairs)


def test_encoded_pairs_pickle_whole_as_flat_arrays() -> None:
    """A data-parallel run sends its pairs to the other processes pickled: every pair comes back
    (empty targets too) from a few flat arrays, not one pickled array per pair (smaller, and 18x
    faster to pickle at CMUdict's size)."""
    import pickle

    from rnngen.data.pairs import PairSet

    rng = np.random.default_rng(0)
    src = [rng.integers(0, 30, rng.integers(1, 9)).astype(np.int32) for _ in range(500)]
    tgt = [rng.integers(0, 40, rng.integers(0, 7)).astype(np.int32) for _ in range(500)]
    pairs = PairSet(src, tgt, [f"w{i}" for i in range(500)])
    blob = pickle.dumps(pairs)
    back = pickle.loads(blob)
    assert back.sources == pairs.sources and back.target_tokens == pairs.target_tokens
    for a, b in zip(back.src + back.tgt, src + tgt, strict=True):
        assert a.dtype == np.int32 and np.array_equal(a, b)
    assert len(blob) < 0.75 * len(pickle.dumps((src, tgt, pairs.sources)))  # no per-array part
    assert len(pickle.loads(pickle.dumps(PairSet([], [], [])))) == 0
