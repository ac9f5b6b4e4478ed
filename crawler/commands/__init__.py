"""Project commands: `scrapy extract`, `scrapy dedup`, and `scrapy crawl` with an exit code
for schedulers."""
