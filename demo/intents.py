"""An intent is a set of words and hashtags; an item matches it when its title holds one.

Whole words only, so that "craft" never matches "minecraft". The defaults are MicroLens's:
its titles are English translations with hashtags, and "home repair" is rare there, so DIY
is what people make, fix and build by hand.
"""

import re
from dataclasses import dataclass

COMEDY = ("comic", "comedy", "funny", "joke", "jokes", "laugh", "prank", "humor", "hilarious")
DIY = (
    "diy",
    "handmade",
    "handcraft",
    "renovation",
    "decoration",
    "carpenter",
    "carpentry",
    "woodworking",
    "welding",
    "furniture",
    "install",
    "installation",
    "homemade tool",
    "tools",
)


@dataclass(frozen=True, slots=True)
class Intent:
    name: str
    words: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.words:
            raise ValueError(f"intent {self.name!r} needs at least one word")

    def pattern(self) -> re.Pattern[str]:
        alternatives = "|".join(re.escape(word.lower()) for word in self.words)
        return re.compile(rf"(?<![a-z0-9])(?:{alternatives})(?![a-z0-9])")

    def items(self, titles: dict[str, str]) -> set[str]:
        """The items whose title matches, case-insensitively."""
        pattern = self.pattern()
        return {item for item, title in titles.items() if pattern.search(title.lower())}
