"""Add-ons that shape settings after the command line has been read."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scrapy.settings import Settings

PROJECT_AGENT = "syndication-crawler/0.1"


class IdentityAddon:
    """The user agent names the project and NEWS_CONTACT_URL (so `-s NEWS_CONTACT_URL=...`
    is enough), unless USER_AGENT itself was set."""

    def update_settings(self, settings: Settings) -> None:
        if (settings.getpriority("USER_AGENT") or 0) > 0:  # set by the project or the user
            return
        contact = settings.get("NEWS_CONTACT_URL")
        agent = f"{PROJECT_AGENT} (+{contact})" if contact else PROJECT_AGENT
        settings.set("USER_AGENT", agent, priority="addon")
