"""The scripted person: comedy first, then home repair / DIY, through one feed.

The person opens the feed and swipes every item of each page in order: an item of the
current intent is watched to the end and liked, anything else is swiped away after 0.8 s.
Each phase starts from one item of its intent that reached the person from outside the feed
(a link a friend shared), since a feed can only follow an intent it has seen once. The first
`pages_before` pages are comedy, the next `pages_after` DIY. Deterministic: the same bundle
and settings give the same pages.
"""

from dataclasses import dataclass

from fastapi.testclient import TestClient

DURATION_MS = 15_000
SKIP_WATCH_MS = 800


@dataclass(frozen=True, slots=True)
class ServedPage:
    number: int
    intent: str  # the person's intent while this page was served
    items: tuple[str, ...]
    sources: tuple[str, ...]


def swipe(client: TestClient, session_id: str, item_id: str, watched: bool) -> None:
    body = {
        "session_id": session_id,
        "item_id": item_id,
        "watch_ms": DURATION_MS if watched else SKIP_WATCH_MS,
        "duration_ms": DURATION_MS,
        "liked": watched,
    }
    client.post("/swipe", json=body).raise_for_status()


def tell_story(
    client: TestClient,
    session_id: str,
    phases: list[tuple[str, set[str], str, int]],  # (intent, its items, the linked item, pages)
    page_size: int,
) -> list[ServedPage]:
    pages: list[ServedPage] = []
    cursor: str | None = None
    for intent, matching, linked, n_pages in phases:
        swipe(client, session_id, linked, watched=True)
        for _ in range(n_pages):
            params: dict[str, str | int] = {"session_id": session_id, "count": page_size}
            if cursor is not None:
                params["cursor"] = cursor
            answer = client.get("/feed", params=params)
            answer.raise_for_status()
            body = answer.json()
            cursor = body["next_cursor"]
            items = tuple(item["item_id"] for item in body["items"])
            pages.append(
                ServedPage(len(pages), intent, items, tuple(i["source"] for i in body["items"]))
            )
            for item_id in items:
                swipe(client, session_id, item_id, watched=item_id in matching)
    return pages
