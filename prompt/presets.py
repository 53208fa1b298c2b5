"""Animagine XL 3.1's official presets and trained resolutions.

Every text here is quoted exactly from the model card and the official demo app
(see ANIMAGINE.md in the shared design folder); do not "improve" them, users compare
our output with the official app's.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Preset:
    """A prompt template (``{prompt}`` is replaced) and the negative it brings along."""

    name: str
    prompt: str
    negative: str

    def apply(self, prompt: str) -> str:
        return self.prompt.replace("{prompt}", prompt)


QUALITY_PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("(None)", "{prompt}", "nsfw, lowres"),
        Preset(
            "Standard v3.0",
            "{prompt}, masterpiece, best quality",
            "nsfw, lowres, bad anatomy, bad hands, text, error, missing fingers, extra digit, "
            "fewer digits, cropped, worst quality, low quality, normal quality, jpeg artifacts, "
            "signature, watermark, username, blurry, artist name",
        ),
        Preset(
            "Standard v3.1",
            "{prompt}, masterpiece, best quality, very aesthetic, absurdres",
            "nsfw, lowres, (bad), text, error, fewer, extra, missing, worst quality, jpeg artifacts, "
            "low quality, watermark, unfinished, displeasing, oldest, early, chromatic aberration, "
            "signature, extra digits, artistic error, username, scan, [abstract]",
        ),
        Preset(
            "Light v3.1",
            "{prompt}, (masterpiece), best quality, very aesthetic, perfect face",
            "nsfw, (low quality, worst quality:1.2), very displeasing, 3d, watermark, signature, ugly, poorly drawn",
        ),
        Preset(
            "Heavy v3.1",
            "{prompt}, (masterpiece), (best quality), (ultra-detailed), very aesthetic, illustration, "
            "disheveled hair, perfect composition, moist skin, intricate details",
            "nsfw, longbody, lowres, bad anatomy, bad hands, missing fingers, pubic hair, extra digit, "
            "fewer digits, cropped, worst quality, low quality, very displeasing",
        ),
    )
}
DEFAULT_QUALITY = "Standard v3.1"

STYLE_PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("(None)", "{prompt}", ""),
        Preset(
            "Cinematic",
            "{prompt}, cinematic still, emotional, harmonious, vignette, highly detailed, high budget, "
            "bokeh, cinemascope, moody, epic, gorgeous, film grain, grainy",
            "nsfw, cartoon, graphic, text, painting, crayon, graphite, abstract, glitch, deformed, "
            "mutated, ugly, disfigured",
        ),
        Preset(
            "Photographic",
            "{prompt}, cinematic photo, 35mm photograph, film, bokeh, professional, 4k, highly detailed",
            "nsfw, drawing, painting, crayon, sketch, graphite, impressionist, noisy, blurry, soft, deformed, ugly",
        ),
        Preset(
            "Anime",
            "{prompt}, anime artwork, anime style, key visual, vibrant, studio anime, highly detailed",
            "nsfw, photo, deformed, black and white, realism, disfigured, low contrast",
        ),
        Preset(
            "Manga",
            "{prompt}, manga style, vibrant, high-energy, detailed, iconic, Japanese comic style",
            "nsfw, ugly, deformed, noisy, blurry, low contrast, realism, photorealistic, Western comic style",
        ),
        Preset(
            "Digital Art",
            "{prompt}, concept art, digital artwork, illustrative, painterly, matte painting, highly detailed",
            "nsfw, photo, photorealistic, realism, ugly",
        ),
        Preset(
            "Pixel art",
            "{prompt}, pixel-art, low-res, blocky, pixel art style, 8-bit graphics",
            "nsfw, sloppy, messy, blurry, noisy, highly detailed, ultra textured, photo, realistic",
        ),
        Preset(
            "Fantasy art",
            "{prompt}, ethereal fantasy concept art, magnificent, celestial, ethereal, painterly, epic, "
            "majestic, magical, fantasy art, cover art, dreamy",
            "nsfw, photographic, realistic, realism, 35mm film, dslr, cropped, frame, text, deformed, "
            "glitch, noise, noisy, off-center, deformed, cross-eyed, closed eyes, bad anatomy, ugly, "
            "disfigured, sloppy, duplicate, mutated, black and white",
        ),
        Preset(
            "Neonpunk",
            "{prompt}, neonpunk style, cyberpunk, vaporwave, neon, vibes, vibrant, stunningly beautiful, "
            "crisp, detailed, sleek, ultramodern, magenta highlights, dark purple shadows, "
            "high contrast, cinematic, ultra detailed, intricate, professional",
            "nsfw, painting, drawing, illustration, glitch, deformed, mutated, cross-eyed, ugly, disfigured",
        ),
        Preset(
            "3D Model",
            "{prompt}, professional 3d model, octane render, highly detailed, volumetric, dramatic lighting",
            "nsfw, ugly, deformed, noisy, low poly, blurry, painting",
        ),
    )
}
DEFAULT_STYLE = "(None)"


def apply_presets(
    prompt: str, negative: str, *, quality: str = DEFAULT_QUALITY, style: str = DEFAULT_STYLE
) -> tuple[str, str]:
    """Assemble prompt and negative the way the official app does.

    The quality preset's tags go after the user's prompt, then the style preset wraps the
    result; the final negative is style negative + quality negative + user negative.
    """
    try:
        q = QUALITY_PRESETS[quality]
    except KeyError:
        raise ValueError(f"unknown quality preset {quality!r}; choose one of {', '.join(QUALITY_PRESETS)}") from None
    try:
        s = STYLE_PRESETS[style]
    except KeyError:
        raise ValueError(f"unknown style preset {style!r}; choose one of {', '.join(STYLE_PRESETS)}") from None
    final_prompt = s.apply(q.apply(prompt))
    final_negative = ", ".join(part for part in (s.negative, q.negative, negative.strip()) if part)
    return final_prompt, final_negative


@dataclass(frozen=True, slots=True)
class Resolution:
    width: int
    height: int
    ratio: str  # the true ratio, as the model card labels it

    @property
    def key(self) -> str:
        return f"{self.width}x{self.height}"

    @property
    def label(self) -> str:
        return f"{self.ratio} ({self.width}x{self.height})"


RESOLUTIONS: tuple[Resolution, ...] = (
    Resolution(1024, 1024, "1:1 square"),
    Resolution(1152, 896, "9:7"),
    Resolution(896, 1152, "7:9"),
    Resolution(1216, 832, "19:13"),
    Resolution(832, 1216, "13:19"),
    Resolution(1344, 768, "7:4 landscape"),
    Resolution(768, 1344, "4:7 portrait"),
    Resolution(1536, 640, "12:5 landscape"),
    Resolution(640, 1536, "5:12 portrait"),
)
RESOLUTIONS_BY_KEY: dict[str, Resolution] = {r.key: r for r in RESOLUTIONS}
DEFAULT_RESOLUTION = "896x1152"
