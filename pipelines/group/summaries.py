"""Cluster lines from grouped articles: a light module (no word lists, no MinHash), used by the
crawl's feeds on every run, whether anything was grouped or not."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from pipelines.group.published import PublishedAt


def cluster_summaries(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Cluster lines from grouped article rows (`url`, `outlet`, `title`, `published`,
    `cluster_id`, `relation`, `similarity`, `cited_source`): members by publication time, the
    source they name most, first and last publication, each outlet's lag behind the first.
    Sorted by first publication."""
    by_cluster: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        if row.get("cluster_id"):
            by_cluster.setdefault(row["cluster_id"], []).append(row)
    summaries = []
    for cluster_id, members in by_cluster.items():
        members.sort(
            key=lambda r: (
                PublishedAt.of(r).sort_key(),
                r.get("_order", 0),
                r.get("url") or "",
            )
        )
        summaries.append(_summary(cluster_id, members))
    summaries.sort(
        key=lambda s: (s["first_published"] is None, s["first_published"] or "", s["id"])
    )
    return summaries


def _summary(cluster_id: str, members: list[Mapping[str, Any]]) -> dict[str, Any]:
    original = members[0]
    first = PublishedAt.parse(original.get("published"))
    sources = Counter(m["cited_source"] for m in members if m.get("cited_source"))
    timed = [m for m in members if PublishedAt.parse(m.get("published")).at is not None]
    lags: dict[str, dict[str, Any]] = {}
    for m in timed:
        outlet = str(m.get("outlet") or "unknown")
        if outlet not in lags:
            lags[outlet] = {
                "outlet": outlet,
                "first_published": m.get("published"),
                **_lag(first, PublishedAt.parse(m.get("published"))),
            }
    return {
        "id": cluster_id,
        "original": _member(original),
        "cited_source": sources.most_common(1)[0][0] if sources else None,
        "size": len(members),
        "outlets": sorted({str(m.get("outlet") or "unknown") for m in members}),
        "first_published": original.get("published") if first.at else None,
        "last_published": timed[-1].get("published") if timed else None,
        "members": [_member(m) for m in members],
        "outlet_lags": list(lags.values()),
    }


def _member(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **{k: row.get(k) for k in ("outlet", "url", "title", "published")},
        "relation": row.get("relation"),
        "score": row.get("similarity"),
    }


def _lag(first: PublishedAt, when: PublishedAt) -> dict[str, Any]:
    """Lag behind the cluster's first version: in seconds when both times are known, in whole
    days when one of them is only a date."""
    if first.at is None or when.at is None:
        return {"lag_seconds": None, "lag_days": None}
    if first.date_only or when.date_only:
        days = (when.at.date() - first.at.date()).days
        return {"lag_seconds": None, "lag_days": max(days, 0)}
    seconds = max(int((when.at - first.at).total_seconds()), 0)
    return {"lag_seconds": seconds, "lag_days": seconds // 86_400}
