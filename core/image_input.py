"""A member's image, from Discord to what Remix and /describe need.

Only an attachment Discord gave the interaction is fetched (its CDN URL, see core.attachments),
never a URL a member typed. The bytes are checked before they are decoded (prompt.images), read
by the WD14 tagger in a thread, and fitted to a trained size. Nothing here charges or queues.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import discord
from PIL import Image

from core.attachments import AttachmentFetcher
from core.config import Config
from core.errors import BadImage, ClassifierLoadError, InvalidOption, TaggerUnavailable
from core.text import t
from moderation.gate import ImageFacts
from prompt.describe import Described, describe_prompt
from prompt.images import SourceImage, closest_resolution, fit_image, open_image
from prompt.infotext import Parameters, parse_parameters, read_parameters
from prompt.presets import RESOLUTIONS_BY_KEY, Resolution
from prompt.tags import TagDatabase

if TYPE_CHECKING:
    from moderation.tagger import ImageTags, WD14Tagger

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


@dataclass(frozen=True, slots=True)
class ImageInput:
    """An attachment as Discord described it to the interaction."""

    url: str
    size: int | None
    filename: str

    @classmethod
    def of(cls, attachment: discord.Attachment) -> ImageInput:
        return cls(attachment.url, attachment.size, attachment.filename)


@dataclass(frozen=True, slots=True)
class RemixSource:
    """What a remix starts from: an attachment still to fetch, or bytes fetched already (the
    Remix menu reads the image to prefill its form), fitted to ``aspect`` or, when None, to the
    trained size closest to the image's shape."""

    image: ImageInput | bytes
    aspect: str | None = None


def message_image(message: discord.Message) -> ImageInput:
    """The first image attached to a message (what the context menus work on)."""
    for attachment in message.attachments:
        content_type = (attachment.content_type or "").lower()
        if content_type.startswith("image/") or attachment.filename.lower().endswith(IMAGE_SUFFIXES):
            return ImageInput.of(attachment)
    raise BadImage(t("That message has no image attached. Use this on a message with a PNG, JPEG or WebP image."))


@dataclass(frozen=True, slots=True)
class Description:
    """/describe's answer: the ordered prompt, what the tagger saw, the closest trained size."""

    described: Described
    tags: ImageTags
    resolution: Resolution


@dataclass(frozen=True, slots=True)
class Prefill:
    """What the Remix form starts with. ``from_parameters``: the prompt is an A1111 image's own
    final prompt (presets included), so no preset is added to it again."""

    prompt: str
    negative: str
    aspect: str
    from_parameters: bool


class LazyTagger:
    """The WD14 tagger, loaded on first use (the first time from the Hub, about 400 MB) in a
    thread; a load that failed is tried again at the next use (the network may be back)."""

    def __init__(self, source: str, *, cache_dir: str | None = None, device: str = "cpu") -> None:
        self.source = source
        self._cache_dir = cache_dir
        self._device = device
        self._tagger: WD14Tagger | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> WD14Tagger:
        # onnxruntime is imported on first use: a bot that never reads an image never loads it.
        from moderation.tagger import WD14Tagger

        async with self._lock:
            if self._tagger is None:
                try:
                    self._tagger = await asyncio.to_thread(
                        WD14Tagger.from_source, self.source, cache_dir=self._cache_dir, device=self._device
                    )
                except ClassifierLoadError as exc:
                    log.error("the WD14 tagger %r could not be loaded: %s", self.source, exc)
                    raise TaggerUnavailable(
                        t(
                            "Reading images is not available right now: the tagger model could not be loaded "
                            "(the error was logged for the bot's admin)."
                        )
                    ) from exc
                log.info("WD14 tagger loaded from %r", self.source)
            return self._tagger


class ImageReader:
    """Fetch, open, tag and fit members' images. ``moderate``: the output check is on, so a
    remix's source is tagged and held to the channel's rules like a prompt."""

    def __init__(self, fetcher: AttachmentFetcher, tagger: LazyTagger, config: Config, tags: TagDatabase) -> None:
        self._fetcher = fetcher
        self._tagger = tagger
        self._tag_data = tags
        self._describe = config.describe
        self.moderate = config.moderation.classifier == "wd14"

    @classmethod
    def from_config(cls, config: Config, fetcher: AttachmentFetcher, tags: TagDatabase) -> ImageReader:
        moderation = config.moderation
        # The output check's own model when it is on: one model to download, one set of tags.
        source = moderation.classifier_model if moderation.classifier == "wd14" else config.describe.tagger_model
        tagger = LazyTagger(source, cache_dir=config.model.cache_dir or None, device=moderation.classifier_device)
        return cls(fetcher, tagger, config, tags)

    async def close(self) -> None:
        await self._fetcher.close()

    async def fetch(self, image: ImageInput) -> bytes:
        return await self._fetcher.fetch(image.url, image.size)

    async def open(self, data: bytes) -> Image.Image:
        """Checked and decoded off the event loop (a 4096x4096 decode takes a while)."""
        return await asyncio.to_thread(open_image, data)

    async def tags(self, picture: Image.Image) -> ImageTags:
        tagger = await self._tagger.get()
        return await asyncio.to_thread(
            tagger.tag,
            picture,
            general_threshold=self._describe.general_threshold,
            character_threshold=self._describe.character_threshold,
        )

    async def describe(self, data: bytes) -> Description:
        return await self._described(await self.open(data))

    async def _described(self, picture: Image.Image) -> Description:
        tags = await self.tags(picture)
        described = describe_prompt(tags.characters, tags.general, self._tag_data)
        return Description(described, tags, closest_resolution(picture.width, picture.height))

    async def prefill(self, data: bytes) -> Prefill:
        """The Remix form's prompt: the image's own A1111 parameters when it has them (our
        results do), otherwise the tagger's description."""
        picture = await self.open(data)
        aspect = closest_resolution(picture.width, picture.height).key
        parameters = await asyncio.to_thread(_parameters, data)
        if parameters is not None and parameters.prompt.strip():
            return Prefill(parameters.prompt, parameters.negative, aspect, from_parameters=True)
        description = await self._described(picture)
        return Prefill(description.described.prompt, "", aspect, from_parameters=False)

    async def remix_source(self, source: RemixSource) -> tuple[SourceImage, ImageFacts | None]:
        """The fitted source image, and what the tagger saw in it when the output check is on."""
        data = source.image if isinstance(source.image, bytes) else await self.fetch(source.image)
        picture = await self.open(data)
        facts = None
        if self.moderate:
            tags = await self.tags(picture)
            facts = ImageFacts(tags.rating, tuple(name for name, _ in (*tags.characters, *tags.general)))
        if source.aspect is None:
            resolution = closest_resolution(picture.width, picture.height)
        elif source.aspect in RESOLUTIONS_BY_KEY:
            resolution = RESOLUTIONS_BY_KEY[source.aspect]
        else:
            raise InvalidOption(
                "aspect",
                t(
                    "Unknown aspect `{aspect}`. Allowed: {allowed}.",
                    aspect=source.aspect,
                    allowed=", ".join(RESOLUTIONS_BY_KEY),
                ),
            )
        fitted = await asyncio.to_thread(lambda: SourceImage.of(fit_image(picture, resolution)))
        return fitted, facts


def _parameters(data: bytes) -> Parameters | None:
    text = read_parameters(data)
    return parse_parameters(text) if text else None
