"""Add-ons that shape settings after the command line has been read."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scrapy.settings import Settings


class DefaultFeedAddon:
    """Export to NEWS_FEED unless the command line names feeds (-o/-O) or FEEDS is set.

    Scrapy merges project FEEDS into the command line's, so a project-level FEEDS would also be
    written by `scrapy crawl x -O elsewhere.jsonl`; a default applied only when no feed was asked
    for keeps `-O` meaning "write there instead".
    """

    def update_settings(self, settings: Settings) -> None:
        path = settings.get("NEWS_FEED")
        if not path or settings.getdict("FEEDS"):
            return
        feed = {
            "format": "jsonlines",
            "encoding": "utf-8",
            "overwrite": True,
            "item_classes": ["crawler.items.Article"],
        }
        settings.set("FEEDS", {path: feed}, priority="addon")
