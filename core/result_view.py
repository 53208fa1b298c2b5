"""The buttons under every result. Custom ids carry the action, the job id and the image index
(≤100 chars), and the item is a dynamic item, so the buttons work after a restart, on V2
layouts (core.result_layout) and on the embed results posted before them alike: the ids are the
same. A click is turned into a ``result_button`` event that cogs.results handles."""

from __future__ import annotations

import enum
import re
from typing import Any

import discord

from core.i18n import render
from core.text import Text, t


class ResultAction(enum.StrEnum):
    REROLL = "reroll"
    VARY = "vary"
    UPSCALE = "up"
    PARAMS = "params"
    DELETE = "delete"
    TO_DMS = "dm"


# Rendered in the member's locale when the buttons are built; a label is only shown, never
# matched (the custom id is), so a result in any language works after a restart.
LABELS: dict[ResultAction, Text] = {
    # i18n: a button under a result; /help names it too, keep the same word.
    ResultAction.REROLL: t("🔁 Re-roll"),
    ResultAction.VARY: t("🎲 Variation"),
    ResultAction.UPSCALE: t("⬆️ Upscale ×1.5"),
    ResultAction.PARAMS: t("📋 Parameters"),
    ResultAction.DELETE: t("🗑️ Delete"),
    ResultAction.TO_DMS: t("📩 Send to my DMs"),
}


def custom_id(action: ResultAction, job_id: int, index: int = 0) -> str:
    return f"res:{action.value}:{job_id}:{index}"


class ResultButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"res:(?P<action>reroll|vary|up|params|delete|dm):(?P<job_id>[0-9]{1,19}):(?P<index>[0-3])",
):
    def __init__(
        self, action: ResultAction, job_id: int, index: int = 0, *, label: str | None = None, locale: object = "en-US"
    ) -> None:
        style = discord.ButtonStyle.danger if action is ResultAction.DELETE else discord.ButtonStyle.secondary
        shown = label or render(LABELS[action], locale)
        super().__init__(discord.ui.Button(label=shown, style=style, custom_id=custom_id(action, job_id, index)))
        self.action, self.job_id, self.index = action, job_id, index

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ResultButton:
        return cls(ResultAction(match["action"]), int(match["job_id"]), int(match["index"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        interaction.client.dispatch("result_button", interaction, self.action, self.job_id, self.index)


def result_buttons(
    job_id: int,
    count: int,
    *,
    upscaled: bool = False,
    deletable: bool = True,
    remix: bool = False,
    to_dms: bool = False,
    locale: object = "en-US",
) -> list[ResultButton]:
    """One image: five buttons. Several: re-roll, parameters, U1..Un, V1..Vn, delete (rows of
    five in the layout: at most 12 buttons, 3 rows, for 4 images).
    A remix has no Variation buttons (img2img has no start noise to mix a variation seed into).
    Labels are in ``locale``, the member's."""
    buttons: list[ResultButton] = []
    if count == 1:
        actions = [ResultAction.REROLL, ResultAction.PARAMS]
        if not remix:
            actions.insert(1, ResultAction.VARY)
        if not upscaled:
            actions.insert(len(actions) - 1, ResultAction.UPSCALE)
        buttons += [ResultButton(action, job_id, locale=locale) for action in actions]
    else:
        buttons += [
            ResultButton(ResultAction.REROLL, job_id, locale=locale),
            ResultButton(ResultAction.PARAMS, job_id, locale=locale),
        ]
        for index in range(count):
            buttons.append(ResultButton(ResultAction.UPSCALE, job_id, index, label=f"⬆️ U{index + 1}"))
        for index in range(count if not remix else 0):
            buttons.append(ResultButton(ResultAction.VARY, job_id, index, label=f"🎲 V{index + 1}"))
    if deletable:
        buttons.append(ResultButton(ResultAction.DELETE, job_id, locale=locale))
    if to_dms:  # shown only to the member (forced): a way to keep and share it
        buttons.append(ResultButton(ResultAction.TO_DMS, job_id, locale=locale))
    return buttons
