"""Log formatting: a skipped page is one line naming the page and the reason.

Scrapy's default prints the whole dropped item, which for a `Page` is the page's HTML.
"""

from __future__ import annotations

import logging
from typing import Any

from itemadapter import ItemAdapter
from scrapy import logformatter


class NewsLogFormatter(logformatter.LogFormatter):
    def dropped(
        self, item: Any, exception: BaseException, response: Any, spider: Any
    ) -> logformatter.LogFormatterResult:
        url = ItemAdapter(item).get("url") if ItemAdapter.is_item(item) else None
        level = getattr(exception, "log_level", None) or "INFO"
        return {
            "level": getattr(logging, level) if isinstance(level, str) else level,
            "msg": "Skipped %(url)s: %(reason)s",
            "args": {"url": url or "an item", "reason": exception},
        }
