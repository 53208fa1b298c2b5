"""A member's /settings and how they combine with /imagine options: an option given in the
command wins, then the member's default, then the bot's. The channel's rating rules and the
content rules apply to the result either way (the gate runs after this)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from core.errors import InvalidOption
from core.text import Lines, lines, t
from prompt.options import ImagineOptions
from prompt.presets import QUALITY_PRESETS, RESOLUTIONS_BY_KEY, STYLE_PRESETS

MAX_EXTRA_NEGATIVE = 500


@dataclass(frozen=True, slots=True)
class UserDefaults:
    aspect: str | None = None
    quality: str | None = None
    style: str | None = None
    negative: str = ""  # extra negative tags, added after the command's own
    private: bool = False  # results only the member sees (ephemeral)

    def check(self) -> None:
        if self.aspect is not None and self.aspect not in RESOLUTIONS_BY_KEY:
            raise InvalidOption("aspect", t("Unknown aspect `{aspect}`.", aspect=self.aspect))
        if self.quality is not None and self.quality not in QUALITY_PRESETS:
            raise InvalidOption("quality", t("Unknown quality preset."))
        if self.style is not None and self.style not in STYLE_PRESETS:
            raise InvalidOption("style", t("Unknown style preset."))
        if len(self.negative) > MAX_EXTRA_NEGATIVE:
            limit, got = MAX_EXTRA_NEGATIVE, len(self.negative)
            raise InvalidOption(
                "negative", t("Extra negative tags are limited to {limit} characters; got {got}.", limit=limit, got=got)
            )

    def describe(self) -> str:
        return str(self.describe_text())

    def describe_text(self) -> Lines:
        """The member's defaults, one per line (preset names and tags as they are)."""
        default = t("bot default")
        return lines(
            # i18n: {value} is a size such as 832x1216, or "bot default".
            t("**Aspect:** {value}", value=self.aspect or default),
            t("**Quality preset:** {value}", value=self.quality or default),
            t("**Style preset:** {value}", value=self.style or default),
            t("**Extra negative tags:** {value}", value=self.negative or t("(none)")),
            t("**Private results:** {value}", value=t("yes (only you see them)") if self.private else t("no")),
        )


def apply_defaults(
    options: ImagineOptions,
    defaults: UserDefaults,
    *,
    aspect_given: bool,
    quality_given: bool,
    style_given: bool,
) -> ImagineOptions:
    """Fill what the command left out from the member's defaults; add their extra negative tags."""
    changes: dict[str, object] = {}
    if not aspect_given and defaults.aspect is not None:
        changes["aspect"] = defaults.aspect
    if not quality_given and defaults.quality is not None:
        changes["quality"] = defaults.quality
    if not style_given and defaults.style is not None:
        changes["style"] = defaults.style
    if defaults.negative:
        changes["negative"] = ", ".join(part for part in (options.negative, defaults.negative) if part.strip())
    return dataclasses.replace(options, **changes)  # type: ignore[arg-type]
