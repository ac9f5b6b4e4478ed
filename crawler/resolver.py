"""Which addresses the crawler may connect to, checked on every connection it opens.

`PublicAddressResolver` is the reactor's resolver (TWISTED_DNS_RESOLVER): Scrapy's HTTP/1.1
handler resolves every host it connects to through it — an outlet's host, or a proxy given by
name — so the address checked here is the address the connection then goes to. A host that
resolves to an address that is not globally routable (`routable`) fails to resolve: nothing
connects, and the errback reports `private_address` (`refused` keeps the host and address for
that line). A check made earlier (PrivateAddressMiddleware) cannot be undone by a second answer
from the DNS (rebinding): each resolution is checked on its own.

Allowed anyway: loopback when NEWS_ALLOW_LOOPBACK (tests), and the hosts of the proxies the
environment names (http_proxy, https_proxy): the operator chose them. NEWS_DNS_SERVERS
("host:port" list) asks those DNS servers instead of the system's resolver, without a cache.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from urllib.request import getproxies

from scrapy.resolver import CachingThreadedResolver
from twisted.internet.error import DNSLookupError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from twisted.internet.base import ReactorBase
    from twisted.internet.defer import Deferred

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# host -> the address it resolved to and was refused, in this process (for the errback's line)
refused: dict[str, str] = {}

_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


def routable(ip: IPAddress) -> bool:
    """Whether `ip` is a public internet address: globally routable by IANA's registries, not
    multicast, and, for IPv6, not site-local (fec0::/10) and not a form that carries an IPv4
    address (IPv4-mapped, IPv4-compatible, 6to4, Teredo, NAT64) whose IPv4 address is not
    routable itself."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.is_site_local or (ip in _IPV4_COMPATIBLE and int(ip) > 1):
            return False
        embedded = [ip.ipv4_mapped, ip.sixtofour, *(ip.teredo or ())]
        if any(ip in network for network in _NAT64):
            embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        if any(v4 is not None and not routable(v4) for v4 in embedded):
            return False
    return ip.is_global and not ip.is_multicast


def allowed(ip: IPAddress, allow_loopback: bool) -> bool:
    """Whether the crawler may connect to `ip`: a public address, or loopback when allowed."""
    if allow_loopback:
        mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
        if ip.is_loopback or (mapped is not None and mapped.is_loopback):
            return True
    return routable(ip)


def parse(address: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return None


def proxy_hosts() -> frozenset[str]:
    """The hosts of the proxies the environment names: the operator's choice, always allowed."""
    hosts = set()
    for url in getproxies().values():
        try:
            host = urlsplit(url if "://" in url else f"http://{url}").hostname
        except ValueError:
            continue
        if host:
            hosts.add(host.lower())
    return frozenset(hosts)


class NotPublicAddress(DNSLookupError):
    """A host resolved to an address the crawler must not connect to."""

    def __str__(self) -> str:
        return str(self.args[0])


class PublicAddressResolver(CachingThreadedResolver):
    def __init__(
        self,
        reactor: ReactorBase,
        cache_size: int,
        timeout: float,
        allow_loopback: bool = False,
        dns_servers: Sequence[str] = (),
    ):
        super().__init__(reactor, cache_size, timeout)
        self.allow_loopback = allow_loopback
        self.trusted = proxy_hosts()
        self.names: Any = None
        if dns_servers:
            from twisted.names import client  # only when asked for

            servers = [(h, int(p)) for h, _, p in (s.rpartition(":") for s in dns_servers)]
            self.names = client.Resolver(servers=servers, reactor=reactor)

    @classmethod
    def from_crawler(cls, crawler: Any, reactor: ReactorBase) -> PublicAddressResolver:
        # `crawler` is the CrawlerProcess here (Scrapy builds the resolver before any crawler):
        # only its settings are read
        settings = crawler.settings
        cache = settings.getint("DNSCACHE_SIZE") if settings.getbool("DNSCACHE_ENABLED") else 0
        return cls(
            reactor,
            cache,
            settings.getfloat("DNS_TIMEOUT"),
            settings.getbool("NEWS_ALLOW_LOOPBACK"),
            settings.getlist("NEWS_DNS_SERVERS"),
        )

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> Deferred[str]:
        if self.names is not None:
            found = self.names.getHostByName(name, timeout=(max(1, int(self.timeout)),))
        else:
            found = super().getHostByName(name, timeout)
        found.addCallback(self._check, name)
        return found

    def _check(self, address: str, name: str) -> str:
        ip = parse(address)
        if name.lower() in self.trusted or (ip is not None and allowed(ip, self.allow_loopback)):
            refused.pop(name.lower(), None)
            return address
        refused[name.lower()] = address
        raise NotPublicAddress(f"{name} resolves to {address}, not a public address")
