"""Extraction of each seed page against its golden file, plus the rules behind it."""

from __future__ import annotations

import json

import pytest
from trafilatura.utils import load_html

from crawler.outlets import Cleanup
from pipelines.extract.chrome import ChromeFilter
from pipelines.extract.core import Extractor, content_hash
from pipelines.extract.metadata import normalize_datetime, read_metadata
from tests.expected_pages import EXPECTED_DIR, as_golden, extract_seed
from tests.seeds import CHROME, SEEDS


@pytest.mark.parametrize("seed", sorted(SEEDS))
def test_seed_page_matches_golden_file(seed: str) -> None:
    expected = json.loads((EXPECTED_DIR / f"{seed}.json").read_text("utf-8"))
    assert as_golden(extract_seed(seed)) == expected


@pytest.mark.parametrize("seed", sorted(SEEDS))
def test_seed_page_fields(seed: str) -> None:
    article, want = extract_seed(seed), SEEDS[seed]
    paragraphs = article["text"].split("\n\n")
    assert article["url"] == want["url"]
    assert article["outlet"] == want["outlet"]
    assert article["title"] == want["title"]
    assert article["published"] == want["published"]
    assert article["language"] == "en"
    assert paragraphs[0].startswith(want["first"])
    assert paragraphs[-1].lstrip("- ").endswith(want["last"])
    assert article["content_hash"] == content_hash(article["text"])


@pytest.mark.parametrize("seed", sorted(SEEDS))
def test_no_chrome_reaches_the_text(seed: str) -> None:
    article = extract_seed(seed)
    leaked = [c for c in CHROME if c in article["text"]]
    assert leaked == []
    assert article["title"] not in article["text"].split("\n\n")


def test_authors_come_from_the_page() -> None:
    assert extract_seed("001")["authors"] == ["Kateryna Denisova"]
    assert extract_seed("000")["authors"] == []


# -- chrome rules ---------------------------------------------------------------------------------


def test_general_rules_drop_widget_labels_switchers_and_template_leaks() -> None:
    text = "\n".join(
        [
            "ua en ru",
            "The Title",
            "client/title.list_title",
            "First real paragraph of the story.",
            "Tags:",
            "* indicates required",
            "Subscribe",
            "Second real paragraph.",
            "Second real paragraph.",
            "Read also:",
        ]
    )
    assert ChromeFilter().paragraphs(text, title="The Title") == [
        "First real paragraph of the story.",
        "Second real paragraph.",
    ]


def test_outlet_rules_drop_and_cut() -> None:
    rules = ChromeFilter(Cleanup(drop=(r"Listen to this",), cut_at=(r"Expanded Coverage:?",)))
    text = "Listen to this\nBody one.\nBody two.\nExpanded Coverage:\nOther story headline"
    assert rules.paragraphs(text) == ["Body one.", "Body two."]


def test_rules_keep_sentences_that_merely_contain_chrome_words() -> None:
    text = "Readers can subscribe to alerts.\nTags: were added by the editor later that day."
    assert ChromeFilter().paragraphs(text) == text.split("\n")


def test_outlet_prune_selectors_remove_boxes_before_extraction() -> None:
    page = (
        "<html><body><article><p>"
        + "Body text of the article, long enough to count as one. " * 8
        + "</p><section class='membership-cta'><p>"
        + "Please give us money so that we can go on writing articles for you. " * 3
        + "</p></section></article></body></html>"
    )
    elsewhere = Extractor().extract(page, "https://unknown.example/story")
    kyiv = Extractor().extract(page, "https://kyivindependent.com/story/")  # prunes the box
    assert "give us money" in elsewhere.article["text"]
    assert "give us money" not in kyiv.article["text"]
    assert "Body text of the article" in kyiv.article["text"]


# -- metadata -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "iso"),
    [
        ("2024-10-23T13:05:00.000Z", "2024-10-23T13:05:00+00:00"),
        ("2024-10-23T17:49:00+03:00", "2024-10-23T17:49:00+03:00"),
        ("2024-10-23T17:49", "2024-10-23T17:49:00"),
        ("2024-10-23", "2024-10-23"),
        ("Wed, 23 Oct 2024 17:23:48 +0300", "2024-10-23T17:23:48+03:00"),
        ("yesterday", None),
        ("2024-13-45", None),
        ("", None),
    ],
)
def test_normalize_datetime(raw: str, iso: str | None) -> None:
    assert normalize_datetime(raw) == iso


def test_metadata_reads_jsonld_graph_and_page_type() -> None:
    page = """<html lang="en-GB"><head>
    <meta property="og:type" content="article">
    <script type="application/ld+json">{"@graph": [
      {"@type": "WebPage", "name": "x"},
      {"@type": ["NewsArticle"], "headline": "A &amp; B", "datePublished": "2024-01-02T03:04:05Z",
       "author": [{"@type": "Person", "name": "Ann Lee"},
                  {"@type": "Organization", "name": "Desk"}]}
    ]}</script>
    <script type="application/ld+json">{not json</script>
    </head><body></body></html>"""
    meta = read_metadata(load_html(page))
    assert meta.title == "A & B"
    assert meta.published == "2024-01-02T03:04:05+00:00"
    assert meta.authors == ["Ann Lee"]
    assert meta.language == "en"
    assert meta.is_article is True


def test_metadata_says_when_a_page_is_not_an_article() -> None:
    def is_article(head: str) -> bool | None:
        return read_metadata(load_html(f"<html><head>{head}</head><body></body></html>")).is_article

    ld = '<script type="application/ld+json">{"@type": %s}</script>'
    assert is_article('<meta property="og:type" content="website">') is False
    assert is_article(ld % '"CollectionPage"') is False
    assert is_article(ld % '["WebPage", "NewsArticle"]') is True
    # sitewide types sit on article pages too: they say nothing
    assert is_article(ld % '["Organization", "WebSite", "BreadcrumbList"]') is None
    assert is_article("<title>t</title>") is None


def test_canonical_on_another_site_does_not_replace_the_fetched_url() -> None:
    body = "<p>" + "A syndicated copy of a story, reprinted word for word. " * 10 + "</p>"
    page = f"""<html><head><link rel="canonical" href="https://kyivindependent.com/original/">
    </head><body><article>{body}</article></body></html>"""
    copy = Extractor().extract(page, "https://news-aggregator.example/2024/10/29/copy/")
    assert copy.article["url"] == "https://news-aggregator.example/2024/10/29/copy/"
    assert copy.article["outlet"] == "news_aggregator"
    saved = Extractor().extract(page, url=None)  # a saved file: the canonical link is all we have
    assert saved.article["url"] == "https://kyivindependent.com/original/"


def test_short_and_empty_pages_are_skipped_with_a_reason() -> None:
    assert Extractor().extract("   ").reason == "empty"
    short = Extractor().extract("<html><body><article><p>Too short.</p></article></body></html>")
    assert short.article is None
    assert short.reason in {"too_short", "no_text"}


def test_pages_in_scripts_without_spaces_are_long_enough() -> None:
    """A Japanese article (synthetic: written for this test) of about 200 characters counts as
    about 100 words, not as the dozen space-separated chunks it has."""
    from pipelines.extract.core import Extractor, count_words

    sentences = [
        "市の公園管理課は十三日、駅前の広場を来年春までに改修する計画を発表した。",
        "計画では、古くなった遊具を取り替え、木陰のある休憩所を三か所に増やす。",
        "工事は四月に始まり、期間中も広場の半分は通り抜けられるようにするという。",
        "担当者は「子どもからお年寄りまで使いやすい場所にしたい」と話している。",
        "市は来月、住民向けの説明会を二回開き、意見を計画に反映させる方針だ。",
    ]
    paragraphs = "".join(f"<p>{s}</p>" for s in sentences)
    html = (
        '<html lang="ja"><head><meta charset="utf-8"><title>駅前広場を改修へ</title></head>'
        f"<body><article><h1>駅前広場を改修へ</h1>{paragraphs}</article></body></html>"
    )
    outcome = Extractor().extract(html, "https://shimbun.example/2025/01/13/park", None)
    assert outcome.article is not None, outcome.detail
    assert outcome.article["word_count"] >= 40
    assert count_words("Plain English words here.") == 4


def test_og_type_website_alone_does_not_make_a_page_not_an_article() -> None:
    """Many CMSs declare og:type=website on every page. With a publication time, or an
    article-length body, the page is an article; a short undated one is still a listing."""
    body = "".join(
        f"<p>Paragraph {n} of a report on the harbour works, with its figures and its people"
        " quoted at length, as articles have them and listings do not.</p>"
        for n in range(20)
    )

    def page(head: str, paragraphs: str) -> str:
        return (
            '<html><head><meta property="og:type" content="website">'
            f"<title>Harbour works</title>{head}</head><body><article>{paragraphs}"
            "</article></body></html>"
        )

    extractor = Extractor()
    dated = page(
        '<meta property="article:published_time" content="2025-01-13T09:00:00Z">', body[:700]
    )
    assert extractor.extract(dated, "https://x.example/harbour", None).article is not None
    long = extractor.extract(page("", body), "https://x.example/harbour", None)
    assert long.article is not None and long.article["word_count"] >= 250
    short = extractor.extract(page("", body[:700]), "https://x.example/harbour", None)
    assert short.article is None and short.reason == "not_article"
    collection = page(
        '<script type="application/ld+json">{"@type": "CollectionPage"}</script>', body
    )
    assert extractor.extract(collection, "https://x.example/section", None).reason == "not_article"


def test_a_lone_surrogate_in_json_ld_does_not_break_the_output() -> None:
    import json as _json

    body = "".join(
        f"<p>Paragraph {i} of a plain report with enough words to count as one.</p>"
        for i in range(8)
    )
    html = (
        '<html><head><script type="application/ld+json">'
        '{"@type": "NewsArticle", "headline": "Broken \\ud800 headline", "author": "A \\udfff B"}'
        f"</script></head><body><article>{body}</article></body></html>"
    )
    article = Extractor().extract(html, None, None).article
    assert article is not None and article["title"] == "Broken \ufffd headline"
    _json.dumps(article, ensure_ascii=False).encode("utf-8")  # writable as UTF-8
