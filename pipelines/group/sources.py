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

import ahocorasick
import regex

# canonical name -> aliases (lowercase, matched as whole words, in any language's text). A
# gazetteer of the agencies and outlets whose reports others re-report, with the spellings other
# scripts give them; data, to be extended.
KNOWN_SOURCES: dict[str, tuple[str, ...]] = {
    "The Wall Street Journal": (
        "the wall street journal",
        "wall street journal",
        "wsj",
        "уолл-стрит джорнэл",
        "уолл-стрит джорнал",
        "уолл стрит джорнал",
        "волл-стріт джорнел",
        "ウォール・ストリート・ジャーナル",
        "وول ستريت جورنال",
    ),
    "Reuters": ("reuters", "рейтер", "рейтерс", "ロイター", "رويترز", "路透社"),
    "Associated Press": (
        "the associated press",
        "associated press",
        "ассошиэйтед пресс",
        "ассошіейтед прес",
    ),
    "Agence France-Presse": (
        "agence france-presse",
        "agence france presse",
        "afp",
        "франс пресс",
        "франс-пресс",
    ),
    "Bloomberg": ("bloomberg", "bloomberg news", "блумберг", "ブルームバーグ", "بلومبرغ"),
    "The New York Times": (
        "the new york times",
        "new york times",
        "nyt",
        "нью-йорк таймс",
        "ニューヨーク・タイムズ",
        "نيويورك تايمز",
    ),
    "The Washington Post": ("the washington post", "washington post", "вашингтон пост"),
    "Los Angeles Times": ("los angeles times", "la times"),
    "Financial Times": ("the financial times", "financial times", "файнэншл таймс"),
    "The Guardian": ("the guardian",),
    "The Times": ("the times of london",),
    "The Telegraph": ("the daily telegraph", "the telegraph"),
    "The Economist": ("the economist", "экономист", "економіст"),
    "The Atlantic": ("the atlantic",),
    "The Information": ("the information",),
    "BBC": ("bbc", "bbc news", "би-би-си"),
    "CNN": ("cnn",),
    "CNBC": ("cnbc",),
    "ESPN": ("espn",),
    "NBC News": ("nbc news",),
    "CBS News": ("cbs news",),
    "ABC News": ("abc news",),
    "Fox News": ("fox news",),
    "Politico": ("politico",),
    "Axios": ("axios",),
    "Semafor": ("semafor",),
    "The Intercept": ("the intercept",),
    "Der Spiegel": ("der spiegel", "spiegel"),
    "Die Zeit": ("die zeit",),
    "Süddeutsche Zeitung": ("süddeutsche zeitung",),
    "Frankfurter Allgemeine Zeitung": ("frankfurter allgemeine", "faz"),
    "Bild": ("bild-zeitung",),
    "Correctiv": ("correctiv",),
    "Le Monde": ("le monde",),
    "Le Figaro": ("le figaro",),
    "Mediapart": ("mediapart",),
    "El País": ("el país", "el pais"),
    "Corriere della Sera": ("corriere della sera",),
    "La Repubblica": ("la repubblica",),
    "Mundo Deportivo": ("mundo deportivo",),
    "Kyiv Post": ("the kyiv post", "kyiv post"),
    "The Kyiv Independent": ("the kyiv independent", "kyiv independent"),
    "Ukrainska Pravda": ("ukrainska pravda", "українська правда"),
    "Ukrinform": ("ukrinform", "укрінформ"),
    "Interfax-Ukraine": ("interfax-ukraine", "інтерфакс-україна"),
    "Interfax": ("interfax", "интерфакс"),
    "Suspilne": ("suspilne",),
    "TASS": ("tass", "тасс"),
    "RIA Novosti": ("ria novosti", "риа новости"),
    "Meduza": ("meduza", "медуза"),
    "Nikkei": ("nikkei", "日経", "日本経済新聞"),
    "Kyodo": ("kyodo", "kyodo news", "共同通信"),
    "Jiji": ("jiji press", "時事通信"),
    "NHK": ("nhk",),
    "Yonhap": ("yonhap", "yonhap news agency", "연합뉴스"),
    "Xinhua": ("xinhua", "синьхуа", "新华社"),
    "South China Morning Post": ("south china morning post", "scmp"),
    "Al Jazeera": ("al jazeera", "الجزيرة"),
    "Times of India": ("the times of india", "times of india"),
    "Anadolu": ("anadolu agency", "anadolu"),
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
# aliases that are also ordinary words: matched only as written here
CASE_SENSITIVE_SOURCES: dict[str, tuple[str, ...]] = {
    "The Economist": ("Economist",),
    "SPORT": ("SPORT",),
    "ARD": ("ARD",),
    "dpa": ("dpa",),
    "EFE": ("EFE",),
    "ANSA": ("ANSA",),
    "Associated Press": ("AP",),
    "Bild": ("BILD",),
}

_ALIASES = sorted(
    ((alias, name) for name, aliases in KNOWN_SOURCES.items() for alias in aliases),
    key=lambda pair: -len(pair[0]),
)


def _alias_pattern(alias: str) -> str:
    """An alias as a whole word of its own script: "ESPN" is found in "米ESPNによると", not
    in "ESPNews"; CJK aliases need no boundary."""
    escaped = regex.escape(alias)
    if regex.match(r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}]", alias):
        return escaped
    return rf"(?<!{_LETTER}){escaped}(?!{_LETTER})"


_LETTER = r"[\p{Latin}\p{Cyrillic}\p{Greek}\p{Arabic}\d-]"


_PATTERNS = [
    (alias, name, regex.compile(_alias_pattern(alias), regex.I)) for alias, name in _ALIASES
]
_CASED_PATTERNS = [
    (alias, name, regex.compile(_alias_pattern(alias)))
    for name, aliases in CASE_SENSITIVE_SOURCES.items()
    for alias in aliases
]


# Every (lowercase) alias, for one pass that finds which of them occur anywhere in a text
_AUTOMATON = ahocorasick.Automaton()
for _alias, _, _ in _PATTERNS:
    _AUTOMATON.add_word(_alias, _alias)
_AUTOMATON.make_automaton()


def mentioned_sources(text: str) -> list[str]:
    """The known sources `text` names, in the order of their first mention. (The aliases
    that occur as substrings are found first, in one Aho-Corasick pass: one regular
    expression of all the aliases with script-aware boundaries is slow, and a substring test
    per alias was a tenth of the grouping time.)"""
    lowered = text.lower()
    present = {alias for _, alias in _AUTOMATON.iter(lowered)}
    found: list[tuple[int, str]] = []
    for alias, name, pattern in _PATTERNS:
        if alias in present:
            match = pattern.search(text)
            if match:
                found.append((match.start(), name))
    for alias, name, pattern in _CASED_PATTERNS:
        if alias in text:
            match = pattern.search(text)
            if match:
                found.append((match.start(), name))
    return list(dict.fromkeys(name for _, name in sorted(found)))


# an agency's dateline: "(Reuters) -", "(Jiji Press)--", "(AP) —", "(Kyodo)"
_DATELINE = re.compile(r"\((?:[A-Z][\w.]*\s?){1,3}(?:Press|News)?\)\s*(?:-{1,2}|—|–)?")

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
    names = [name, *KNOWN_SOURCES.get(name, ()), *CASE_SENSITIVE_SOURCES.get(name, ())]
    return frozenset(w for n in names for w in re.findall(r"[\w']+", n.lower()))


def cited_source(title: str | None, paragraphs: list[str]) -> Source | None:
    """The source a version attributes its report to, or None."""
    title = (title or "").replace("’", "'")
    lead = " ".join(paragraphs).replace("’", "'")
    # "Feb 27 (Reuters) - ..., Bloomberg News reported": the dateline names who distributes
    # the text; the report's source is the one the text then names, if any.
    dateline = _DATELINE.search(lead[:300])
    undated = lead[: dateline.start()] + lead[dateline.end() :] if dateline else lead
    for text in (title, undated):
        known = mentioned_sources(text)
        if known:
            return _source(known[0])
    if dateline:
        known = mentioned_sources(dateline.group(0))
        if known:
            return _source(known[0])
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
