"""Text clean-up and the lesson's token rules (fast.ai 2018 lesson 10; fastai v0.7 `Tokenizer`).

Applied in this order to each document before spaCy splits it into tokens:
  fixup              undo the IMDB / WikiText artefacts (HTML entities, `<br />`, ` @-@ ` ...)
  xbos, xfld N       mark the start of a document and of each of its fields
  tk_rep N c         a character repeated 4+ times:  "!!!!!"           -> " tk_rep 5 ! "
  tk_wrep N w        a word repeated 4+ times:       "very very very very" -> " tk_wrep 4 very "
  t_up w             a word in capitals, longer than 2 characters: "GREAT" -> " t_up great"
  (xxmaj w)          optional (fastai v1): a capitalised word: "Great" -> " xxmaj great"
  lower-case everything; spaces around / and #; runs of spaces collapsed
"""

import html
import re

BOS, FLD, UP, REP, WREP, MAJ = "xbos", "xfld", "t_up", "tk_rep", "tk_wrep", "xxmaj"
UNK, PAD = "_unk_", "_pad_"
SPECIAL_TOKENS = (UNK, PAD, BOS, FLD, UP, REP, WREP, MAJ)

# The lesson's replacements, in its order (IMDB's HTML debris and WikiText-103's @-@ escapes).
FIXUPS = (
    ("#39;", "'"), ("amp;", "&"), ("#146;", "'"), ("nbsp;", " "), ("#36;", "$"), ("\\n", "\n"),
    ("quot;", "'"), ("<br />", "\n"), ('\\"', '"'), ("<unk>", "u_n"), (" @.@ ", "."), (" @-@ ", "-"),
    ("\\", " \\ "),
)
_SPACES = re.compile(r" {2,}")
_CHAR_REPEAT = re.compile(r"(\S)(\1{3,})")
_WORD_REPEAT = re.compile(r"(\b\w+\W+)(\1{3,})")
_WORDS_OR_NOT = re.compile(r"\w+|\W+")
_SLASH_HASH = re.compile(r"([/#])")


def fixup(text: str) -> str:
    """The lesson's clean-up: its literal replacements, HTML unescaping, runs of spaces collapsed."""
    for old, new in FIXUPS:
        text = text.replace(old, new)
    return _SPACES.sub(" ", html.unescape(text))


def _char_repeat(match: re.Match) -> str:
    char, rest = match.groups()
    return f" {REP} {len(rest) + 1} {char} "


def _word_repeat(match: re.Match) -> str:
    word, rest = match.groups()
    return f" {WREP} {len(rest.split()) + 1} {word} "


def mark_case(text: str, mark_capitalized: bool = False) -> str:
    """t_up before ALL-CAPS words longer than 2 characters (and, optionally, xxmaj before
    capitalised words), then lower-case."""
    pieces = []
    for piece in _WORDS_OR_NOT.findall(text):
        if piece.isupper() and len(piece) > 2:
            pieces += [f" {UP} ", piece.lower()]
        elif mark_capitalized and len(piece) > 1 and piece[0].isupper() and piece[1:].islower():
            pieces += [f" {MAJ} ", piece.lower()]
        else:
            pieces.append(piece.lower())
    return "".join(pieces)


def apply_rules(text: str, mark_capitalized: bool = False) -> str:
    """The lesson's rules on one field (after fixup), before spaCy."""
    text = _CHAR_REPEAT.sub(_char_repeat, text)
    text = _WORD_REPEAT.sub(_word_repeat, text)
    text = mark_case(text, mark_capitalized)
    text = _SLASH_HASH.sub(r" \1 ", text)
    return _SPACES.sub(" ", text)


def mark_fields(fields: list[str] | tuple[str, ...]) -> str:
    """`xbos xfld 1 <field 1> xfld 2 <field 2> ...`, each field cleaned by fixup (the lesson's
    get_texts marks every field, a single one too)."""
    return f"\n{BOS} " + " ".join(f"{FLD} {k} {fixup(field)}" for k, field in enumerate(fields, start=1))
