"""TokenCorpus.select: a subset of documents without tokenizing again."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from ulmlite.text import TokenCorpus


@given(docs=st.lists(st.lists(st.sampled_from(["a", "b", "c"]), max_size=6), min_size=1, max_size=12),
       data=st.data())
def test_select_gives_the_chosen_documents_in_order(docs, data):
    strings = ["a", "b", "c"]
    ids = np.array([strings.index(t) for doc in docs for t in doc], dtype=np.int32)
    corpus = TokenCorpus(strings, ids, np.concatenate([[0], np.cumsum([len(d) for d in docs])]))
    chosen = data.draw(st.lists(st.integers(0, len(docs) - 1), max_size=8))
    picked = corpus.select(chosen)
    assert len(picked) == len(chosen) and [picked.doc(k) for k in range(len(chosen))] == [docs[k] for k in chosen]
