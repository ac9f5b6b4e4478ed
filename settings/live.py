"""Live crawling of the real outlets: offline mode off, polite defaults on.

Use with `SCRAPY_PROJECT=live scrapy crawl all` (scrapy.cfg maps `live` to this module). Set
NEWS_CONTACT_URL (and so USER_AGENT) to a page that says who runs the crawl.
"""

from settings.base import *  # noqa: F403

NEWS_OFFLINE = False

AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 2.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
DOWNLOAD_DELAY = 1.0
CONCURRENT_REQUESTS_PER_DOMAIN = 2
