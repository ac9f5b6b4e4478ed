"""One spider per registry outlet, and `all` for every outlet at once, generated from the registry.

`scrapy list` shows them; `scrapy crawl <outlet>` crawls one outlet; `scrapy crawl all` (what
`make run` does) crawls all of them in one crawler, so they share one feed file and one stats
summary. Nothing here is outlet-specific: a new registry entry gets its spider automatically.
"""

from __future__ import annotations

from crawler.outlets import OUTLETS, Outlet
from crawler.spiders.base import OutletSpider


def _spider_class(name: str, members: tuple[Outlet, ...], doc: str) -> type[OutletSpider]:
    class_name = "".join(part.title() for part in name.split("_")) + "Spider"
    # __module__ must be this module for Scrapy's spider loader to list the class.
    return type(
        class_name,
        (OutletSpider,),
        {"name": name, "outlets": members, "__doc__": doc, "__module__": __name__},
    )


ALL_SPIDER = "all"
SPIDERS: dict[str, type[OutletSpider]] = {
    o.name: _spider_class(o.name, (o,), f"Crawls {o.title}.") for o in OUTLETS
}
SPIDERS[ALL_SPIDER] = _spider_class(ALL_SPIDER, OUTLETS, "Crawls every outlet in the registry.")
globals().update({cls.__name__: cls for cls in SPIDERS.values()})
