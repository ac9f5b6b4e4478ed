"""Live crawling of the real outlets: offline mode off, polite defaults on.

Use with `SCRAPY_PROJECT=live scrapy crawl all` (scrapy.cfg maps `live` to this module). Set
NEWS_CONTACT_URL (it goes into the user agent) to a page that says who runs the crawl.
"""

from crawler.outlets import download_slots
from settings.base import *  # noqa: F403

NEWS_OFFLINE = False
NEWS_RETRY_BACKOFF = 1.0
# Per-outlet politeness from the registry (Outlet.delay, Outlet.concurrency)
DOWNLOAD_SLOTS = download_slots()

AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 2.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
DOWNLOAD_DELAY = 1.0
CONCURRENT_REQUESTS_PER_DOMAIN = 2
