"""Text features for grouping: words, content terms, paragraph fingerprints.

Content terms are lowercased words with stopwords removed (jusText's stoplists, which trafilatura
already installs, for 100 languages) and stemmed (Snowball), with numbers normalised so that
"1,000", "1000" and "a thousand" are one term. Paragraph fingerprints identify verbatim
paragraphs whatever the whitespace, case or punctuation around them.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import zlib
from functools import lru_cache

import justext
import snowballstemmer

_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*|\d+(?:[.,]\d+)*")
_THOUSANDS = re.compile(r"(?<=\d)[,\u202f\u00a0 ](?=\d{3}\b)")
_NUMBER_WORDS = re.compile(r"\b(?:a|one) thousand\b")

# ISO 639-1 -> (jusText stoplist, Snowball stemmer); other languages get neither.
_LANGUAGES = {
    "en": ("English", "english"),
    "uk": ("Ukrainian", None),
    "ru": ("Russian", "russian"),
    "de": ("German", "german"),
    "fr": ("French", "french"),
    "es": ("Spanish", "spanish"),
    "it": ("Italian", "italian"),
    "pt": ("Portuguese", "portuguese"),
    "nl": ("Dutch", "dutch"),
    "pl": ("Polish", "polish"),
    "cs": ("Czech", "czech"),
    "ro": ("Romanian", "romanian"),
    "sv": ("Swedish", "swedish"),
    "da": ("Danish", "danish"),
    "fi": ("Finnish", "finnish"),
    "hu": ("Hungarian", "hungarian"),
    "tr": ("Turkish", "turkish"),
}


# Words of attribution and time that every news lead has ("..., X reported on Tuesday, citing
# sources"); the cited source itself is compared separately. Matched before stemming.
_ATTRIBUTION = {
    "en": frozenset(
        [
            "report",
            "reports",
            "reported",
            "reporting",
            "cite",
            "cites",
            "cited",
            "citing",
            "according",
            "told",
            "tells",
            "say",
            "says",
            "said",
            "source",
            "sources",
            "familiar",
            "statement",
            "statements",
            "announced",
            "announce",
            "confirmed",
            "monday",
            "tuesday",
            "wednesday",
            "thursday",
            "friday",
            "saturday",
            "sunday",
            "today",
            "yesterday",
        ]
    ),
}


def words(text: str) -> list[str]:
    """Lowercased word and number tokens; '12,000' -> '12000', 'a thousand' -> '1000'."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text).replace("’", "'")
    text = text.casefold()
    if "thousand" in text:
        text = _NUMBER_WORDS.sub("1000", text)
    return _WORD.findall(_THOUSANDS.sub("", text))


def term_hashes(
    text: str, language: str = "en", exclude: frozenset[str] = frozenset()
) -> list[int]:
    """`term_hash` of each content term of `text`; words in `exclude` (lowercased) are left
    out too. Languages without a stoplist or stemmer keep every word as it is."""
    vocabulary = _vocabulary(language)
    out = []
    for word in words(text):
        if word not in exclude:
            term = vocabulary.term(word)
            if term is not None:
                out.append(term)
    return out


class _Vocabulary:
    """word -> hash of its stem, or None for words that are not content: stopwords, words of
    attribution, single letters. A memo (one per language), because news repeats its words."""

    def __init__(self, language: str):
        stoplist, algorithm = _LANGUAGES.get(language, (None, None))
        self._skip = _ATTRIBUTION.get(language, frozenset()) | (
            frozenset(w.casefold() for w in justext.get_stoplist(stoplist))
            if stoplist
            else frozenset()
        )
        self._stemmer = snowballstemmer.stemmer(algorithm) if algorithm else None
        self._cache: dict[str, int | None] = {}

    def term(self, word: str) -> int | None:
        try:
            return self._cache[word]
        except KeyError:
            pass
        if len(self._cache) > 500_000:
            self._cache.clear()
        if word in self._skip or (len(word) < 2 and not word.isdigit()):
            entry = None
        else:
            stem = word if word[0].isdigit() or not self._stemmer else self._stemmer.stemWord(word)
            entry = term_hash(stem)
        self._cache[word] = entry
        return entry


@lru_cache(maxsize=32)
def _vocabulary(language: str) -> _Vocabulary:
    return _Vocabulary(language)


_FINGERPRINT_TOKENS = re.compile(r"\w+")


def fingerprint(paragraph: str) -> tuple[int, int] | None:
    """(64-bit fingerprint, word count) of a paragraph, or None when it is too short to identify
    anything (a subheading of three words recurs by chance). Case, punctuation and spacing do
    not count, so a copy re-typeset by another site still matches."""
    tokens = _FINGERPRINT_TOKENS.findall(paragraph.casefold())
    if len(tokens) < 6:
        return None
    digest = hashlib.blake2b(" ".join(tokens).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big"), len(tokens)


def term_hash(term: str) -> int:
    """Stable 32-bit hash of a term for MinHash (persisted with the index: see `HASH_SCHEME`)."""
    return zlib.crc32(term.encode("utf-8"))


HASH_SCHEME = "crc32(utf-8 term)"
