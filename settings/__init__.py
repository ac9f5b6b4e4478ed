"""Layered settings: `base` (offline, the default in scrapy.cfg), then profiles such as `live`."""
