"""The lesson's clean-up and token rules on crafted strings."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ulmlite.text import Tokenizer, apply_rules, fixup, mark_fields


@pytest.mark.parametrize(
    "raw, clean",
    [
        ("it#39;s", "it's"), ("this amp; that", "this & that"), ("don#146;t", "don't"), ("a nbsp;b", "a b"),
        ("#36;5", "$5"), ("one\\ntwo", "one\ntwo"), ("quot;hi quot;", "'hi '"), ("a<br />b", "a\nb"),
        ('say \\"x\\"', 'say "x"'), ("<unk>", "u_n"), ("3 @.@ 5", "3.5"), ("well @-@ known", "well-known"),
        ("a\\b", "a \\ b"), ("&lt;tag&gt;", "<tag>"), ("a    b", "a b"),
    ],
)
def test_fixup(raw, clean):
    assert fixup(raw) == clean


def test_all_caps_words_longer_than_two_get_t_up():
    assert apply_rules("I LOVE it OK") == "i t_up love it ok"


def test_character_repeats():
    assert apply_rules("wow!!!!!").split() == ["wow", "tk_rep", "5", "!"]
    assert "tk_rep" not in apply_rules("wow!!!")  # three is not a repeat


def test_word_repeats():
    assert apply_rules("very very very very good").split() == ["tk_wrep", "4", "very", "good"]
    assert "tk_wrep" not in apply_rules("very very very good")


def test_xxmaj_is_optional():
    assert apply_rules("Great Movie") == "great movie"
    assert apply_rules("Great Movie", mark_capitalized=True).split() == ["xxmaj", "great", "xxmaj", "movie"]


def test_slash_and_hash_are_split_off():
    assert apply_rules("a/b #1").split() == ["a", "/", "b", "#", "1"]


def test_fields_are_marked():
    assert mark_fields(["Title", "Body"]) == "\nxbos xfld 1 Title xfld 2 Body"
    assert mark_fields(["only"]) == "\nxbos xfld 1 only"


def test_spacy_keeps_special_tokens_whole():
    tokens = Tokenizer().tokenize(("BIG Title", "so GOOD!!!! really really really really really"))
    assert tokens[:5] == ["\n", "xbos", "xfld", "1", "t_up"]
    for special in ("xbos", "xfld", "t_up", "tk_rep", "tk_wrep"):
        assert special in tokens
    assert "xfld" in tokens[tokens.index("title") :]


@given(st.text(max_size=200))
def test_rules_never_crash_and_lower_case(text):
    out = apply_rules(fixup(text))
    assert isinstance(out, str)
    assert "  " not in out
