"""The Scrapy project: outlet registry, spiders, items, middlewares, extensions and commands."""
