"""Weighted, chunked SDXL text conditioning with AUTOMATIC1111's semantics.

Follows A1111's modules/sd_hijack_clip.py: the prompt is parsed for emphasis, tokenized per
run, cut into 75-token chunks (a full chunk moves the tail after its last comma, within
``comma_padding_backtrack`` tokens, into the next one; ``BREAK`` starts a new chunk), each
chunk is wrapped as ``<bos> 75 tokens <eos>`` and padded like the stock tokenizer pads,
encoded, multiplied by the per-token weights and rescaled to its original mean. SDXL uses
the penultimate hidden states of both encoders side by side; the pooled embedding is
text_encoder_2's projection of the first chunk. Without weights and under 75 tokens this is
exactly ``StableDiffusionXLPipeline.encode_prompt``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from core.errors import PromptTooLong
from core.text import t
from prompt.emphasis import BREAK, parse_attention

CHUNK_LENGTH = 75
DEFAULT_MAX_CHUNKS = 4
DEFAULT_COMMA_BACKTRACK = 20


class Tokenizer(Protocol):
    bos_token_id: Any
    eos_token_id: Any
    pad_token_id: Any

    def __call__(self, text: list[str], **kwargs: Any) -> Any: ...

    def get_vocab(self) -> dict[str, int]: ...


@dataclass(frozen=True, slots=True)
class TokenChunk:
    """One 77-token CLIP input (``<bos>`` + 75 + ``<eos>``/padding) and its weights."""

    tokens: tuple[int, ...]
    weights: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class SDXLConditioning:
    prompt_embeds: torch.Tensor  # [1, 77 * chunks, 2048]
    negative_prompt_embeds: torch.Tensor
    pooled_prompt_embeds: torch.Tensor  # [1, 1280]
    negative_pooled_prompt_embeds: torch.Tensor

    def as_pipeline_kwargs(self) -> dict[str, torch.Tensor]:
        return {
            "prompt_embeds": self.prompt_embeds,
            "negative_prompt_embeds": self.negative_prompt_embeds,
            "pooled_prompt_embeds": self.pooled_prompt_embeds,
            "negative_pooled_prompt_embeds": self.negative_pooled_prompt_embeds,
        }


class _Chunker:
    """A1111's ``tokenize_line`` for one tokenizer."""

    def __init__(self, tokenizer: Tokenizer, comma_padding_backtrack: int) -> None:
        self.tokenizer = tokenizer
        self.id_start = int(tokenizer.bos_token_id)
        self.id_end = int(tokenizer.eos_token_id)
        # SDXL's second tokenizer pads with "!" rather than <eos>; the stock pipeline does too.
        pad = tokenizer.pad_token_id
        self.id_pad = int(pad) if pad is not None else self.id_end
        self.comma_token = tokenizer.get_vocab().get(",</w>")
        self.backtrack = comma_padding_backtrack

    def wrap(self, tokens: list[int], weights: list[float]) -> TokenChunk:
        fill = CHUNK_LENGTH - len(tokens)
        ids = [self.id_start, *tokens, self.id_end] + [self.id_pad] * fill
        return TokenChunk(tuple(ids), tuple([1.0, *weights, 1.0] + [1.0] * fill))

    def empty(self) -> TokenChunk:
        return self.wrap([], [])

    def chunks(self, text: str) -> list[TokenChunk]:
        parsed = parse_attention(text)
        tokenized: list[list[int]] = self.tokenizer(
            [t for t, _ in parsed], truncation=False, add_special_tokens=False, verbose=False
        )["input_ids"]
        chunks: list[TokenChunk] = []
        tokens: list[int] = []
        weights: list[float] = []
        last_comma = -1

        def next_chunk() -> None:
            nonlocal tokens, weights, last_comma
            chunks.append(self.wrap(tokens, weights))
            tokens, weights, last_comma = [], [], -1

        for ids, (part, weight) in zip(tokenized, parsed, strict=True):
            if part == BREAK and weight == -1.0:
                next_chunk()
                continue
            for token in ids:
                if token == self.comma_token:
                    last_comma = len(tokens)
                elif (
                    self.backtrack
                    and len(tokens) == CHUNK_LENGTH
                    and last_comma != -1
                    and len(tokens) - last_comma <= self.backtrack
                ):
                    # Keep the words after the comma together in the next chunk rather
                    # than cutting a tag in half at the chunk border.
                    cut = last_comma + 1
                    moved_tokens, moved_weights = tokens[cut:], weights[cut:]
                    tokens, weights = tokens[:cut], weights[:cut]
                    next_chunk()
                    tokens, weights = moved_tokens, moved_weights
                if len(tokens) == CHUNK_LENGTH:
                    next_chunk()
                tokens.append(token)
                weights.append(weight)
        if tokens or not chunks:
            next_chunk()
        return chunks


class PromptEncoder:
    """Encodes prompt/negative pairs into the SDXL pipeline's embedding inputs."""

    def __init__(
        self,
        tokenizer: Tokenizer,
        tokenizer_2: Tokenizer,
        text_encoder: torch.nn.Module,
        text_encoder_2: torch.nn.Module,
        *,
        max_chunks: int = DEFAULT_MAX_CHUNKS,
        comma_padding_backtrack: int = DEFAULT_COMMA_BACKTRACK,
    ) -> None:
        if max_chunks < 1:
            raise ValueError("max_chunks must be at least 1")
        self.max_chunks = max_chunks
        self._chunkers = (
            _Chunker(tokenizer, comma_padding_backtrack),
            _Chunker(tokenizer_2, comma_padding_backtrack),
        )
        self._encoders = (text_encoder, text_encoder_2)
        # check_tokens() runs on the event loop while encode() may be tokenizing in the worker
        # thread, and Hugging Face's fast tokenizers raise "Already borrowed" when one instance
        # is called from two threads at once; tokenizing takes milliseconds, so one lock is enough.
        self._tokenizing = threading.Lock()

    @classmethod
    def from_pipeline(cls, pipe: Any, **kwargs: Any) -> PromptEncoder:
        return cls(pipe.tokenizer, pipe.tokenizer_2, pipe.text_encoder, pipe.text_encoder_2, **kwargs)

    def chunk(self, text: str) -> list[TokenChunk]:
        """The first encoder's token chunks of ``text`` (for token counts and tests)."""
        with self._tokenizing:
            return self._chunkers[0].chunks(text)

    def _check_length(self, label: str, counts: Sequence[int]) -> None:
        if max(counts) > self.max_chunks:
            values = {"chunks": max(counts), "size": CHUNK_LENGTH, "limit": self.max_chunks}
            values["tokens"] = self.max_chunks * CHUNK_LENGTH
            if label == "negative prompt":
                raise PromptTooLong(
                    t(
                        "The negative prompt is too long: it needs {chunks} chunks of {size} tokens "
                        "and the limit is {limit} ({tokens} tokens). Remove some tags.",
                        **values,
                    )
                )
            raise PromptTooLong(
                t(
                    "The prompt is too long: it needs {chunks} chunks of {size} tokens "
                    "and the limit is {limit} ({tokens} tokens). Remove some tags.",
                    **values,
                )
            )

    @staticmethod
    def _device_of(module: torch.nn.Module) -> torch.device:
        try:
            from diffusers.utils.torch_utils import get_module_execution_device

            # Honours accelerate's offload hooks, like the stock pipeline.
            return get_module_execution_device(module)
        except ImportError:  # pragma: no cover - older diffusers
            return next(module.parameters()).device

    def _encode_chunks(self, index: int, chunks: Sequence[TokenChunk]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Weighted penultimate hidden states [chunks, 77, C] (and text_embeds for encoder 2)."""
        encoder = self._encoders[index]
        device = self._device_of(encoder)
        ids = torch.tensor([c.tokens for c in chunks], dtype=torch.long, device=device)
        out = encoder(ids, output_hidden_states=True)
        z = out.hidden_states[-2]
        pooled = out[0] if out[0].ndim == 2 else None
        weights = torch.tensor([c.weights for c in chunks], dtype=z.dtype, device=z.device)
        rows = []
        for row, w in zip(z, weights, strict=True):
            if bool((w != 1.0).any()):
                # A1111's "Original" emphasis: scale tokens, then restore the chunk's mean so
                # the overall magnitude the UNet sees stays the same.
                original_mean = row.mean()
                row = row * w.unsqueeze(-1)
                new_mean = row.mean()
                if bool(torch.isfinite(new_mean)) and bool(new_mean != 0):
                    row = row * (original_mean / new_mean)
            rows.append(row)
        return torch.stack(rows), pooled

    def _encode_text(self, per_encoder_chunks: Sequence[list[TokenChunk]]) -> tuple[torch.Tensor, torch.Tensor]:
        parts: list[torch.Tensor] = []
        pooled: torch.Tensor | None = None
        for index, chunks in enumerate(per_encoder_chunks):
            z, p = self._encode_chunks(index, chunks)
            parts.append(z.reshape(1, -1, z.shape[-1]))
            if index == 1:
                pooled = p[:1] if p is not None else None
        if pooled is None:
            raise TypeError("text_encoder_2 must return pooled text_embeds (CLIPTextModelWithProjection)")
        return torch.cat(parts, dim=-1), pooled

    def length(self, prompt: str, negative: str = "") -> int:
        """The number of 77-token chunks encode() will produce (tokenising only): requests can
        share a batch only when their conditioning has the same length."""
        with self._tokenizing:
            counts = [len(c.chunks(prompt)) for c in self._chunkers]
            if negative.strip():
                counts += [len(c.chunks(negative)) for c in self._chunkers]
        return max(counts)

    def _checked_chunks(self, prompt: str, negative: str) -> tuple[list[list[TokenChunk]], list[list[TokenChunk]]]:
        """Each encoder's chunks of the prompt and of a non-blank negative (none for a blank one).

        The one place the chunk limit is enforced: encode() and check_tokens() both come here,
        so a prompt accepted before it is queued is never refused when it runs, nor the reverse.
        Raises PromptTooLong above ``max_chunks`` chunks, naming the limit.
        """
        with self._tokenizing:
            pos = [c.chunks(prompt) for c in self._chunkers]
            neg = [c.chunks(negative) for c in self._chunkers] if negative.strip() else []
        self._check_length("prompt", [len(c) for c in pos])
        if neg:
            self._check_length("negative prompt", [len(c) for c in neg])
        return pos, neg

    def check_tokens(self, prompt: str, negative: str = "") -> None:
        """Raise PromptTooLong exactly when encode() would, tokenising only (no text encoder
        runs), so a request can be refused before it is queued and charged."""
        self._checked_chunks(prompt, negative)

    def encode(
        self,
        prompt: str,
        negative: str = "",
        *,
        device: torch.device | str,
        dtype: torch.dtype,
    ) -> SDXLConditioning:
        """Encode a prompt and its negative; an empty negative gives zeros, like the stock
        pipeline with ``force_zeros_for_empty_prompt``. Both are padded with empty chunks to
        the same length. Raises PromptTooLong above ``max_chunks`` chunks."""
        pos, neg = self._checked_chunks(prompt, negative)
        zero_negative = not neg
        total = max(len(c) for c in (*pos, *neg))
        for lists in (pos, neg):
            for chunker, chunks in zip(self._chunkers, lists, strict=False):
                chunks.extend(chunker.empty() for _ in range(total - len(chunks)))

        with torch.no_grad():
            embeds, pooled = self._encode_text(pos)
            if zero_negative:
                neg_embeds, neg_pooled = torch.zeros_like(embeds), torch.zeros_like(pooled)
            else:
                neg_embeds, neg_pooled = self._encode_text(neg)
        return SDXLConditioning(
            prompt_embeds=embeds.to(device=device, dtype=dtype),
            negative_prompt_embeds=neg_embeds.to(device=device, dtype=dtype),
            pooled_prompt_embeds=pooled.to(device=device, dtype=dtype),
            negative_pooled_prompt_embeds=neg_pooled.to(device=device, dtype=dtype),
        )
