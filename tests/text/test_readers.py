"""Readers on small generated folders and CSVs, including malformed ones."""

import pytest

from ulmlite.text import PlainTextCorpus, read_csv, read_imdb


def make_imdb(root, files):
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return root


def test_imdb_layout(tmp_path):
    root = make_imdb(tmp_path, {"train/pos/0_9.txt": "great", "train/neg/1_2.txt": "bad", "train/neg/0_1.txt": "awful",
                                "train/unsup/0_0.txt": "plot"})
    data = read_imdb(root)
    assert data.classes == ["neg", "pos"]
    assert data.docs == ["awful", "bad", "great"] and data.labels.tolist() == [0, 0, 1]
    assert read_imdb(root, unsup=True).docs == ["plot"]


def test_imdb_invalid_utf8_is_replaced_with_a_warning(tmp_path):
    root = make_imdb(tmp_path, {"train/pos/0.txt": b"caf\xe9", "train/neg/0.txt": "ok"})
    with pytest.warns(UserWarning, match="invalid UTF-8"):
        data = read_imdb(root)
    assert "caf\ufffd" in data.docs


def test_imdb_missing_folder_or_single_class(tmp_path):
    with pytest.raises(ValueError, match="no folder train/neg"):
        read_imdb(make_imdb(tmp_path / "a", {"train/pos/0.txt": "x"}))
    root = make_imdb(tmp_path / "b", {"train/pos/0.txt": "x"})
    (root / "train" / "neg").mkdir()
    with pytest.raises(ValueError, match="at least 2 classes"):
        read_imdb(root)


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_with_several_text_columns(tmp_path):
    path = write(tmp_path / "d.csv", 'label,title,text\npos,Nice,"good, really"\nneg,Meh,bad\n')
    data = read_csv(path, text_cols=("title", "text"))
    assert data.docs == [("Nice", "good, really"), ("Meh", "bad")]
    assert data.classes == ["neg", "pos"] and data.labels.tolist() == [1, 0]


@pytest.mark.parametrize(
    "content, kwargs, message",
    [
        ("label,text\npos,a\n,b\n", {}, "line 3: missing label"),
        ("label,text\npos,a\nmaybe,b\n", {"classes": ["neg", "pos"]}, "line 3: unknown label 'maybe'"),
        ("label,text\npos,a\npos,b\n", {}, "at least 2 classes"),
        ("label,body\npos,a\n", {}, r"no column\(s\) \['text'\]"),
        ("", {}, "empty file"),
    ],
)
def test_csv_bad_input(tmp_path, content, kwargs, message):
    with pytest.raises(ValueError, match=message):
        read_csv(write(tmp_path / "d.csv", content), **kwargs)


def test_csv_fixed_classes_keep_their_order(tmp_path):
    data = read_csv(write(tmp_path / "d.csv", "label,text\npos,a\n"), classes=["neg", "pos"])
    assert data.labels.tolist() == [1]


def test_plain_text_documents(tmp_path):
    path = write(tmp_path / "c.txt", "first doc\nline two\n\f\n\f\nsecond\n\f\n  \n")
    assert list(PlainTextCorpus(path)) == ["first doc\nline two", "second"]
    assert list(PlainTextCorpus(path)) == list(PlainTextCorpus(path))  # re-iterable
    with pytest.raises(ValueError, match="no such file"):
        PlainTextCorpus(tmp_path / "missing.txt")


def test_csv_fields_with_line_breaks(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes('label,text\npos,"two\nlines"\nneg,"odd\u2028separator\rhere"\n'.encode())
    data = read_csv(path)
    assert data.docs == ["two\nlines", "odd\u2028separator\rhere"]
