"""The outlet registry: every outlet the crawler knows, as data.

One `Outlet` entry per outlet says where its pages are found (sitemaps, feeds, section pages),
which URLs are articles, and how to clean what trafilatura leaves of its page chrome. Spiders are
generated from this registry (see `crawler.spiders.outlets`), so adding an outlet is an entry here
plus its saved pages under `fixtures/` — no spider code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Cleanup:
    """Outlet-specific chrome removal, applied on top of the general rules in
    `pipelines.extract.chrome`.

    - `prune`: CSS selectors; matching elements are removed before trafilatura sees the page.
    - `drop`: regular expressions; a paragraph of the extracted text that matches one *entirely*
      (case-insensitive) is removed.
    - `cut_at`: regular expressions; the first paragraph that matches one entirely ends the
      article, and it and everything after it is removed (for tails such as "Expanded Coverage:").
    """

    prune: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()
    cut_at: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outlet:
    """One news outlet.

    `name` is also the spider name (`scrapy crawl <name>`). URL patterns are regular expressions
    searched in the cleaned URL (tracking parameters dropped, see `crawler.urls.clean_url`).
    """

    name: str
    title: str
    domains: tuple[str, ...]
    home: str
    sitemaps: tuple[str, ...] = ()  # robots.txt (its Sitemap: lines are followed) or sitemap URLs
    sitemap_follow: tuple[str, ...] = ()  # which sitemaps of a sitemap index to follow; () = all
    feeds: tuple[str, ...] = ()  # RSS or Atom
    listings: tuple[str, ...] = ()  # section, tag or home pages that link to articles
    article_patterns: tuple[str, ...] = ()
    exclude_patterns: tuple[str, ...] = ()
    pagination_patterns: tuple[str, ...] = ()  # links on a listing page to its further pages
    max_listing_pages: int = 5  # per listing start point, the start page included
    max_pages: int | None = 500  # requests to the outlet per run (robots.txt not counted)
    # (pattern, replacement) applied to discovered URLs before anything else: AMP and other
    # variants of an article's URL become the article's URL, so it is fetched once
    url_rewrites: tuple[tuple[str, str], ...] = ()
    delay: float | None = None  # seconds between requests to the outlet (live); None: default
    concurrency: int | None = None  # requests in parallel to the outlet (live); None: default
    cleanup: Cleanup = field(default_factory=Cleanup)
    # Charset assumed for a page that declares none (no HTTP charset, no <meta charset>, no BOM)
    # and is not valid UTF-8: what a browser configured for the outlet's audience would assume.
    default_encoding: str | None = None

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", self.name):
            raise ValueError(f"outlet name {self.name!r} must be a lowercase identifier")
        if not self.domains:
            raise ValueError(f"outlet {self.name!r} needs at least one domain")
        if not self.article_patterns:
            raise ValueError(f"outlet {self.name!r} needs at least one article pattern")

    @cached_property
    def _article_res(self) -> tuple[re.Pattern[str], ...]:
        return tuple(re.compile(p) for p in self.article_patterns)

    @cached_property
    def _exclude_res(self) -> tuple[re.Pattern[str], ...]:
        return tuple(re.compile(p) for p in self.exclude_patterns)

    @cached_property
    def _follow_res(self) -> tuple[re.Pattern[str], ...]:
        return tuple(re.compile(p) for p in self.sitemap_follow)

    @cached_property
    def _pagination_res(self) -> tuple[re.Pattern[str], ...]:
        return tuple(re.compile(p) for p in self.pagination_patterns)

    def owns(self, url: str) -> bool:
        host = (urlsplit(url).hostname or "").lower()
        return any(host == d or host.endswith("." + d) for d in self.domains)

    def is_article_url(self, url: str) -> bool:
        return (
            self.owns(url)
            and any(r.search(url) for r in self._article_res)
            and not any(r.search(url) for r in self._exclude_res)
        )

    def follows_sitemap(self, url: str) -> bool:
        return self.owns(url) and (
            not self._follow_res or any(r.search(url) for r in self._follow_res)
        )

    @cached_property
    def _rewrite_res(self) -> tuple[tuple[re.Pattern[str], str], ...]:
        return tuple((re.compile(p), r) for p, r in self.url_rewrites)

    def rewrite(self, url: str) -> str:
        for pattern, replacement in self._rewrite_res:
            url = pattern.sub(replacement, url)
        return url

    def is_pagination_url(self, url: str) -> bool:
        return self.owns(url) and any(r.search(url) for r in self._pagination_res)


# The aggregator of seed 004 is real but its domain is unknown; this placeholder is the only place
# that names it (fixtures are keyed by URL in fixtures/manifest.json).
AGGREGATOR_DOMAIN = "news-aggregator.example"

OUTLETS: tuple[Outlet, ...] = (
    Outlet(
        name="espreso_global",
        title="Espreso Global",
        domains=("global.espreso.tv",),
        home="https://global.espreso.tv/",
        sitemaps=("https://global.espreso.tv/robots.txt",),
        sitemap_follow=(r"/sitemap-news\.xml$",),
        feeds=("https://global.espreso.tv/rss",),
        listings=("https://global.espreso.tv/news",),
        # Articles are one slug under the root, and so are some sections.
        article_patterns=(r"^https://global\.espreso\.tv/[a-z0-9]+(?:-[a-z0-9]+){2,}$",),
        exclude_patterns=(r"^https://global\.espreso\.tv/(?:war-in-ukraine)$",),
        pagination_patterns=(r"^https://global\.espreso\.tv/news\?page=\d+$",),
    ),
    Outlet(
        name="kyiv_independent",
        title="The Kyiv Independent",
        domains=("kyivindependent.com",),
        home="https://kyivindependent.com/",
        sitemaps=("https://kyivindependent.com/robots.txt",),
        sitemap_follow=(r"/sitemap-(?:posts|pages)\.xml$",),
        feeds=("https://kyivindependent.com/rss/",),
        listings=("https://kyivindependent.com/tag/north-korea/",),
        # Ghost: posts and pages share the one-slug URL shape, so pages are told apart after
        # fetching (they are not NewsArticles) and counted as skipped.
        article_patterns=(r"^https://kyivindependent\.com/[a-z0-9]+(?:-[a-z0-9]+)*/$",),
        exclude_patterns=(
            r"^https://kyivindependent\.com/(?:tag|author|membership|news-feed|about-us|"
            r"privacy-policy|newsletters|search|gift-membership)/",
        ),
        pagination_patterns=(r"^https://kyivindependent\.com/tag/[a-z0-9-]+/page/\d+/$",),
        cleanup=Cleanup(
            # The membership appeal at the foot of every article is a <section> inside <article>.
            prune=("section.membership-cta",),
            drop=(r"This audio is created with AI assistance",),
        ),
    ),
    Outlet(
        name="rbc_ukraine",
        title="RBC-Ukraine (English edition)",
        domains=("newsukraine.rbc.ua",),
        home="https://newsukraine.rbc.ua/",
        sitemaps=("https://newsukraine.rbc.ua/robots.txt",),
        feeds=("https://newsukraine.rbc.ua/static/rss/newsukraine.rbc.ua.en.rss.xml",),
        listings=("https://newsukraine.rbc.ua/news",),
        article_patterns=(
            r"^https://newsukraine\.rbc\.ua/(?:news|analytics|articles)/[a-z0-9-]+-\d{9,}"
            r"\.html$",
        ),
        pagination_patterns=(r"^https://newsukraine\.rbc\.ua/news/page-\d+$",),
        # the AMP edition mirrors every article under /amp/
        url_rewrites=((r"^(https://newsukraine\.rbc\.ua)/amp/", r"\1/"),),
    ),
    Outlet(
        name="news_aggregator",
        title="News aggregator (seed 004; real domain unknown)",
        domains=(AGGREGATOR_DOMAIN,),
        home=f"https://{AGGREGATOR_DOMAIN}/",
        sitemaps=(f"https://{AGGREGATOR_DOMAIN}/robots.txt",),
        sitemap_follow=(r"/wp-sitemap-posts-post-\d+\.xml$",),
        feeds=(f"https://{AGGREGATOR_DOMAIN}/feed/atom/",),
        listings=(f"https://{AGGREGATOR_DOMAIN}/category/world/",),
        article_patterns=(
            rf"^https://{re.escape(AGGREGATOR_DOMAIN)}/\d{{4}}/\d{{2}}/\d{{2}}/[^/]+/$",
        ),
        pagination_patterns=(
            rf"^https://{re.escape(AGGREGATOR_DOMAIN)}/category/[a-z0-9-]+/page/\d+/$",
        ),
        # The "Expanded Coverage:" box is filled by script on the live site; once it holds links,
        # everything from its heading on is not the article.
        cleanup=Cleanup(cut_at=(r"Expanded Coverage:?",)),
        default_encoding="windows-1251",
    ),
)

_BY_NAME = {o.name: o for o in OUTLETS}


def get(name: str) -> Outlet:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown outlet {name!r}; known: {', '.join(_BY_NAME)}") from None


def name_for(url: str) -> str:
    """The name of the outlet that owns `url`, or "other": the key of per-outlet stats."""
    outlet = for_url(url)
    return outlet.name if outlet else "other"


def download_slots(outlets: tuple[Outlet, ...] = OUTLETS) -> dict[str, dict[str, float | int]]:
    """Scrapy's DOWNLOAD_SLOTS for the outlets that set their own `delay` or `concurrency`: one
    slot per domain."""
    slots: dict[str, dict[str, float | int]] = {}
    for outlet in outlets:
        slot: dict[str, float | int] = {}
        if outlet.delay is not None:
            slot["delay"] = outlet.delay
        if outlet.concurrency is not None:
            slot["concurrency"] = outlet.concurrency
        if slot:
            slots.update({domain: dict(slot) for domain in outlet.domains})
    return slots


def for_url(url: str, outlets: tuple[Outlet, ...] = OUTLETS) -> Outlet | None:
    """The outlet that owns `url`'s host, if any."""
    return next((o for o in outlets if o.owns(url)), None)
