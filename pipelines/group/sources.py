"""The original source a news version cites: "The Wall Street Journal reported", "citing the
WSJ", "- WSJ" at the end of a title, "Reuters:" at its start.

Only the title and the first paragraphs are read, where attribution of the report lives; later
paragraphs cite background sources. Known outlets and agencies are recognised by their aliases
(data below); other names are taken from attribution phrases when they look like an organisation.
Two versions that name different sources are re-reports of different reports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

# canonical name -> aliases (lowercase, matched as whole words)
KNOWN_SOURCES: dict[str, tuple[str, ...]] = {
    "The Wall Street Journal": ("the wall street journal", "wall street journal", "wsj"),
    "Reuters": ("reuters",),
    "Associated Press": ("the associated press", "associated press"),
    "Agence France-Presse": ("agence france-presse", "agence france presse", "afp"),
    "Bloomberg": ("bloomberg", "bloomberg news"),
    "The New York Times": ("the new york times", "new york times", "nyt"),
    "The Washington Post": ("the washington post", "washington post"),
    "Financial Times": ("the financial times", "financial times"),
    "The Guardian": ("the guardian",),
    "The Economist": ("the economist",),
    "BBC": ("bbc", "bbc news"),
    "CNN": ("cnn",),
    "Politico": ("politico",),
    "Axios": ("axios",),
    "Der Spiegel": ("der spiegel", "spiegel"),
    "Le Monde": ("le monde",),
    "Kyiv Post": ("the kyiv post", "kyiv post"),
    "Ukrainska Pravda": ("ukrainska pravda",),
    "Ukrinform": ("ukrinform",),
    "Interfax-Ukraine": ("interfax-ukraine",),
    "Suspilne": ("suspilne",),
    "TASS": ("tass",),
    "RIA Novosti": ("ria novosti",),
    "Yonhap": ("yonhap", "yonhap news agency"),
    "Kyodo": ("kyodo", "kyodo news"),
    "Xinhua": ("xinhua",),
    "Defence Intelligence of Ukraine": (
        "defence intelligence of ukraine",
        "defense intelligence of ukraine",
        "ukraine's defense intelligence agency",
        "ukraine's defence intelligence agency",
        "ukraine's defence intelligence",
        "ukraine's defense intelligence",
        "ukrainian military intelligence",
        "hur",
    ),
}

_ALIASES = sorted(
    ((alias, name) for name, aliases in KNOWN_SOURCES.items() for alias in aliases),
    key=lambda pair: -len(pair[0]),
)
_KNOWN = re.compile(
    r"(?<![\w-])(" + "|".join(re.escape(a) for a, _ in _ALIASES) + r")(?![\w-])", re.IGNORECASE
)
_CANONICAL = {alias: name for alias, name in _ALIASES}

_WORD = r"[A-Z](?:[\w&'-]|\.(?=\w))*"  # "Reuters", "U.S", not "Authority." ending a sentence
_NAME = rf"((?:the\s+)?{_WORD}(?:\s+(?:of\s+|for\s+|and\s+)?{_WORD}){{0,5}})"
_ATTRIBUTION = [
    re.compile(rf"\b(?i:according to|citing|cited by|reported by|told)\s+{_NAME}"),
    re.compile(rf"{_NAME}\s+(?:reported|reports|informs|wrote|writes|revealed)\b"),
    re.compile(rf"{_NAME}\s+(?:said|says|announced|confirmed|stated)\b"),
]
_TITLE = [
    re.compile(rf"^{_NAME}:\s"),  # "WSJ: ..."
    re.compile(rf"\s[-–—|]\s{_NAME}$"),  # "... - WSJ"
    re.compile(rf",\s{_NAME}\s(?:reports|says|reported)$"),  # "..., WSJ reports"
]
_ORGANISATION = re.compile(
    r"\b(?:agency|news|times|post|journal|press|herald|tribune|gazette|telegraph|institute"
    r"|service|ministry|office|bureau|council|commission|authority|television|radio|tv"
    r"|union|alliance|guild|association|federation|police|court|government|department)\b",
    re.IGNORECASE,
)
_GENERIC_SUFFIX = re.compile(r"\s+(?:news agency|agency|news service|news|newspaper)$")


@dataclass(frozen=True)
class Source:
    name: str  # as it is shown: "The Wall Street Journal", "Meridian News Agency"
    key: str  # what two versions compare: "wall street journal", "meridian"

    def words(self) -> frozenset[str]:
        """Every word of the source's name and known aliases, lowercased: these say who is
        cited, not what is reported, and are left out of the text comparison."""
        return _name_words(self.name)


@lru_cache(maxsize=4096)
def _name_words(name: str) -> frozenset[str]:
    names = [name, *KNOWN_SOURCES.get(name, ())]
    return frozenset(w for n in names for w in re.findall(r"[\w']+", n.lower()))


def cited_source(title: str | None, paragraphs: list[str]) -> Source | None:
    """The source a version attributes its report to, or None."""
    title = (title or "").replace("’", "'")
    lead = " ".join(paragraphs).replace("’", "'")
    for text in (title, lead):
        known = _KNOWN.search(text)
        if known:
            return _source(_CANONICAL[known.group(1).lower()])
    for pattern in _TITLE:
        match = pattern.search(title)
        if match and _looks_like_organisation(match.group(1)):
            return _source(match.group(1))
    for pattern in _ATTRIBUTION:
        for match in pattern.finditer(lead):
            if _looks_like_organisation(match.group(1)):
                return _source(match.group(1))
    return None


def _looks_like_organisation(name: str) -> bool:
    words = name.split()
    return bool(_ORGANISATION.search(name)) and len(words) >= 2


def _source(name: str) -> Source:
    name = re.sub(r"^the\s+", "", " ".join(name.split()))  # "the Port Authority", not "The Times"
    key = re.sub(r"^the\s+", "", name.lower())
    key = _GENERIC_SUFFIX.sub("", key)
    return Source(name=name, key=key)
