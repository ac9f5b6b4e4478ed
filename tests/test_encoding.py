"""Pages that declare no charset."""

from __future__ import annotations

from scrapy.http import HtmlResponse
from scrapy.utils.project import get_project_settings
from scrapy.utils.test import get_crawler

from crawler.encoding import choose_encoding, decode_html, guess_encoding
from crawler.middlewares import CharsetMiddleware
from crawler.spiders.outlets import SPIDERS
from tests.conftest import fixture_response

CATEGORY = "https://news-aggregator.example/category/world/"
ARTICLE = (
    "https://news-aggregator.example/2024/10/29/north-korean-troops-enter-combat-intercepted-calls/"
)


def middleware() -> CharsetMiddleware:
    crawler = get_crawler(SPIDERS["all"], settings_dict=get_project_settings().copy_to_dict())
    return CharsetMiddleware.from_crawler(crawler)


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


def test_a_wrong_declaration_gives_way_to_what_the_bytes_are() -> None:
    cyrillic = "<p>Рубрика: Світ. Головна сторінка новин.</p>".encode("cp1251")
    # a windows-1251 page behind a server-wide charset=utf-8
    encoding, how = choose_encoding(cyrillic, "text/html; charset=utf-8", "windows-1251")
    assert (encoding, how) == ("windows-1251", "declared utf-8 but is not UTF-8; outlet default")
    # UTF-8 under an old template's <meta charset=windows-1251>
    utf8 = '<meta charset="windows-1251"><p>Світ — новини</p>'.encode()
    assert choose_encoding(utf8) == ("utf-8", "declared cp1251 but is valid UTF-8")
    assert decode_html(utf8)[0].endswith("<p>Світ — новини</p>")


def test_a_right_declaration_is_kept() -> None:
    # a UTF-8 page with one stray byte is still UTF-8
    stray = "<p>Світ — новини, Київ</p>".encode() + b"\xff"
    assert choose_encoding(stray, "text/html; charset=utf-8") == ("utf-8", "declared")
    # real windows-1251 text is not valid UTF-8, so its declaration holds
    cp1251 = "<p>Світ</p>".encode("cp1251")
    assert choose_encoding(cp1251, "text/html; charset=windows-1251")[1] == "declared"
    assert choose_encoding(b"<p>plain ASCII</p>", "text/html; charset=latin-1")[1] == "declared"


def test_middleware_redecodes_a_page_with_a_wrong_charset() -> None:
    response = fixture_response(ARTICLE)
    wrong = HtmlResponse(
        url=ARTICLE, body=response.body, headers={"Content-Type": "text/html; charset=utf-8"}
    )
    assert "\ufffd" in wrong.text  # what Scrapy alone would export
    mw = middleware()
    fixed = mw.process_response(wrong.request, wrong)
    assert fixed.encoding == "windows-1251" and "Головна" in fixed.text
    assert mw.stats.get_value("news/charset/wrong") == 1
