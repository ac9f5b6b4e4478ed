"""Project commands: `scrapy extract` and `scrapy dedup`."""
