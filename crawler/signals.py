"""The crawl's own signals: where each page discovered in a run got to.

The spider sends them; the state (`crawler.extensions.StateExtension`) keeps the retry list
from them, so that a page that failed for a passing reason, or that a killed run had not
reached, is requested again by the next run even when nothing links to it anew.

- `page_discovered(url, kind, outlet)`: a request the spider made from a sitemap, feed or
  listing (`kind`: article, sitemap, feed, listing:<page>);
- `page_done(url)`: the request came to an end that another try would not change (parsed,
  stored, unchanged, not an article, HTTP 404, robots.txt...);
- `page_failed(url, kind, outlet, reason)`: it failed for a reason that may pass (HTTP 5xx, a
  timeout, a reset, a truncated body);
- `page_parsed(response)`: a sitemap, feed or listing was read to its end, so what it links
  to is known; its fetch record may now be kept.
"""

page_discovered = object()
page_done = object()
page_failed = object()
page_parsed = object()
