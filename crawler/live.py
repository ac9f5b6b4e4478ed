"""Downloader middlewares for crawling real sites: politeness and defence.

- `BackoffRetryMiddleware` replaces Scrapy's RetryMiddleware: a retry waits — for the server's
  Retry-After when it sends one (capped by NEWS_RETRY_AFTER_MAX; a longer wait is not done, the
  page is given up), else for NEWS_RETRY_BACKOFF seconds doubled at each retry.
- `PrivateAddressMiddleware` refuses requests to addresses that are not public
  (`crawler.resolver.routable`: loopback, private, carrier-grade NAT, link- and site-local,
  reserved, multicast, and IPv6 forms of these) — an IP in the URL, or a host name that resolves
  to one — so that a redirect or a link cannot turn the crawler against the machine's own
  network. It fails closed: a host that does not resolve is not requested (`dns`), unless the
  request goes through a proxy and NEWS_PROXY_RESOLVES says the proxy resolves names. The
  connection itself is checked again by `crawler.resolver.PublicAddressResolver`, so a second
  DNS answer cannot lead elsewhere. NEWS_ALLOW_LOOPBACK lets tests reach 127.0.0.1.
- `PageLimitMiddleware` stops requesting an outlet's pages past its `max_pages` per run.
- `RedirectGuardMiddleware` ends, with a reason, a redirect that loops, leads to a private
  address or leaves the outlets' domains (Scrapy would drop these without a word).
- `CanonicalMiddleware` fetches one article once: a page whose canonical link names another URL
  of the same outlet marks that URL as fetched, and the outlet's `url_rewrites` (data) turn AMP
  and similar variants into the article's URL before any request.

Every request they end raises `crawler.failures.Skip` with a reason; the spider's errback logs
it once and counts it (`crawler.spiders.base`).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit
from urllib.request import getproxies, proxy_bypass

from scrapy.downloadermiddlewares.retry import RetryMiddleware, get_retry_request
from scrapy.exceptions import NotConfigured
from scrapy.http import HtmlResponse
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached

from crawler import outlets, resolver
from crawler.extensions import outlet_stat
from crawler.failures import Skip, tls_failure
from crawler.urls import canonical_link, clean_url

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)


class BackoffRetryMiddleware(RetryMiddleware):
    def __init__(self, crawler: Crawler):
        super().__init__(crawler.settings)
        self.crawler = crawler
        self.backoff = crawler.settings.getfloat("NEWS_RETRY_BACKOFF")
        self.retry_after_max = crawler.settings.getfloat("NEWS_RETRY_AFTER_MAX")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BackoffRetryMiddleware:
        if not crawler.settings.getbool("RETRY_ENABLED"):
            raise NotConfigured
        return cls(crawler)

    async def process_response(self, request: Request, response: Response) -> Request | Response:  # type: ignore[override]
        if request.meta.get("dont_retry") or response.status not in self.retry_http_codes:
            return response
        wait = retry_after(response)
        if wait is not None and wait > self.retry_after_max:
            raise Skip(
                "retry_after_too_long",
                f"HTTP {response.status}, Retry-After {wait:g} s is longer than"
                f" NEWS_RETRY_AFTER_MAX ({self.retry_after_max:g} s): not retried",
                error=True,
                transient=True,
            )
        retry = self._retry_request(request, f"HTTP {response.status}")
        if retry is None:
            return response  # out of retries: HttpErrorMiddleware and the errback report it
        await self._wait(request, wait)
        return retry

    async def process_exception(  # type: ignore[override]
        self, request: Request, exception: Exception
    ) -> Request | None:
        if request.meta.get("dont_retry") or not isinstance(exception, self.exceptions_to_retry):
            return None
        if tls_failure(exception):
            return None  # the same certificate comes back: the errback reports it at once
        retry = self._retry_request(request, type(exception).__name__)
        if retry is None:
            return None  # the errback reports the exception
        await self._wait(request, None)
        return retry

    def _retry_request(self, request: Request, reason: str) -> Request | None:
        assert self.crawler.spider is not None
        retry = get_retry_request(
            request,
            spider=self.crawler.spider,
            reason=reason,
            max_retry_times=self.max_retry_times,
            priority_adjust=self.priority_adjust,
            logger=logger,
        )
        if retry is not None:
            self._count(request, "retries")
        return retry

    async def _wait(self, request: Request, wait: float | None) -> None:
        if wait is None:
            wait = self.backoff * 2 ** request.meta.get("retry_times", 0)
        if wait > 0:
            await asyncio.sleep(wait)

    def _count(self, request: Request, what: str) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(outlet_stat(request.url, what))


def retry_after(response: Response) -> float | None:
    """Seconds the server asks to wait (Retry-After: seconds or an HTTP date), or None."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    text = value.decode("latin-1").strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class PrivateAddressMiddleware:
    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.allow_loopback = crawler.settings.getbool("NEWS_ALLOW_LOOPBACK")
        self.proxy_resolves = crawler.settings.getbool("NEWS_PROXY_RESOLVES")
        self.offline = crawler.settings.getbool("NEWS_OFFLINE")  # no connection, no DNS query
        self.proxies = getproxies() if crawler.settings.getbool("HTTPPROXY_ENABLED") else {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PrivateAddressMiddleware:
        return cls(crawler)

    async def process_request(self, request: Request) -> None:
        host = urlparse_cached(request).hostname or ""
        ip = resolver.parse(host)
        if ip is None and self.offline:
            return
        if ip is None:
            try:
                ip = resolver.parse(await self._resolve(host))
            except resolver.NotPublicAddress as error:
                raise Skip("private_address", f"refused: {error}") from error
            except Exception as error:
                proxied = self._proxied(request)
                if proxied and self.proxy_resolves:
                    return  # the proxy resolves it, and its own policy applies
                hint = "; NEWS_PROXY_RESOLVES=True lets the proxy resolve it" if proxied else ""
                raise Skip(
                    "dns",
                    f"{host} does not resolve here ({type(error).__name__}): not requested{hint}",
                    logging.WARNING,
                    error=True,
                    transient=True,
                ) from error
        if ip is None or not resolver.allowed(ip, self.allow_loopback):
            raise Skip("private_address", f"refused: {host} is not a public address")

    def _proxied(self, request: Request) -> bool:
        """Whether the request goes through a proxy (as Scrapy's HttpProxyMiddleware decides)."""
        if request.meta.get("proxy"):
            return True
        url = urlparse_cached(request)
        return url.scheme in self.proxies and not proxy_bypass(url.hostname or "")

    async def _resolve(self, host: str) -> str:
        """The host's address, through the reactor's resolver (crawler.resolver: it refuses an
        answer that is not public, and caches unless NEWS_DNS_SERVERS is set)."""
        # imported here: importing the reactor at module level would install the default one
        # before Scrapy installs the asyncio reactor
        from twisted.internet import reactor

        # zope interface methods have no self, so mypy misreads the signature
        address: str = await maybe_deferred_to_future(reactor.resolve(host))  # type: ignore[arg-type]
        return address


class PageLimitMiddleware:
    def __init__(self, stats: StatsCollector):
        self.stats = stats
        self.counts: dict[str, int] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PageLimitMiddleware:
        assert crawler.stats is not None
        return cls(crawler.stats)

    def process_request(self, request: Request) -> None:
        outlet = outlets.for_url(request.url)
        if outlet is None or outlet.max_pages is None or request.url.endswith("/robots.txt"):
            return
        n = self.counts.get(outlet.name, 0) + 1
        self.counts[outlet.name] = n
        if n > outlet.max_pages:
            raise Skip("page_limit", f"{outlet.name} reached its limit of {outlet.max_pages} pages")


class CanonicalMiddleware:
    def __init__(self) -> None:
        self.fetched: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CanonicalMiddleware:
        return cls()

    def process_request(self, request: Request) -> None:
        if request.dont_filter:
            return
        url = clean_url(request.url)
        if url in self.fetched:
            raise Skip("same_article", "the article was fetched already under another URL")

    def process_response(self, request: Request, response: Response) -> Response:
        # a page cut short proves nothing: it is skipped, and its article must still be fetched
        if (
            isinstance(response, HtmlResponse)
            and response.status == 200
            and ("dataloss" not in response.flags)
        ):
            self.fetched.add(clean_url(response.url))
            canonical = canonical_link(response.body, response.url)
            if canonical:
                owner = outlets.for_url(response.url)
                if owner is not None and owner.owns(canonical):
                    self.fetched.add(clean_url(canonical))
        return response


class RedirectGuardMiddleware:
    """Sits above RedirectMiddleware (600), so it sees a 3xx response before it is followed,
    and ends the request there — with a reason the errback reports — when the redirect leads
    back into its own chain (a loop), to a private or loopback address, or outside the spider's
    domains. Scrapy would drop the last two at scheduling time without a word (its offsite check
    runs on the `request_scheduled` signal, where no errback is called), and the first through
    its duplicate filter."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.allow_loopback = crawler.settings.getbool("NEWS_ALLOW_LOOPBACK")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RedirectGuardMiddleware:
        return cls(crawler)

    def process_response(self, request: Request, response: Response) -> Response:
        location = response.headers.get("Location")
        if not (300 <= response.status < 400) or not location:
            return response
        try:
            target = urljoin(request.url, location.decode("latin-1").strip())
            host = (urlsplit(target).hostname or "").lower()
        except ValueError as error:
            message = f"redirect to a malformed URL {location!r}"
            raise Skip("malformed_redirect", message, error=True) from error
        chain = [*request.meta.get("redirect_urls", []), request.url]
        if target in chain:
            raise Skip(
                "redirect_loop", f"redirect loop: {' -> '.join([*chain, target])}", error=True
            )
        ip = resolver.parse(host)
        if ip is not None and not resolver.allowed(ip, self.allow_loopback):
            raise Skip("private_address", f"refused redirect to {target}: a private address")
        domains = getattr(self.crawler.spider, "allowed_domains", None) or []
        if domains and not any(host == d or host.endswith("." + d) for d in domains):
            raise Skip("offsite", f"refused redirect to {target}: outside the outlet's domains")
        return response
