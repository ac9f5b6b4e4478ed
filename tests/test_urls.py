from crawler.urls import clean_url, tracking_params


def test_tracking_parameters_are_dropped_and_the_rest_canonicalised() -> None:
    url = "https://NewsUkraine.rbc.ua/news/a-1729693428.html?utm_source=rss&b=2&a=1&fbclid=x#top"
    assert clean_url(url) == "https://newsukraine.rbc.ua/news/a-1729693428.html?a=1&b=2"


def test_content_parameters_stay() -> None:
    assert (
        clean_url("https://global.espreso.tv/news?page=2")
        == "https://global.espreso.tv/news?page=2"
    )
    assert tracking_params("https://x.example/?id=5&utm_medium=a&gclid=b") == [
        "gclid",
        "utm_medium",
    ]
