"""Where a feed page's exploration slots go, and the page that merges them with the model's.

Last step of building a page: the model's ranked items and the bandit's explored items
become one list of (item_row, score, explore) in rank order.
"""

from collections.abc import Iterator


def explore_positions(count: int, share: float) -> list[int]:
    """0-based ranks of the exploration slots on a page of `count` items.

    There are round(count * share) slots, rounding halves up, but at least one when
    share > 0, and never rank 0: the first item is always the model's best guess. The slots
    close each of n equal stretches of the page, slot j (1-based) at ceil(j * count / n) - 1,
    so count 10, share 0.2 gives [4, 9] and count 10, share 0.5 gives [1, 3, 5, 7, 9].
    """
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"share must lie in [0, 1], got {share}")
    if count < 2 or share == 0.0:
        return []
    n_slots = min(max(int(count * share + 0.5), 1), count - 1)
    return [(j * count + n_slots - 1) // n_slots - 1 for j in range(1, n_slots + 1)]


def merge(
    model: list[tuple[int, float]],
    explore: list[tuple[int, float]],
    positions: list[int],
    count: int,
) -> list[tuple[int, float, bool]]:
    """Up to `count` (item_row, score, explore) with explored items at `positions`.

    Model items fill every other rank in their order, and an exploration slot left without
    an explored item; explored items fill the ranks the model runs out of. An item already
    on the page is skipped, so none appears twice.
    """
    slots = set(positions)
    model_left = iter(model)
    explore_left = iter(explore)
    page: list[tuple[int, float, bool]] = []
    placed: set[int] = set()
    for rank in range(count):
        first, second = (explore_left, model_left) if rank in slots else (model_left, explore_left)
        for source in (first, second):
            entry = _next_new(source, placed)
            if entry is not None:
                page.append((entry[0], entry[1], source is explore_left))
                placed.add(entry[0])
                break
        else:
            break  # both lists are used up
    return page


def _next_new(source: Iterator[tuple[int, float]], placed: set[int]) -> tuple[int, float] | None:
    """The source's next item not yet on the page, or None when it has none."""
    for entry in source:
        if entry[0] not in placed:
            return entry
    return None
