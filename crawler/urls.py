"""URL cleaning shared by discovery and extraction.

One article must have one URL whether it was found in a feed (often with tracking parameters), a
sitemap or a listing page: `clean_url` drops tracking parameters and canonicalises the rest with
w3lib, so Scrapy's duplicate filter sees one request and the feed shows one `url`.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urljoin, urlsplit

from w3lib.url import canonicalize_url, url_query_cleaner

# Parameters that identify a campaign or a click, never the content.
_TRACKING = re.compile(
    r"^(?:utm_\w+|fbclid|gclid|dclid|gbraid|wbraid|msclkid|yclid|twclid|igshid|mc_cid|mc_eid"
    r"|_ga|_gl|_hsenc|_hsmi|mkt_tok|ocid|cmpid|ito|ns_\w+|at_\w+|ref_src|ref_url|smid|sr_share"
    r"|rss|amp_js_v|usqp|__twitter_impression)$",
    re.IGNORECASE,
)


def tracking_params(url: str) -> list[str]:
    query = urlsplit(url).query
    return sorted({k for k, _ in parse_qsl(query, keep_blank_values=True) if _TRACKING.match(k)})


def clean_url(url: str) -> str:
    """Canonical form of `url`: tracking parameters and fragment dropped, query sorted, host
    lowercased, percent-encoding normalised."""
    url = url.strip()
    drop = tracking_params(url)
    if drop:
        url = url_query_cleaner(url, drop, remove=True, keep_fragments=True)
    return canonicalize_url(url)


_CANONICAL = re.compile(
    rb"""<link[^>]{0,200}?rel=["']?canonical["']?[^>]{0,200}?href=["']?([^"' >]+)""", re.IGNORECASE
)


def canonical_link(body: bytes, base_url: str | None = None) -> str | None:
    """The page's <link rel=canonical> target, found in its first 256 KiB without parsing it
    (absolute when `base_url` is given), or None."""
    match = _CANONICAL.search(body[:262_144])
    if not match:
        return None
    href = match.group(1).decode("utf-8", "replace")
    try:
        return urljoin(base_url, href) if base_url else href
    except ValueError:
        return None
