"""Text features for grouping: content terms, language-independent anchors, paragraph prints.

- **Content terms** are a text's words without stopwords (jusText's stoplists, which trafilatura
  already installs), stemmed (Snowball), each weighted by how rare the word is in its language:
  `wordfreq`'s frequency of the word in general text, not the document frequency of the batch
  being grouped (a batch of a hundred articles gives crude statistics, and a fixed weight lets
  an article be described once, whatever else is grouped with it). "the" weighs ~0, "troops" ~3,
  "trimetazidine" and names that no list knows 6.
- **Anchors** survive translation: numbers by value ("2,000" = "2.000" = "2 000"; "10.3 million" =
  "10,3 milioni" = "10,3 млн"; "450万" = 4.5 million), and names of people, places and
  organisations reduced to a transliterated consonant skeleton ("Zaluzhny", "Залужний",
  "Ζαλούζνι", "Załużny", "Saluschnyj" -> "sls n"), so the German, Greek and Latvian versions of
  one report share them with the English one.
- **Paragraph fingerprints** identify verbatim paragraphs whatever the whitespace, case or
  punctuation around them.

Tokens are runs of one script, so "米ESPNによると" yields "ESPN" between Japanese words.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
import zlib
from functools import lru_cache

import justext
import regex
import snowballstemmer
import wordfreq
from anyascii import anyascii

# ISO 639-1 -> (jusText stoplist, Snowball stemmer); other languages get neither.
_LANGUAGES = {
    "en": ("English", "english"),
    "uk": ("Ukrainian", None),
    "ru": ("Russian", "russian"),
    "de": ("German", "german"),
    "fr": ("French", "french"),
    "es": ("Spanish", "spanish"),
    "ca": ("Catalan", "catalan"),
    "it": ("Italian", "italian"),
    "pt": ("Portuguese", "portuguese"),
    "nl": ("Dutch", "dutch"),
    "pl": ("Polish", None),
    "cs": ("Czech", None),
    "sk": ("Slovak", None),
    "ro": ("Romanian", "romanian"),
    "sv": ("Swedish", "swedish"),
    "da": ("Danish", "danish"),
    "no": ("Norwegian_Bokmal", "norwegian"),
    "nb": ("Norwegian_Bokmal", "norwegian"),
    "fi": ("Finnish", "finnish"),
    "hu": ("Hungarian", "hungarian"),
    "tr": ("Turkish", "turkish"),
    "el": ("Greek", "greek"),
    "lv": ("Latvian", None),
    "lt": ("Lithuanian", "lithuanian"),
    "et": ("Estonian", None),
    "sl": ("Slovenian", None),
    "hr": ("Croatian", None),
    "sr": ("Serbian", "serbian"),
    "bg": ("Bulgarian", None),
    "id": ("Indonesian", "indonesian"),
    "ar": ("Arabic", "arabic"),
}
_WORDFREQ_LANGUAGE = {"no": "nb"}

# Words of dates and of attribution that every news lead has ("..., X reported on Tuesday,
# citing sources"): not what a report says. Matched before stemming.
_DATE_WORDS = frozenset(
    [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "today",
        "yesterday",
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ]
)
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
        ]
    ),
}

# One script per token: Latin, Cyrillic, Greek... letters with their combining marks; CJK,
# kana, Hangul and Thai runs; numbers with their group and decimal separators.
_TOKEN = regex.compile(
    r"[\p{Latin}\p{M}]+(?:'[\p{Latin}\p{M}]+)*|[\p{Cyrillic}\p{M}]+(?:'[\p{Cyrillic}\p{M}]+)*"
    r"|[\p{Greek}\p{M}]+|[\p{Arabic}\p{M}]+|[\p{Hebrew}\p{M}]+|\p{Han}+|\p{Hiragana}+"
    r"|\p{Katakana}+|\p{Hangul}+|\p{Thai}+|[\p{L}\p{M}]+"
    r"|\d+(?:[.,]\d+|[\u202f\u00a0 ]\d{3}(?!\d))*"
)
# `_TOKEN` on ASCII text: the same tokens (Latin letters with inner apostrophes; numbers)
_ASCII_TOKEN = re.compile(
    r"[A-Za-z]+(?:'[A-Za-z]+)*|[0-9]+(?:[.,][0-9]+| [0-9]{3}(?![0-9]))*", re.ASCII
)
# splitting on a token kept as a group: gaps and tokens in turn, in one pass
_SPLIT = regex.compile(f"({_TOKEN.pattern})")
_ASCII_SPLIT = re.compile(f"({_ASCII_TOKEN.pattern})", re.ASCII)
_CASELESS = regex.compile(r"^[\p{Arabic}\p{Hebrew}\p{M}]+$")
_CJK = regex.compile(r"^[\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}\p{Thai}]+$")
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*|\d+(?:[.,]\d+)*")
_THOUSANDS = re.compile(r"(?<=\d)[,\u202f\u00a0 ](?=\d{3}\b)")
_NUMBER_WORDS = re.compile(r"\b(?:a|one) thousand\b")

# number words that multiply the number before them ("10.3 million", "4,5 Mio", "6 млрд")
_MULTIPLIERS = {
    **dict.fromkeys(
        [
            "million",
            "millions",
            "mln",
            "mio",
            "mill",
            "millionen",
            "millones",
            "millón",
            "milioni",
            "milione",
            "miljoner",
            "miljoonaa",
            "millió",
            "miljoni",
            "milijoni",
            "milionów",
            "миллион",
            "миллиона",
            "миллионов",
            "млн",
            "мільйон",
            "мільйонів",
            "мільйона",
            "εκατ",
            "εκατομμύρια",
            "εκατομμύριο",
        ],
        1e6,
    ),
    **dict.fromkeys(
        [
            "billion",
            "billions",
            "bn",
            "mrd",
            "milliarde",
            "milliarden",
            "miliardi",
            "miliardo",
            "mil_millones",
            "млрд",
            "миллиард",
            "миллиарда",
            "миллиардов",
            "мільярд",
            "мільярдів",
            "δισ",
            "δισεκατομμύρια",
        ],
        1e9,
    ),
    **dict.fromkeys(["thousand", "thousands", "тыс", "тысяч", "тисяч", "tys", "tausend"], 1e3),
}
_CJK_NUMBER = regex.compile(r"(\d+(?:\.\d+)?)\s*(万|億)")
_CJK_MULTIPLIERS = {"万": 1e4, "億": 1e8}

MAX_WEIGHT = 6.0  # words no frequency list knows (names, rare terms)
UNKNOWN_LANGUAGE_WEIGHT = 4.0  # every word of a language wordfreq does not cover
NAME_MIN_WEIGHT = 2.5  # a capitalised common word ("Officials") is not a name


def words(text: str) -> list[str]:
    """Lowercased word and number tokens; '12,000' -> '12000', 'a thousand' -> '1000'."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text).replace("’", "'")
    text = text.casefold()
    if "thousand" in text:
        text = _NUMBER_WORDS.sub("1000", text)
    return _WORD.findall(_THOUSANDS.sub("", text))


class Vocabulary:
    """A language's stopwords, stemmer and word weights, memoised (news repeats its words)."""

    def __init__(self, language: str):
        self.language = language
        stoplist, algorithm = _LANGUAGES.get(language, (None, None))
        try:
            stop = justext.get_stoplist(stoplist) if stoplist else ()
        except ValueError:
            stop = ()
        self.stopwords = frozenset(w.casefold() for w in stop) | _ATTRIBUTION.get(
            language, frozenset()
        )
        self._stemmer = snowballstemmer.stemmer(algorithm) if algorithm else None
        code = _WORDFREQ_LANGUAGE.get(language, language)
        self._frequencies = (
            wordfreq.get_frequency_dict(code) if code in _wordfreq_languages() else None
        )
        self._terms: dict[str, tuple[int, float] | None] = {}

    def weight(self, word: str) -> float:
        """How much a (lowercased) word says: -log10 of its frequency, minus one (so the
        commonest words weigh ~0), capped at MAX_WEIGHT for words the list does not have."""
        if self._frequencies is None:
            return UNKNOWN_LANGUAGE_WEIGHT
        frequency = self._frequencies.get(word, 0.0)
        if frequency <= 0:
            return MAX_WEIGHT
        return min(MAX_WEIGHT, max(0.0, -math.log10(frequency) - 1.0))

    def term(self, word: str) -> tuple[int, float] | None:
        """(hash of the stem, weight) of a lowercased word, or None for a word that is not
        content: stopwords, dates, attribution, single letters, numbers."""
        try:
            return self._terms[word]
        except KeyError:
            pass
        if len(self._terms) > 500_000:
            self._terms.clear()
        if (
            word in self.stopwords
            or word in _DATE_WORDS
            or len(word) < 2
            or word[0].isdigit()
            or _CJK.match(word)
        ):
            entry = None
        else:
            stem = self._stemmer.stemWord(word) if self._stemmer else word
            entry = (term_hash(stem), self.weight(word))
        self._terms[word] = entry
        return entry


@lru_cache(maxsize=64)
def vocabulary(language: str | None) -> Vocabulary:
    return Vocabulary((language or "en").lower().split("-")[0][:2])


@lru_cache(maxsize=1)
def _wordfreq_languages() -> frozenset[str]:
    return frozenset(wordfreq.available_languages())


class Tokenized:
    """A piece of text (a title, a line) with its tokens, lowercased too, and the gaps
    between them: split once, read for terms and for anchors. An ASCII piece -- most lines
    of English news -- is split by an equivalent ASCII pattern, several times faster than
    `_TOKEN`'s Unicode classes."""

    __slots__ = ("gaps", "lowered", "text", "tokens")

    def __init__(self, text: str):
        if text.isascii():
            self.text = text
            parts = _ASCII_SPLIT.split(text)
            self.tokens = parts[1::2]
            self.lowered = [t.lower() for t in self.tokens]
        else:
            self.text = unicodedata.normalize("NFKC", text).replace("’", "'")
            parts = _SPLIT.split(self.text)
            self.tokens = parts[1::2]
            self.lowered = [t.casefold() for t in self.tokens]
        self.gaps = parts[0::2]  # gaps[i] precedes tokens[i]; the last one ends the text

    def offset(self, i: int) -> int:
        """Where token `i` starts in `text`."""
        return sum(map(len, self.gaps[: i + 1])) + sum(map(len, self.tokens[:i]))

    def starts_sentence(self, i: int, at_start: bool) -> bool:
        """Does token `i` begin a sentence: is the last character before it, spaces passed
        over, one that ends a sentence? At the start of the piece: `at_start`."""
        before = self.gaps[i].rstrip()
        if before:
            return before[-1] in _ENDS
        if i == 0:
            return at_start
        return self.tokens[i - 1][-1] in _ENDS


_ENDS = frozenset('.!?:"«“”»—–-')


def add_terms(out: dict[int, float], piece: Tokenized, vocab: Vocabulary) -> None:
    known = vocab._terms  # the memo, read inline: this runs for every word of every article
    for word in piece.lowered:
        try:
            entry = known[word]
        except KeyError:
            entry = vocab.term(word)
        if entry is not None and entry[1] > out.get(entry[0], -1.0):
            out[entry[0]] = entry[1]


def anchors(text: str, language: str | None) -> dict[int, float]:
    """{anchor hash: weight} of what survives translation: numbers by value, names by their
    transliterated consonant skeleton (see the module's docstring)."""
    out: dict[int, float] = {}
    add_anchors(out, Tokenized(text), vocabulary(language))
    return out


def add_anchors(
    out: dict[int, float], piece: Tokenized, vocab: Vocabulary, starts_sentence: bool = True
) -> None:
    """Add the anchors of `piece`; `starts_sentence`: whether the piece begins a sentence (a
    line after a line that ended without a full stop continues one)."""

    def keep(key: str, weight: float) -> None:
        h = term_hash(key)
        if weight > out.get(h, 0.0):
            out[h] = weight

    text, tokens, lowered = piece.text, piece.tokens, piece.lowered
    for i, token in enumerate(tokens):
        first = token[0]
        if first.islower():
            continue  # most words: a lowercase word of a cased script is no name
        if first.isdigit():
            value = _number(token)
            if value is None:
                continue
            following = lowered[i + 1] if i + 1 < len(tokens) else ""
            multiplier = 1.0 if following[:1].isdigit() else _MULTIPLIERS.get(following, 1.0)
            value *= multiplier
            if value < 10 and multiplier == 1.0:
                continue  # "3 people", list numbers: too common to say anything
            keep(_number_key(value), _number_weight(value, multiplier))
            continue
        word = lowered[i]
        ascii_token = token.isascii()  # then neither CJK nor caseless: no pattern to run
        if (
            word in vocab.stopwords
            or word in _DATE_WORDS
            or (not ascii_token and _CJK.match(token))
        ):
            continue
        caseless = not ascii_token and bool(_CASELESS.match(token))
        weight = UNKNOWN_LANGUAGE_WEIGHT
        if not caseless:
            if not (token[0].isupper() or token.isupper()):
                continue
            weight = vocab.weight(word)
            if weight < 4.5 and piece.starts_sentence(i, starts_sentence):
                continue  # "Officials said..." at the start of a sentence is no name
            if not token.isupper() and weight < NAME_MIN_WEIGHT:
                continue
        elif len(token) < 4:
            continue
        key = _name_key(token, caseless)
        if len(key) >= 3:
            keep("@" + key, max(min(weight, MAX_WEIGHT), NAME_MIN_WEIGHT))
    if "万" in text or "億" in text:
        for match in _CJK_NUMBER.finditer(text):
            value = float(match.group(1)) * _CJK_MULTIPLIERS[match.group(2)]
            keep(_number_key(value), _number_weight(value, 10.0))


@lru_cache(maxsize=65536)
def _name_key(token: str, caseless: bool) -> str:
    latin = anyascii(token).lower()
    if caseless and latin.startswith("al") and len(latin) > 4:
        latin = latin[2:]  # the Arabic article
    return skeleton(latin)


def skeleton(latin: str) -> str:
    """A name's consonants after transliteration, with the letters that transliterations of
    one name disagree on merged: Zaluzhny, Zaluzhniy (from Ukrainian), Zaloyzni (from Greek),
    Zaluzny (from Polish), Saluschnyj (German) -> "slsn"."""
    s = re.sub(r"[^a-z]", "", latin)
    s = s.replace("mp", "b").replace("ph", "f").replace("ck", "k").replace("sch", "s")
    s = s.translate(_SKELETON)
    s = re.sub(r"[aeiouyhjw]", "", s)
    return re.sub(r"(.)\1+", r"\1", s)


_SKELETON = str.maketrans("zcqpdgx", "skkbtks")


def _number(token: str) -> float | None:
    """The value of a number token: "2,000", "2.000", "2 000" -> 2000; "10,3" -> 10.3."""
    t = token.replace("\u202f", "").replace("\u00a0", "")
    if re.fullmatch(r"\d{1,3}(?:([., ])\d{3})(?:\1\d{3})*", t):
        return float(re.sub(r"[., ]", "", t))
    t = t.replace(" ", "")
    if re.fullmatch(r"\d+[.,]\d+", t):
        return float(t.replace(",", "."))
    digits = re.sub(r"\D", "", t)
    return float(digits) if digits else None


def _number_key(value: float) -> str:
    if value >= 1e5:
        return f"#{value:.3g}"  # 10.3 million whatever the spelling; 3 significant digits
    if abs(value - round(value)) < 1e-9:
        return f"#{round(value)}"
    return f"#{value:.3g}"


def _number_weight(value: float, multiplier: float) -> float:
    if multiplier == 1.0 and 1900 <= value <= 2100:
        return 1.0  # a year: every article of the period has it
    return 2.0 if value < 100 else 4.0


def paragraphs(text: str) -> list[str]:
    """Paragraphs separated by blank lines, or by line breaks when the text has no blank
    lines (feeds of other tools)."""
    parts = text.split("\n\n") if "\n\n" in text else text.split("\n")
    return [p for p in parts if p.strip()]


_FINGERPRINT_TOKENS = re.compile(r"\w+")


def fingerprint(paragraph: str) -> tuple[int, int] | None:
    """(64-bit fingerprint, word count) of a paragraph, or None when it is too short to identify
    anything (a subheading of three words recurs by chance). Case, punctuation and spacing do
    not count, so a copy re-typeset by another site still matches."""
    found = _FINGERPRINT_TOKENS.findall(paragraph.casefold())
    if len(found) < 6:
        return None
    digest = hashlib.blake2b(" ".join(found).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big"), len(found)


def term_hash(term: str) -> int:
    """Stable 32-bit hash of a term for MinHash (persisted with the index: see
    `pipelines.group.options.HASH_SCHEME`)."""
    return zlib.crc32(term.encode("utf-8"))
