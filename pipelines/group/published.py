"""Publication times as grouping compares them: a light module (no word lists, no MinHash), so
that what only orders and summarises groups imports nothing heavy."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from crawler.state import parse_published

# a date in a URL: /2024/03/21/, /2024-03-21, 20240321 (not part of a longer number)
_URL_DATE = re.compile(r"(?<!\d)(20\d\d)[/-]?(0[1-9]|1[0-2])[/-]?(0[1-9]|[12]\d|3[01])(?!\d)")


@dataclass(frozen=True)
class PublishedAt:
    """A publication time for ordering and time windows: a timestamp, or a day whose time is
    unknown (ISO 8601 date), or nothing."""

    at: datetime | None
    date_only: bool = False

    @classmethod
    def parse(cls, value: Any) -> PublishedAt:
        at, date_only = parse_published(value)
        if at is not None and date_only:
            at += timedelta(hours=12)  # the middle of the day, +/- 12 h of slack
        return cls(at, date_only)

    @classmethod
    def of(cls, record: Any) -> PublishedAt:
        """The record's `published`, else a date its URL carries (many outlets put the day in
        the path): feeds of other tools often have no publication time."""
        found = cls.parse(record.get("published"))
        if found.at is None:
            match = _URL_DATE.search(str(record.get("url") or ""))
            if match:
                found = cls.parse("-".join(match.groups()))
        return found

    def sort_key(self) -> tuple[int, float]:
        if self.at is None:
            return (1, 0.0)
        # a day without a time sorts after the timed versions of that day
        return (0, self.at.timestamp() + (43_200 if self.date_only else 0))

    def hours_apart(self, other: PublishedAt) -> float | None:
        if self.at is None or other.at is None:
            return None
        slack = 12 * (self.date_only + other.date_only)
        return max(0.0, abs((self.at - other.at).total_seconds()) / 3600 - slack)
