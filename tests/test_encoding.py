"""Pages that declare no charset."""

from __future__ import annotations

from scrapy.utils.project import get_project_settings
from scrapy.utils.test import get_crawler

from crawler.encoding import decode_html, guess_encoding
from crawler.middlewares import UndeclaredCharsetMiddleware
from crawler.spiders.outlets import SPIDERS
from tests.conftest import fixture_response

CATEGORY = "https://news-aggregator.example/category/world/"
ARTICLE = (
    "https://news-aggregator.example/2024/10/29/north-korean-troops-enter-combat-intercepted-calls/"
)


def middleware() -> UndeclaredCharsetMiddleware:
    crawler = get_crawler(SPIDERS["all"], settings_dict=get_project_settings().copy_to_dict())
    return UndeclaredCharsetMiddleware.from_crawler(crawler)


def test_scrapy_alone_misreads_a_mostly_english_windows_1251_page() -> None:
    # Why the middleware exists: charset detection guesses a Latin charset for this page.
    assert "Головна" not in fixture_response(ARTICLE).text


def test_middleware_decodes_it_with_the_outlet_default() -> None:
    for url, words in [(ARTICLE, "Головна"), (CATEGORY, "Рубрика: <span>Світ</span>")]:
        response = fixture_response(url)
        fixed = middleware().process_response(response.request, response)
        assert words in fixed.text
        assert fixed.encoding == "windows-1251"


def test_declared_and_utf8_pages_are_left_alone() -> None:
    response = fixture_response("https://kyivindependent.com/tag/north-korea/")
    assert middleware().process_response(response.request, response) is response


def test_guessing_order() -> None:
    cyrillic = "Рубрика: Світ".encode("cp1251")
    assert guess_encoding("Світ".encode()) == ("utf-8", "valid UTF-8")
    assert guess_encoding(cyrillic, "windows-1251") == ("windows-1251", "outlet default")
    assert guess_encoding(cyrillic)[1] == "detected"


def test_decode_html_prefers_the_declaration_and_never_raises() -> None:
    declared = '<meta charset="koi8-r"><p>Мир</p>'.encode("koi8-r")
    assert decode_html(declared)[0].endswith("<p>Мир</p>")
    text, _, how = decode_html(b"<meta charset='no-such-charset'>\xff\xfe\x00junk")
    assert how != "declared" and isinstance(text, str)
