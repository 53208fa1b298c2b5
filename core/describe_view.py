"""What /describe and Remix show: the tags message with its "Imagine with these tags" button, and
the two forms (modals) a member edits before anything is queued.

The button is a dynamic item that carries only the suggested aspect: the prompt is read back from
the message's code block when it is clicked, so the button works after a restart and its custom
id stays under Discord's 100 characters. A click becomes a ``describe_imagine`` event that
cogs.describe handles (core never calls up into the cogs).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import discord

from core import funnel
from core.errors import InvalidOption
from core.i18n import render
from core.text import t
from prompt.describe import Described, prompt_tag
from prompt.options import (
    DEFAULT_STRENGTH,
    MAX_STRENGTH,
    MIN_STRENGTH,
)
from prompt.presets import Resolution

if TYPE_CHECKING:
    from moderation.tagger import ImageTags

MESSAGE_LIMIT = 2000
TOP_SHOWN = 8
# A modal text input holds at most 4000 characters (Discord's limit).
MODAL_TEXT_LIMIT = 4000
FORM_TIMEOUT_S = 15 * 60
_BLOCK = re.compile(r"```(?:\n)?(.*?)(?:\n)?```", re.DOTALL)


def _fit_prompt(prompt: str, room: int) -> str:
    """Cut a very long tag list at a comma (the least confident tags are last)."""
    if len(prompt) <= room:
        return prompt
    return prompt[:room].rsplit(",", 1)[0]


def describe_text(described: Described, tags: ImageTags, resolution: Resolution, locale: object = "en-US") -> str:
    """The tags message, in the member's language: rating, the prompt in a copyable code block
    (tags as the model knows them), the top confidences."""
    rating = tags.rating
    top = " · ".join(f"`{prompt_tag(name)}` {confidence:.0%}" for name, confidence in described.top(TOP_SHOWN))
    head = render(
        t(
            "🏷️ **Tags for this image** · rating **{rating}** ({score}) · closest size {size}",
            rating=rating.label,
            score=f"{tags.scores.score(rating):.0%}",
            size=resolution.key,
        ),
        locale,
    )
    tail = render(
        t("Most confident: {tags}", tags=top) if top else t("No tag reached the confidence threshold."), locale
    )
    room = MESSAGE_LIMIT - len(head) - len(tail) - 12
    prompt = _fit_prompt(described.prompt, room) or "(no tags)"
    return f"{head}\n```\n{prompt}\n```\n{tail}"


def prompt_in(message: discord.Message | None) -> str:
    """The prompt of a tags message (its code block)."""
    found = _BLOCK.search(message.content) if message is not None else None
    if found is None or found.group(1).strip() in ("", "(no tags)"):
        return ""
    return found.group(1).strip()


class ImagineWithTags(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"describe:imagine:(?P<aspect>[0-9]{3,4}x[0-9]{3,4})",
):
    def __init__(self, aspect: str, locale: object = "en-US") -> None:
        super().__init__(
            discord.ui.Button(
                label=render(t("✨ Imagine with these tags"), locale),
                style=discord.ButtonStyle.primary,
                custom_id=f"describe:imagine:{aspect}",
            )
        )
        self.aspect = aspect

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ImagineWithTags:
        return cls(match["aspect"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        interaction.client.dispatch("describe_imagine", interaction, prompt_in(interaction.message), self.aspect)


def describe_view(aspect: str, locale: object = "en-US") -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(ImagineWithTags(aspect, locale))
    return view


@dataclass(frozen=True, slots=True)
class FormValues:
    """What the member submitted in one of the forms."""

    prompt: str
    aspect: str
    negative: str = ""
    strength: float = DEFAULT_STRENGTH


FormHandler = Callable[[discord.Interaction[Any], FormValues], Awaitable[None]]


def parse_strength(text: str) -> float:
    try:
        value = float(text.strip().replace(",", "."))
    except ValueError:
        value = -1.0
    if not MIN_STRENGTH <= value <= MAX_STRENGTH:
        raise InvalidOption(
            "strength",
            t(
                "Strength must be a number from {low} to {high} (how much of the picture is redrawn), "
                "e.g. {example}; got `{got}`.",
                low=f"{MIN_STRENGTH:g}",
                high=f"{MAX_STRENGTH:g}",
                example=f"{DEFAULT_STRENGTH:g}",
                got=text.strip()[:20],
            ),
        )
    return value


def _prompt_input(prompt: str, max_chars: int, locale: object) -> discord.ui.TextInput[Any]:
    limit = min(max_chars, MODAL_TEXT_LIMIT)
    return discord.ui.TextInput(
        label=render(t("Prompt (Danbooru tags)"), locale),
        style=discord.TextStyle.paragraph,
        default=prompt[:limit] or None,
        max_length=limit,
    )


def _aspect_input(aspect: str, locale: object) -> discord.ui.TextInput[Any]:
    return discord.ui.TextInput(label=render(t("Size (width x height)"), locale), default=aspect, max_length=16)


class _Form(discord.ui.Modal):
    """A form whose submit goes to a handler; errors go through the one funnel."""

    def __init__(self, *, title: str, handler: FormHandler) -> None:
        # An unanswered form is forgotten when the interaction's token dies.
        super().__init__(title=title, timeout=FORM_TIMEOUT_S)
        self._handler = handler

    # discord.py's Modal declares this signature itself (narrower than its BaseView's).
    async def on_error(self, interaction: discord.Interaction[Any], error: Exception, /) -> None:  # type: ignore[override]
        await funnel.report(interaction, error, f"the form {self.title!r}")


class ImagineForm(_Form):
    """ "Imagine with these tags": the described prompt, editable, and the aspect."""

    def __init__(
        self, prompt: str, aspect: str, *, max_chars: int, handler: FormHandler, locale: object = "en-US"
    ) -> None:
        super().__init__(title=render(t("Imagine with these tags"), locale), handler=handler)
        self.prompt = _prompt_input(prompt, max_chars, locale)
        self.aspect = _aspect_input(aspect, locale)
        self.add_item(self.prompt)
        self.add_item(self.aspect)

    async def on_submit(self, interaction: discord.Interaction[Any], /) -> None:
        await self._handler(interaction, FormValues(prompt=self.prompt.value, aspect=self.aspect.value.strip()))


class RemixForm(_Form):
    """Remix: the prompt (from the image's parameters or the tagger), negative, strength, size."""

    def __init__(
        self,
        prompt: str,
        negative: str,
        aspect: str,
        *,
        max_chars: int,
        handler: FormHandler,
        locale: object = "en-US",
    ) -> None:
        super().__init__(title=render(t("Remix this image"), locale), handler=handler)
        limit = min(max_chars, MODAL_TEXT_LIMIT)
        self.prompt = _prompt_input(prompt, max_chars, locale)
        self.negative: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label=render(t("Negative prompt"), locale),
            style=discord.TextStyle.paragraph,
            default=negative[:limit] or None,
            required=False,
            max_length=limit,
        )
        self.strength: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label=render(
                t("Strength ({low}-{high}: how much is redrawn)", low=f"{MIN_STRENGTH:g}", high=f"{MAX_STRENGTH:g}"),
                locale,
            ),
            default=f"{DEFAULT_STRENGTH:g}",
            max_length=8,
        )
        self.aspect = _aspect_input(aspect, locale)
        for item in (self.prompt, self.negative, self.strength, self.aspect):
            self.add_item(item)

    async def on_submit(self, interaction: discord.Interaction[Any], /) -> None:
        values = FormValues(
            prompt=self.prompt.value,
            aspect=self.aspect.value.strip(),
            negative=self.negative.value or "",
            strength=parse_strength(self.strength.value),
        )
        await self._handler(interaction, values)
