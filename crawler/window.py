"""The date window of a crawl: only articles published in the last NEWS_MAX_AGE_DAYS days.

The spider applies it to what discovery says about a page before fetching it (a sitemap entry's
lastmod or news:publication_date, a feed item's date); the extraction pipeline applies it to the
date the article itself gives, for pages found on section pages, which carry no date. A value
that cannot be read as a date is let through: the window narrows a crawl, it does not guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings


@dataclass(frozen=True)
class DateWindow:
    oldest: datetime

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> DateWindow | None:
        """The window NEWS_MAX_AGE_DAYS sets, counted back from NEWS_NOW (default: now)."""
        days = settings.get("NEWS_MAX_AGE_DAYS")
        if days in (None, ""):
            return None
        now = settings.get("NEWS_NOW")
        reference = parse_date(now) if now else datetime.now(UTC)
        if reference is None:
            raise ValueError(f"NEWS_NOW={now!r} is not an ISO 8601 date")
        return cls(reference - timedelta(days=float(days)))

    def too_old(self, value: str | None) -> bool:
        when = parse_date(value) if value else None
        return when is not None and when < self.oldest


def parse_date(value: str) -> datetime | None:
    """An ISO 8601 or RFC 2822 date (as feeds write them), timezone-aware (UTC if none)."""
    text = value.strip()
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
