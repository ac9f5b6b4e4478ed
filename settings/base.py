"""Base settings: everything the project needs, offline mode on.

`scrapy.cfg` points here by default. `settings.live` builds on it for crawling the real sites
(`SCRAPY_PROJECT=live scrapy crawl all`). Project keys are prefixed NEWS_.
"""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

BOT_NAME = "syndication_crawler"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"
COMMANDS_MODULE = "crawler.commands"

# --- offline mode ----------------------------------------------------------------------------
# On: http(s) responses come from the saved pages listed in the manifest (crawler.offline).
NEWS_OFFLINE = True
NEWS_FIXTURES_MANIFEST = str(PROJECT_ROOT / "fixtures" / "manifest.json")
ADDONS = {"crawler.offline.OfflineAddon": 0, "crawler.addons.IdentityAddon": 10}
# Offline from a WARC instead of the fixtures: a .warc(.gz) file or a folder of them, recorded by
# an earlier crawl with NEWS_WARC_DIR set.
NEWS_REPLAY_WARC = None

# --- identity and politeness (profiles tighten these for live crawls) -------------------------
# The user agent is "syndication-crawler/0.1 (+NEWS_CONTACT_URL)" (crawler.addons.IdentityAddon):
# set NEWS_CONTACT_URL to a page that says who runs the crawl and how to reach you.
NEWS_CONTACT_URL = "https://example.org/syndication-crawler"
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 4
DOWNLOAD_TIMEOUT = 30
NEWS_EXTRACT_MAX_BYTES = 16 * 1024 * 1024  # per download and per saved file (also unzipped)
DOWNLOAD_MAXSIZE = NEWS_EXTRACT_MAX_BYTES
DOWNLOAD_WARNSIZE = 4 * 1024 * 1024  # Scrapy's warning is DEBUG: the page's fate is reported
# Keep a response cut short in transfer and flag it "dataloss": the extraction pipeline then
# skips it as truncated with one clear line, instead of the download failing with retries.
DOWNLOAD_FAIL_ON_DATALOSS = False
RETRY_TIMES = 2
NEWS_RETRY_BACKOFF = 0.0  # seconds before the first retry, doubled at each (live: 1.0)
NEWS_RETRY_AFTER_MAX = 60.0  # longest Retry-After honoured; a longer one gives the page up
NEWS_ALLOW_LOOPBACK = False  # tests only: let requests reach 127.0.0.1
# Every connection's address is checked when it is resolved (crawler.resolver): only public
# addresses, and the proxies the environment names. A host that does not resolve here is not
# requested, unless it goes through a proxy and this says the proxy resolves names.
TWISTED_DNS_RESOLVER = "crawler.resolver.PublicAddressResolver"
NEWS_PROXY_RESOLVES = False
NEWS_DNS_SERVERS: list[str] = []  # e.g. ["10.0.0.2:53"]: ask these, not the system's resolver
# Verify every TLS certificate and host name against the system's CA store (OpenSSL's default
# paths; SSL_CERT_FILE names another bundle): a failure is `tls_invalid`. Turning it off is
# named in the run summary of any crawl that uses the network.
DOWNLOAD_VERIFY_CERTIFICATES = True
NEWS_MAX_AGE_DAYS = None  # e.g. 7: only articles published in the last 7 days
NEWS_NOW = None  # the time NEWS_MAX_AGE_DAYS counts back from (ISO 8601); None: now

DOWNLOADER_MIDDLEWARES = {
    # before RobotsTxtMiddleware (100), so robots.txt requests are checked too
    "crawler.live.PrivateAddressMiddleware": 60,
    # after OffsiteMiddleware: only the outlets' own requests count against their limits
    "crawler.live.PageLimitMiddleware": 70,
    "crawler.live.CanonicalMiddleware": 75,
    # above RedirectMiddleware (600): sees a redirect before it is followed
    "crawler.live.RedirectGuardMiddleware": 610,
    # Scrapy's retries, with backoff and Retry-After
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.live.BackoffRetryMiddleware": 550,
    # below HttpCompressionMiddleware (590): they see decompressed bodies
    "crawler.middlewares.CharsetMiddleware": 580,
    "crawler.middlewares.ConditionalGetMiddleware": 570,
}
# A request that comes to nothing is logged once, by the spider's errback.
RETRY_GIVE_UP_LOG_LEVEL = "DEBUG"
ITEM_PIPELINES = {
    "pipelines.extraction.ExtractionPipeline": 100,
    "pipelines.state.StatePipeline": 300,
    "pipelines.grouping.GroupingPipeline": 500,
}
EXTENSIONS = {
    "crawler.extensions.StateExtension": 100,
    "crawler.warc.WarcRecorder": 200,  # on when NEWS_WARC_DIR is set
    "crawler.extensions.RunSummary": 500,
}
NEWS_WARC_DIR = None  # e.g. "warc": record every response received to <dir>/<run>.warc.gz
LOG_FORMATTER = "crawler.logformatter.NewsLogFormatter"
LOG_LEVEL = "INFO"

# --- extraction --------------------------------------------------------------------------------
NEWS_MIN_WORDS = 40  # fewer words of body text: not an article
NEWS_EXTRACT_MAX_CHARS = 5_000_000  # larger pages are skipped, not parsed
NEWS_EXTRACT_TIMEOUT = 20.0  # seconds per page; the worker is killed past it
NEWS_EXTRACT_MEMORY_MB = 1536  # address-space limit of each extraction worker
NEWS_EXTRACT_WORKERS = 2
NEWS_SUMMARY_ENABLED = True
NEWS_STATS_FILE = None  # e.g. out/stats.json: the run's stats as JSON

# --- grouping (docs/grouping.md) ----------------------------------------------------------------
NEWS_GROUP_NUM_PERM = 128  # MinHash permutations; stored in out/grouping.json with the seed
NEWS_GROUP_SEED = 1
NEWS_GROUP_LSH_BANDS = 42  # candidates: MinHashLSH with 42 bands of 3 rows (p = 0.68 at J = 0.3)
NEWS_GROUP_LSH_ROWS = 3
# processes that describe articles ahead of the one that indexes them, for scrapy dedup and a
# crawl's grouping (from 2,000 articles; fewer are grouped in one process). 1: none.
NEWS_GROUP_WORKERS = 2
NEWS_GROUP_DUPLICATE_CONTAINMENT = 0.8  # share of the shorter text in verbatim paragraphs
# Whether a candidate is a version of the same report: a verifier learned from labelled pairs
# (python -m eval.train), its coefficients and thresholds in a JSON file; None: the packaged one
# (pipelines/group/verifier.json).
NEWS_GROUP_VERIFIER = None

# --- state (crawler/state.py) --------------------------------------------------------------------
NEWS_STATE_DIR = "state"  # the SQLite database and the run lock
NEWS_STATE_RESET = False  # True: forget everything and start from empty state
NEWS_STATE_INDEX_DAYS = 14.0  # grouping index kept in memory: versions of the last N days
NEWS_STATE_FLUSH_EVERY = 100  # fetch records and retry-list changes written in batches of N
# The retry list: a page that failed for a passing reason (HTTP 5xx, timeout, reset, truncated)
# or that a killed run had not reached is requested again by later runs, after a backoff of N
# seconds doubled at each failed run, and given up after NEWS_RETRY_LIST_RUNS failed runs.
NEWS_RETRY_LIST_BACKOFF = 900.0
NEWS_RETRY_LIST_RUNS = 5
NEWS_FAULT_KILL_AT = None  # crash tests only: "articles:N", "grouped", "snapshot" or "delta"

# --- output ------------------------------------------------------------------------------------
# The snapshot (articles.jsonl, clusters.jsonl, grouping.json), replaced atomically at the end of
# every run, and runs/<run id>/ with what the run added or changed. -o/-O additionally stream the
# run's new or changed articles as they are extracted (grouping fields null).
NEWS_OUTPUT_DIR = "out"
FEED_EXPORT_ENCODING = "utf-8"
