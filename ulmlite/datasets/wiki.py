"""MediaWiki XML dumps -> plain-text articles (templates, tables, references, files and
categories dropped; links replaced by their text)."""

import re

_WIKI_TEMPLATE = re.compile(r"\{\{[^{}]*\}\}")
_WIKI_TABLE = re.compile(r"\{\|.*?\|\}", re.DOTALL)
_WIKI_REF = re.compile(r"<ref[^>/]*/>|<ref[^>]*>.*?</ref>", re.DOTALL)
_WIKI_TAG = re.compile(r"<!--.*?-->|<[^>]+>", re.DOTALL)
_WIKI_FILE = re.compile(r"\[\[(?:File|Image|Category):[^\[\]]*(?:\[\[[^\]]*\]\][^\[\]]*)*\]\]", re.IGNORECASE)
_WIKI_LINK = re.compile(r"\[\[(?:[^|\]]*\|)?([^\]]*)\]\]")
_WIKI_URL = re.compile(r"\[https?://\S+\s?([^\]]*)\]")


def strip_wiki_markup(text: str) -> str:
    """Wiki markup -> plain text: templates, tables, references, files and categories dropped,
    links replaced by their text, bold/italic quotes removed, headings kept as `= Title =`."""
    previous = None
    while previous != text:  # templates nest: peel the innermost until none is left
        previous, text = text, _WIKI_TEMPLATE.sub("", text)
    for pattern in (_WIKI_TABLE, _WIKI_REF, _WIKI_TAG, _WIKI_FILE):
        text = pattern.sub("", text)
    text = _WIKI_URL.sub(r"\1", _WIKI_LINK.sub(r"\1", text)).replace("'''", "").replace("''", "")
    lines = [line.strip() for line in text.splitlines()]
    return "\n".join(line for line in lines if line and not line.startswith(("*", "|", "!", "{", "}")) or
                     line.startswith("="))


def wiki_articles(dump: str) -> list[tuple[str, str]]:
    """(title, plain text) of each article (namespace 0, not a redirect) in a MediaWiki XML dump."""
    import xml.etree.ElementTree as ElementTree

    root = ElementTree.fromstring(dump)
    ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    articles = []
    for page in root.iter(f"{ns}page"):
        text = page.findtext(f"{ns}revision/{ns}text") or ""
        if page.findtext(f"{ns}ns") != "0" or text.lstrip().upper().startswith("#REDIRECT"):
            continue
        title = page.findtext(f"{ns}title") or ""
        body = strip_wiki_markup(text)
        if len(body.split()) > 50:
            articles.append((title, f"= {title} =\n{body}"))
    return articles
