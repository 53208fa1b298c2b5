"""The Components V2 layouts of a job's message: queued and progress status, the result, notices.

A message flagged IS_COMPONENTS_V2 (discord.py sets the flag when it sends a ``LayoutView``)
carries no ``content`` or ``embeds`` and can never lose the flag, so every message of a job is a
layout from its first edit on, and so is anything later shown on it (an error, "withheld").
Discord's limits for such a message: 40 components in all (nested ones count), 4,000
characters across its text displays, 10 items per media gallery; the texts here are cut to fit
the biggest result (4 images, every button) with room for a late result's link back.

The wording sits in the ``*_text`` functions, rendered in the member's locale (``reply.locale``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import discord

from core.i18n import render
from core.text import Message, lines, t
from jobs.model import GenerationResult
from prompt.request import GenerationRequest

log = logging.getLogger(__name__)

COMPONENT_LIMIT = 40
TEXT_LIMIT = 4000
GALLERY_LIMIT = 10
ROW_LIMIT = 5  # buttons per action row
PROMPT_LIMIT = 1800  # characters of the prompt's text display, markdown escapes included
NEGATIVE_LIMIT = 1000
HEADER_LIMIT = 500
ACCENT = discord.Colour.from_rgb(235, 120, 160)
PREVIEW_FILENAME = "preview.jpg"
# Discord answers a body it refuses with 50035 "Invalid Form Body": here, content on a V2 message.
INVALID_FORM_BODY = 50035


@dataclass(frozen=True)
class Picture:
    """One attached image as the gallery shows it."""

    filename: str
    spoiler: bool = False


def clip(text: str, limit: int) -> str:
    """``text`` with markdown escaped (tags such as ``long_hair`` would turn italic), at most
    ``limit`` characters; a longer one ends at a tag boundary with "…"."""
    escaped = discord.utils.escape_markdown(text)
    if len(escaped) <= limit:
        return escaped
    cut = text[: limit - 1]
    while len(discord.utils.escape_markdown(cut)) > limit - 1:
        cut = cut[: len(cut) - max(1, len(discord.utils.escape_markdown(cut)) - (limit - 1))]
    boundary = cut.rfind(", ")
    if boundary > len(cut) * 2 // 3:
        cut = cut[:boundary]
    return discord.utils.escape_markdown(cut.rstrip(", ")) + "…"


# ---- the texts (English templates, rendered in the member's locale) ---------------------------


def prompt_text(request: GenerationRequest, locale: object = "en-US") -> str:
    # The prompt itself stays as written: Danbooru tags are the model's words, not English.
    label, negative_label = render(t("Prompt"), locale), render(t("Negative prompt"), locale)
    text = f"**{label}**\n{clip(request.prompt, PROMPT_LIMIT)}"
    if request.negative:
        text += f"\n**{negative_label}**\n{clip(request.negative, NEGATIVE_LIMIT)}"
    return text


def settings_text(request: GenerationRequest, result: GenerationResult, locale: object = "en-US") -> str:
    """What the embed's fields and footer said, as two lines of small text."""
    seeds = ", ".join(map(str, request.seeds))
    width, height = request.output_size
    size = f"{width}x{height}"
    parts: list[Message] = [
        t("Seed {seeds}", seeds=seeds) if len(request.seeds) == 1 else t("Seeds {seeds}", seeds=seeds),
        t("Size {size} (upscaled ×1.5)", size=size) if request.hires else t("Size {size}", size=size),
        t("Steps {steps}", steps=request.steps),
        t("CFG {cfg}", cfg=f"{request.cfg:g}"),
        t("Sampler {sampler}", sampler=request.sampler),
    ]
    if request.variation_seed is not None:
        parts.append(
            t(
                "Variation seed {seed}, strength {strength}",
                seed=request.variation_seed,
                strength=f"{request.variation_strength:g}",
            )
        )
    parts.append(t("Time {seconds} s", seconds=f"{result.seconds:.1f}"))
    footer = t("Animagine XL 3.1 · quality preset: {quality}", quality=request.quality)
    return f"-# {render(lines(*parts, separator=' · '), locale)}\n-# {render(footer, locale)}"


def result_header_text(
    user_id: int, *, any_spoiler: bool, forced_private_note: str | None, locale: object = "en-US"
) -> str:
    text = f"<@{user_id}>"
    if any_spoiler:
        text += " " + render(t("⚠️ rated above this channel's limit by the output check; shown as a spoiler."), locale)
    if forced_private_note:
        text += f"\n{forced_private_note}"
    return text[:HEADER_LIMIT]


def late_link_text(link: str, locale: object = "en-US") -> str:
    return render(t("↩️ You asked here: {link}", link=link), locale)


# ---- layouts ------------------------------------------------------------------------------------


def gallery(pictures: Sequence[Picture]) -> discord.ui.MediaGallery[Any]:
    return discord.ui.MediaGallery(
        *(discord.MediaGalleryItem(f"attachment://{p.filename}", spoiler=p.spoiler) for p in pictures[:GALLERY_LIMIT])
    )


def _rows(buttons: Sequence[discord.ui.Item[Any]]) -> list[discord.ui.ActionRow[Any]]:
    return [discord.ui.ActionRow(*buttons[i : i + ROW_LIMIT]) for i in range(0, len(buttons), ROW_LIMIT)]


def result_layout(
    header: str,
    request: GenerationRequest,
    result: GenerationResult,
    pictures: Sequence[Picture],
    buttons: Sequence[discord.ui.Item[Any]] = (),
    *,
    locale: object = "en-US",
) -> discord.ui.LayoutView:
    """A container: who asked (and any notes), the images, the prompt, the settings, the buttons."""
    container: discord.ui.Container[Any] = discord.ui.Container(accent_colour=ACCENT)
    container.add_item(discord.ui.TextDisplay(header))
    container.add_item(gallery(pictures))
    container.add_item(discord.ui.TextDisplay(prompt_text(request, locale)))
    container.add_item(discord.ui.TextDisplay(settings_text(request, result, locale)))
    if buttons:
        container.add_item(discord.ui.Separator())
        for row in _rows(buttons):
            container.add_item(row)
    view = discord.ui.LayoutView(timeout=None)
    view.add_item(container)
    return view


def status_layout(
    text: str, *, preview: str | None = None, controls: Sequence[discord.ui.Item[Any]] = ()
) -> discord.ui.LayoutView:
    """The queued / progress message: its status, the latest preview (an attached file's name)
    and the Cancel button."""
    container: discord.ui.Container[Any] = discord.ui.Container(accent_colour=ACCENT)
    container.add_item(discord.ui.TextDisplay(text))
    if preview is not None:
        container.add_item(gallery([Picture(preview)]))
    for row in _rows(controls):
        container.add_item(row)
    view = discord.ui.LayoutView(timeout=None)
    view.add_item(container)
    return view


def notice_layout(text: str) -> discord.ui.LayoutView:
    """A message of text only, e.g. an error or "withheld" shown on a job's message."""
    view = discord.ui.LayoutView(timeout=None)
    view.add_item(discord.ui.TextDisplay(text[:TEXT_LIMIT]))
    return view


def add_note(view: discord.ui.LayoutView, text: str) -> None:
    """A line under a layout (a late result's link back)."""
    view.add_item(discord.ui.TextDisplay(text))


async def edit_with_text(interaction: discord.Interaction[Any], text: str) -> None:
    """Replace a deferred answer's message with ``text``: as content, or as a text display
    when the message is a V2 layout (a job's message), which Discord refuses content on."""
    try:
        await interaction.edit_original_response(content=text, embed=None, attachments=[], view=None)
    except discord.HTTPException as exc:
        if exc.code != INVALID_FORM_BODY:
            raise
        log.info("the message is a V2 layout; showing the text as one (%s)", exc)
        await interaction.edit_original_response(view=notice_layout(text), attachments=[])
