"""Are two articles versions of one report? A probability from a few similarities, learned.

`pair_features` compares two `Description`s in a way that works within a language and across
languages: content-term similarity counts between versions in one language; anchors (numbers,
names) count in any; the sources they cite and name, and how far apart they were published,
count always. `Verifier` turns the features into a probability with logistic-regression
coefficients learned from labelled pairs (`python -m eval.train`), stored as data in
`verifier.json` beside this module with what they were trained on and how they scored, and
versioned with the term scheme (`pipelines.group.options.HASH_SCHEME`) they were learned with.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pipelines.group.options import HASH_SCHEME
from pipelines.group.published import PublishedAt

if TYPE_CHECKING:
    from pipelines.group.describe import Description

COEFFICIENTS = Path(__file__).with_name("verifier.json")
MAX_DAYS = 30.0

FEATURES = (
    "terms",  # weighted Jaccard of content terms, same language (else 0)
    "lead_terms",  # ... of title and lead
    "terms_across",  # content-term Jaccard of versions in two languages (names, cognates)
    "anchors",  # weighted Jaccard of anchors
    "anchor_overlap",  # shared anchor weight over the smaller version's
    "lead_anchors",  # weighted Jaccard of the leads' anchors
    "same_language",
    "days_apart",  # |publication difference| in days / 30, capped at 1; 0 when unknown
    "dated",  # 1 when both publication times are known
    "same_source",  # both attribute their report to the same source
    "other_source",  # both attribute it, to different sources
    "shared_mentions",  # Jaccard of the known sources they name
    "lead_anchors_in_body",  # the smaller share of one's lead anchors found in the other
    "lead_terms_in_body",  # ... of lead terms, same language
)


def conflict(a: Description, b: Description) -> bool:
    """Do the two versions attribute their reports to different origins? Each names a source
    the other's title and lead do not name: two reports, whatever their words share. (A
    version that cites the other's source in its lead -- Reuters writing up a Bloomberg scoop
    -- is no conflict.)"""
    if a.source is None or b.source is None or a.source.key == b.source.key:
        return False
    return a.source.name not in b.lead_mentions and b.source.name not in a.lead_mentions


def pair_features(
    a: Description, b: Description, when_a: PublishedAt, when_b: PublishedAt
) -> np.ndarray:
    # Each shared weight is summed once (the costly part); a term feature of two languages is
    # 0 without being computed.
    same = a.language == b.language
    terms = a.terms.jaccard(b.terms)
    hours = when_a.hours_apart(when_b)
    dated = float(hours is not None)
    days = min((hours or 0.0) / 24.0, MAX_DAYS) / MAX_DAYS
    both = a.source is not None and b.source is not None
    same_source = float(both and a.source.key == b.source.key)  # type: ignore[union-attr]
    other_source = float(both and not same_source)
    union = a.mentions | b.mentions
    shared = len(a.mentions & b.mentions) / len(union) if union else 0.0
    lead_anchors = min(a.lead_anchors.within(b.anchors), b.lead_anchors.within(a.anchors))
    anchors_common = a.anchors.common(b.anchors)
    if same:
        lead_terms = a.lead_terms.jaccard(b.lead_terms)
        lead_terms_in = min(a.lead_terms.within(b.terms), b.lead_terms.within(a.terms))
    else:
        lead_terms = lead_terms_in = 0.0
    return np.array(
        [
            terms if same else 0.0,
            lead_terms,
            0.0 if same else terms,
            a.anchors.jaccard(b.anchors, anchors_common),
            a.anchors.overlap(b.anchors, anchors_common),
            a.lead_anchors.jaccard(b.lead_anchors),
            float(same),
            days,
            dated,
            same_source,
            other_source,
            shared,
            lead_anchors,
            lead_terms_in,
        ]
    )


@dataclass(frozen=True)
class Verifier:
    """Logistic regression over `FEATURES`, with the decision rules learned with it:
    `threshold` to join a cluster through its closest member, `founder_threshold` that the
    cluster's founding version must reach too (no chaining through one bridging member), and
    `window_days` beyond which two dated versions are never one report. Versions whose
    sources conflict (`conflict`) are never one report either."""

    coefficients: tuple[float, ...]
    intercept: float
    threshold: float = 0.5
    founder_threshold: float = 0.25
    window_days: float = 7.0
    about: Mapping[str, Any] | None = None
    _weights: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # the coefficients as the array np.dot would make of them on every call
        object.__setattr__(self, "_weights", np.asarray(self.coefficients, dtype=np.float64))
        if len(self.coefficients) != len(FEATURES):
            raise ValueError(
                f"the verifier has {len(self.coefficients)} coefficients for"
                f" {len(FEATURES)} features"
            )

    @classmethod
    def load(cls, path: str | Path | None = None) -> Verifier:
        """From a coefficients file; without one, the packaged verifier.json (read as a
        package resource: a deployed egg is a zip file)."""
        if path is None:
            text = resources.files(__package__).joinpath(COEFFICIENTS.name).read_text("utf-8")
        else:
            text = Path(path).read_text("utf-8")
        data = json.loads(text)
        if list(data["features"]) != list(FEATURES):
            raise ValueError(f"{path or COEFFICIENTS} was trained on other features")
        if data.get("hash_scheme") != HASH_SCHEME:
            raise ValueError(
                f"{path or COEFFICIENTS} was trained with terms hashed as"
                f" {data.get('hash_scheme')!r}, not {HASH_SCHEME!r}: retrain it"
            )
        return cls(
            tuple(float(c) for c in data["coefficients"]),
            float(data["intercept"]),
            float(data["threshold"]),
            float(data["founder_threshold"]),
            float(data["window_days"]),
            data.get("about"),
        )

    def dump(self, about: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "features": list(FEATURES),
            "coefficients": [round(c, 6) for c in self.coefficients],
            "intercept": round(self.intercept, 6),
            "threshold": self.threshold,
            "founder_threshold": self.founder_threshold,
            "window_days": self.window_days,
            "hash_scheme": HASH_SCHEME,
            "about": dict(about),
        }

    def compatible(
        self, a: Description, b: Description, when_a: PublishedAt, when_b: PublishedAt
    ) -> bool:
        """May two versions be one report at all (time window, sources)?"""
        hours = when_a.hours_apart(when_b)
        if hours is not None and hours > self.window_days * 24:
            return False
        return not conflict(a, b)

    def probability(self, features: np.ndarray) -> float:
        z = self.intercept + float(np.dot(self._weights, features))
        return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))

    def parameters(self) -> dict[str, Any]:
        """What a stored grouping was decided with (out/grouping.json)."""
        return {
            "coefficients": list(self.coefficients),
            "intercept": self.intercept,
            "threshold": self.threshold,
            "founder_threshold": self.founder_threshold,
            "window_days": self.window_days,
        }
