"""Fuzzing (issue 10): arbitrary input must give a result or a clear error, never a crash.

- the fused ops' argument checks: valid arguments with one of them mutated (shape, dtype, strides,
  device-free mutations) must raise RuntimeError naming the op, or, when the mutation happens to be
  valid, match the reference;
- the CSV and plain-text readers on arbitrary bytes: a TextDataset or a ValueError, nothing else;
- the text pipeline on arbitrary Unicode: no crash, and numericalize/textify round-trips.

`make test` runs pytest with --hypothesis-show-statistics, which prints how many cases each of
these tests tried.
"""

import csv
import io

import pytest
import torch
from hypothesis import event, given, settings
from hypothesis import strategies as st

from ulmlite._extension import extension_available
from ulmlite.text import Vocab, fixup
from ulmlite.text.readers import PlainTextCorpus, read_csv
from ulmlite.text.rules import apply_rules

# Fuzz tests are cheap: ten times the profile's examples (600 each under HYPOTHESIS_PROFILE=ci).
fuzz = settings(max_examples=10 * settings.default.max_examples)
needs_ext = pytest.mark.skipif(not extension_available(), reason="ulmlite._C is not built")

DTYPES = [torch.float32, torch.float64, torch.bfloat16, torch.float16, torch.int64, torch.bool]


def _valid_forward_args(T, B, In, H, dtype, bias):
    state = torch.float32 if dtype == torch.bfloat16 else dtype
    args = [torch.randn(T, B, In).to(dtype), torch.randn(B, H).to(dtype), torch.randn(B, H).to(state),
            (torch.randn(4 * H, In) * 0.3).to(dtype), (torch.randn(4 * H, H) * 0.3).to(dtype)]
    return args + ([torch.randn(4 * H).to(dtype), torch.randn(4 * H).to(dtype)] if bias else [None, None])


def _mutate(t: torch.Tensor | None, kind: str, data) -> torch.Tensor | None:
    if kind == "none":
        return None
    if t is None:
        return torch.randn(data.draw(st.integers(0, 5), "size"))
    if kind == "dtype":
        return t.to(data.draw(st.sampled_from(DTYPES), "dtype"))
    if kind == "shape":
        shape = data.draw(st.lists(st.integers(0, 5), min_size=0, max_size=4), "shape")
        return torch.zeros(shape, dtype=t.dtype)
    if kind == "transpose" and t.dim() >= 2:
        return t.transpose(-1, -2).contiguous().transpose(-1, -2)  # same shape, other strides
    if kind == "stride":  # every other element of a bigger tensor: same shape, not contiguous
        return torch.zeros(*t.shape[:-1], 2 * t.shape[-1], dtype=t.dtype)[..., ::2] if t.dim() else t
    if kind == "expand" and t.dim() and t.numel():
        return t.narrow(0, 0, 1).expand_as(t)  # zero stride
    return t


MUTATIONS = st.sampled_from(["dtype", "shape", "transpose", "stride", "expand", "none"])


def _call_or_clear_error(op, *args, name):
    """The op returns, or raises a RuntimeError that names it; any other outcome fails the test."""
    try:
        out = op(*args)
    except RuntimeError as err:
        assert name in str(err) or "expected" in str(err).lower(), f"unclear error: {err}"
        event("clear RuntimeError")
        return None
    event("valid after the mutation: result checked")
    return out


@needs_ext
@fuzz
@given(T=st.integers(1, 3), B=st.integers(1, 3), In=st.integers(1, 5), H=st.integers(1, 5),
       dtype=st.sampled_from([torch.float32, torch.float64, torch.bfloat16]), bias=st.booleans(),
       which=st.integers(0, 6), kind=MUTATIONS, data=st.data())
def test_lstm_forward_argument_checks(T, B, In, H, dtype, bias, which, kind, data):
    args = _valid_forward_args(T, B, In, H, dtype, bias)
    args[which] = _mutate(args[which], kind, data)
    if which < 5 and args[which] is None:
        return  # a required Tensor cannot be None: the dispatcher's own TypeError, tested below
    out = _call_or_clear_error(torch.ops.ulmlite.lstm_forward, *args, name="lstm_forward")
    if out is not None:  # the mutation left the arguments valid (e.g. a transposed 1x1): check the result
        y = out[0]
        assert y.shape == (T, B, H) and torch.isfinite(y.float()).all()


@needs_ext
@fuzz
@given(T=st.integers(1, 3), B=st.integers(1, 3), In=st.integers(1, 4), H=st.integers(1, 4),
       dtype=st.sampled_from([torch.float32, torch.float64, torch.bfloat16]),
       which=st.integers(0, 10), kind=MUTATIONS, data=st.data())
def test_lstm_backward_argument_checks(T, B, In, H, dtype, which, kind, data):
    x, h0, c0, w_ih, w_hh, b_ih, b_hh = _valid_forward_args(T, B, In, H, dtype, True)
    y, h_last, c_last, act, cs = torch.ops.ulmlite.lstm_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh)
    args = [torch.randn_like(y), torch.randn_like(h_last), torch.randn_like(c_last), x, h0, c0, w_ih, w_hh,
            y, act, cs]
    args[which] = _mutate(args[which], kind, data)
    if args[which] is None:
        return
    out = _call_or_clear_error(torch.ops.ulmlite.lstm_backward, *args, name="lstm_backward")
    if out is not None:
        assert out[0].shape == (T, B, In) and out[3].shape == (4 * H, In)


@needs_ext
@fuzz
@given(B=st.integers(0, 4), H=st.integers(1, 6), dtype=st.sampled_from(DTYPES), which=st.integers(0, 1),
       kind=MUTATIONS, data=st.data())
def test_lstm_cell_argument_checks(B, H, dtype, which, kind, data):
    state = torch.float32 if dtype == torch.bfloat16 else dtype
    args = [torch.randn(B, 4 * H).to(dtype), torch.randn(B, H).to(state)]
    args[which] = _mutate(args[which], kind, data)
    if args[which] is None:
        return
    _call_or_clear_error(torch.ops.ulmlite.lstm_cell_forward, *args, name="lstm_cell_forward")


@needs_ext
@fuzz
@given(n=st.integers(1, 6), e=st.integers(1, 5), v=st.integers(1, 9),
       dtype=st.sampled_from([torch.float32, torch.float64, torch.bfloat16]), bias=st.booleans(),
       which=st.integers(0, 3),
       kind=st.sampled_from(["dtype", "shape", "transpose", "stride", "expand", "none", "ids"]),
       chunk=st.integers(-1, 8), with_grad=st.booleans(), data=st.data())
def test_linear_cross_entropy_argument_checks(n, e, v, dtype, bias, which, kind, chunk, with_grad, data):
    args = [torch.randn(n, e).to(dtype), torch.randn(v, e).to(dtype), torch.randn(v).to(dtype) if bias else None,
            torch.randint(0, v, (n,))]
    if kind == "ids":  # targets out of range
        args[3] = torch.tensor(data.draw(st.lists(st.integers(-3, v + 3), min_size=n, max_size=n), "ids"))
    else:
        args[which] = _mutate(args[which], kind, data)
    if which != 2 and args[which] is None:
        return
    out = _call_or_clear_error(torch.ops.ulmlite.linear_cross_entropy, *args, chunk, with_grad,
                               name="linear_cross_entropy")
    if out is not None:
        assert out[0].dim() == 0 and 0 <= out[1].item() <= n


@needs_ext
def test_none_for_a_required_tensor_is_a_type_error():
    with pytest.raises((TypeError, RuntimeError)):
        torch.ops.ulmlite.lstm_forward(None, None, None, None, None, None, None)


# --- readers ------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:.*invalid UTF-8")
@fuzz
@given(st.binary(max_size=300))
def test_read_csv_on_arbitrary_bytes(tmp_path_factory, raw):
    path = tmp_path_factory.mktemp("csv") / "d.csv"
    path.write_bytes(raw)
    try:
        data = read_csv(path)
    except ValueError as err:
        assert str(path) in str(err) or "line" in str(err) or "column" in str(err), str(err)
        event("ValueError")
        return
    event("a data set")
    assert len(data.docs) == len(data.labels) and len(data.classes) >= 2
    assert all(0 <= k < len(data.classes) for k in data.labels)


ROWS = st.lists(st.tuples(st.sampled_from(["pos", "neg", "", "maybe"]), st.text(max_size=30)), max_size=8)


@fuzz
@given(rows=ROWS, header=st.sampled_from([("label", "text"), ("text", "label"), ("label", "body")]))
def test_read_csv_on_structured_rows(tmp_path_factory, rows, header):
    """Well-formed CSV syntax with bad content: missing labels, unknown columns, odd text."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for label, text in rows:
        writer.writerow((label, text) if header[0] == "label" else (text, label))
    path = tmp_path_factory.mktemp("csv") / "d.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8", newline="")
    try:
        data = read_csv(path, classes=["neg", "pos"])
    except ValueError:
        labels = [label for label, _ in rows]
        assert header == ("label", "body") or any(lab not in ("neg", "pos") for lab in labels) or not rows
        event("ValueError")
        return
    event("a data set")
    assert header != ("label", "body")
    assert [data.classes[k] for k in data.labels] == [label for label, _ in rows]
    assert [d[0] if isinstance(d, tuple) else d for d in data.docs] == [text for _, text in rows]


@pytest.mark.filterwarnings("ignore:.*invalid UTF-8")
@fuzz
@given(st.binary(max_size=300), st.sampled_from(["\f", "\n\n", "\n"]))
def test_plain_corpus_on_arbitrary_bytes(tmp_path_factory, raw, separator):
    path = tmp_path_factory.mktemp("plain") / "c.txt"
    path.write_bytes(raw)
    docs = list(PlainTextCorpus(path, separator))
    assert all(isinstance(d, str) and d.strip() for d in docs)


# --- text pipeline ------------------------------------------------------------------------------


@fuzz
@given(st.text(max_size=200))
def test_fixup_and_rules_on_arbitrary_unicode(text):
    clean = fixup(text)
    assert isinstance(clean, str)
    assert isinstance(apply_rules(clean), str)


@given(st.lists(st.text(max_size=60), min_size=1, max_size=4))
def test_tokenizer_on_arbitrary_unicode_and_corpus_round_trip(tmp_path_factory, docs):
    """spaCy plus our rules on any text: one token list per document, each starting with the lesson's
    `\\n xbos xfld 1`, no empty or NUL tokens, and the saved corpus loads back identical."""
    from ulmlite.text import Tokenizer
    from ulmlite.text.corpus import TokenCorpus

    corpus = Tokenizer(n_workers=1, progress=False).corpus(docs, cache=False)
    assert len(corpus) == len(docs)
    tokens = [corpus.doc(k) for k in range(len(corpus))]
    assert all(doc[:4] == ["\n", "xbos", "xfld", "1"] for doc in tokens)
    assert all(t and "\x00" not in t for doc in tokens for t in doc)
    folder = corpus.save(tmp_path_factory.mktemp("corpus") / "c")
    assert [TokenCorpus.load(folder).doc(k) for k in range(len(corpus))] == tokens


@fuzz
@given(st.lists(st.text(min_size=1, max_size=8), max_size=30), st.integers(1, 5))
def test_vocab_round_trip(tokens, min_freq):
    """Every in-vocabulary token comes back from textify(numericalize(...)); the rest become _unk_."""
    from collections import Counter

    vocab = Vocab.from_counts(Counter(tokens), max_vocab=60000, min_freq=min_freq)
    ids = vocab.numericalize(tokens)
    back = [vocab.itos[i] for i in ids]
    for token, returned in zip(tokens, back, strict=True):
        assert returned == (token if token in vocab.stoi else vocab.itos[0])
