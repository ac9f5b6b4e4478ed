"""What the five seed pages must extract to, from ../shared/seeds/README.md and the seeds.

`first` starts the first real paragraph of the body, `last` ends the last one.
"""

SEEDS = {
    "000": {
        "url": "https://global.espreso.tv/wsj-russia-and-north-koreas-june-agreement-includes-plans-to-send-troops-to-ukraine",
        "outlet": "espreso_global",
        "title": "WSJ: Russia and North Korea's June agreement includes plans to send troops to Ukraine",
        "published": "2024-10-23T17:49:00+03:00",
        "first": "The agreement between Russia and North Korea, signed in June, included a secret provision",
        "last": "Later, it was also reported that North Korea sent not only infantrymen but also military aircraft pilots to Russia.",
    },
    "001": {
        "url": "https://kyivindependent.com/north-korean-troops-dispatch-was-secret-clause-of-moscow-pyongyang-pact-wsj-reports/",
        "outlet": "kyiv_independent",
        "title": "North Korean troops dispatch was secret clause of Moscow-Pyongyang pact, WSJ reports",
        "published": "2024-10-23T13:05:00+00:00",
        "first": "A strategic partnership agreement between Moscow and Pyongyang contained a secret clause",
        "last": "North Korea has denied the reports, while a Kremlin spokesperson gave an evasive answer on the issue.",
    },
    "002": {
        "url": "https://newsukraine.rbc.ua/news/russia-and-north-korea-have-secret-clause-1729693428.html",
        "outlet": "rbc_ukraine",
        "title": "Russia and North Korea have secret clause in their military cooperation agreement - WSJ",
        "published": "2024-10-23",
        "first": "Russia and North Korea had a secret clause in their joint agreement, which involved North Korea",
        "last": "At the same time, the head of Ukraine’s Military Intelligence, Kyrylo Budanov, stated that Russia might provide North Korea with technologies for tactical nuclear weapons in exchange for missiles and troops.",
    },
    "003": {
        "url": "https://global.espreso.tv/russia-deploys-over-7000-north-korean-troops-to-border-with-ukraine",
        "outlet": "espreso_global",
        "title": "Russia deploys over 7,000 North Korean troops to border with Ukraine",
        "published": "2024-11-02T11:37:00+02:00",
        "first": "In the last week of October, Russia deployed more than 7,000 North Korean army soldiers",
        "last": "During the Ukraine-Northern Europe summit, President Volodymyr Zelenskyy said that the Russian army is already using North Korean soldiers on the territory of Ukraine.",
    },
    "004": {
        "url": "https://news-aggregator.example/2024/10/29/north-korean-troops-enter-combat-intercepted-calls/",
        "outlet": "news_aggregator",
        "title": "North Korean troops enter combat as intercepted calls reveal integration into Russian units",
        "published": "2024-10-29",
        "first": "Ukrainian intelligence has reported that North Korean soldiers are now entering the battlefield",
        "last": "As diplomatic discussions continue in Washington and NATO headquarters, officials warn that the alliance between Russia and North Korea could further complicate the conflict and expand its geopolitical impact.",
    },
}

# Chrome that must never reach an article's text (the seeds README's list, plus one item of each
# timestamped or teaser list the seeds show).
CHROME = [
    "client/title.list_title",
    "Tags:",
    "Read also:",
    "More news",
    "MORE NEWS",
    "Become a member",
    "Gift membership",
    "Subscribe",
    "* indicates required",
    "Edit post",
    "This audio is created with AI assistance",
    "News Feed",
    "Editors' Picks",
    "ua en ru",
    "Expanded Coverage",
    "Skip to content",
    "Three years of reporting, funded by our readers",
    "visa masterCard americanExpress",
    "Russia helping North Korea with sanctions evasion",  # inline teaser (001)
    "How to hunt Ukrainian UAVs on live bait",  # timestamped "More news" list (000)
    "Oreshnik missile used by Russia",  # timestamped "More news" list (003)
    "Biden seeks to cancel over $4.5 billion",  # News Feed (001)
    "Successfuly subscribed",
    "Kristina Kormilitsyana/AFP via Getty Images",  # photo caption (001)
]
