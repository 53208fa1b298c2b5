from __future__ import annotations

from typing import Any

import pytest
import torch

from core.errors import PromptTooLong
from generation.conditioning import CHUNK_LENGTH, PromptEncoder, SDXLConditioning
from tests.support.tiny_sdxl import build_tiny_sdxl

# diffusers' lazy imports hide the pipeline's attributes from mypy.
Pipe = Any

# The tiny tokenizer spells unknown words letter by letter, so 7-8 tokens per "xyzzyN,".
LONG_PROMPT = ", ".join(f"xyzzy{i}" for i in range(16))  # 117 tokens


@pytest.fixture(scope="module")
def pipe(tmp_path_factory: pytest.TempPathFactory) -> Pipe:
    return build_tiny_sdxl(tmp_path_factory.mktemp("tiny-sdxl"))


@pytest.fixture(scope="module")
def encoder(pipe: Pipe) -> PromptEncoder:
    return PromptEncoder.from_pipeline(pipe, max_chunks=4)


@pytest.fixture(scope="module")
def width(pipe: Pipe) -> int:
    return int(pipe.text_encoder.config.hidden_size + pipe.text_encoder_2.config.hidden_size)


def _encode(encoder: PromptEncoder, prompt: str, negative: str = "") -> SDXLConditioning:
    return encoder.encode(prompt, negative, device="cpu", dtype=torch.float32)


@pytest.mark.parametrize(
    ("prompt", "negative"),
    [
        ("1girl, long hair, blue eyes, smile, looking at viewer", "lowres, bad, text, error"),
        ("a cat", ""),  # empty negative: zeros, as force_zeros_for_empty_prompt does
        ("solo", "nsfw"),
    ],
)
def test_equals_stock_encode_prompt(pipe: Pipe, encoder: PromptEncoder, prompt: str, negative: str) -> None:
    assert pipe.config.force_zeros_for_empty_prompt
    expected = pipe.encode_prompt(
        prompt,
        device=torch.device("cpu"),
        num_images_per_prompt=1,
        do_classifier_free_guidance=True,
        negative_prompt=negative or None,
    )
    got = _encode(encoder, prompt, negative)
    for mine, stock in zip(
        (
            got.prompt_embeds,
            got.negative_prompt_embeds,
            got.pooled_prompt_embeds,
            got.negative_pooled_prompt_embeds,
        ),
        expected,
        strict=True,
    ):
        assert mine.shape == stock.shape
        assert torch.allclose(mine, stock, atol=1e-6)
    if not negative:
        assert not got.negative_prompt_embeds.any() and not got.negative_pooled_prompt_embeds.any()


def test_pipeline_kwargs(encoder: PromptEncoder) -> None:
    kwargs = _encode(encoder, "1girl", "bad").as_pipeline_kwargs()
    assert set(kwargs) == {
        "prompt_embeds",
        "negative_prompt_embeds",
        "pooled_prompt_embeds",
        "negative_pooled_prompt_embeds",
    }


def test_long_prompt_gives_two_chunks(encoder: PromptEncoder, width: int) -> None:
    tokens = sum(len(c.tokens) for c in encoder.chunk(LONG_PROMPT))
    assert tokens == 2 * 77
    got = _encode(encoder, LONG_PROMPT, "bad")
    assert got.prompt_embeds.shape == (1, 154, width)
    # Negative padded with an empty chunk to the same length.
    assert got.negative_prompt_embeds.shape == (1, 154, width)
    assert got.pooled_prompt_embeds.shape == got.negative_pooled_prompt_embeds.shape
    # Pooled output comes from the first chunk only: changing the second leaves it alone.
    changed_tail = _encode(encoder, LONG_PROMPT + ", smile", "bad")
    assert torch.equal(got.pooled_prompt_embeds, changed_tail.pooled_prompt_embeds)
    assert not torch.equal(got.prompt_embeds, changed_tail.prompt_embeds)


def test_empty_negative_is_zeros_of_the_same_length(encoder: PromptEncoder, width: int) -> None:
    got = _encode(encoder, LONG_PROMPT, "")
    assert got.negative_prompt_embeds.shape == (1, 154, width)
    assert not got.negative_prompt_embeds.any()


def test_long_negative_pads_the_prompt(encoder: PromptEncoder, width: int) -> None:
    got = _encode(encoder, "1girl", LONG_PROMPT)
    assert got.prompt_embeds.shape == got.negative_prompt_embeds.shape == (1, 154, width)
    alone = _encode(encoder, "1girl", "bad")
    # The prompt's first chunk is unchanged by the padding.
    assert torch.allclose(got.prompt_embeds[:, :77], alone.prompt_embeds, atol=1e-6)
    assert torch.allclose(got.pooled_prompt_embeds, alone.pooled_prompt_embeds, atol=1e-6)


def test_chunks_are_wrapped_like_the_stock_tokenizer(pipe: Pipe, encoder: PromptEncoder) -> None:
    chunks = encoder.chunk(LONG_PROMPT)
    tok = pipe.tokenizer
    for chunk in chunks:
        assert len(chunk.tokens) == len(chunk.weights) == CHUNK_LENGTH + 2
        assert chunk.tokens[0] == tok.bos_token_id
        assert tok.eos_token_id in chunk.tokens[1:]


def test_comma_backtrack_moves_the_last_tag_whole(encoder: PromptEncoder) -> None:
    chunks = encoder.chunk(LONG_PROMPT)
    comma = encoder._chunkers[0].comma_token
    eos = encoder._chunkers[0].id_end
    first = list(chunks[0].tokens[1:])
    content = first[: first.index(eos)]
    # The first chunk was cut right after a comma rather than in the middle of a tag.
    assert content[-1] == comma
    assert len(content) < CHUNK_LENGTH
    # Without backtracking, the chunk is filled to exactly 75 tokens.
    tok, tok2 = encoder._chunkers[0].tokenizer, encoder._chunkers[1].tokenizer
    plain = PromptEncoder(tok, tok2, torch.nn.Identity(), torch.nn.Identity(), comma_padding_backtrack=0)
    first_plain = list(plain.chunk(LONG_PROMPT)[0].tokens[1:])
    assert first_plain.index(eos) == CHUNK_LENGTH


def test_break_starts_a_new_chunk(encoder: PromptEncoder, width: int) -> None:
    assert len(encoder.chunk("1girl BREAK smile")) == 2
    assert len(encoder.chunk("1girl, BREAK, smile, BREAK, sky")) == 3
    assert len(encoder.chunk("1girl BREAK")) == 1  # a trailing BREAK adds nothing
    got = _encode(encoder, "1girl BREAK smile", "bad")
    assert got.prompt_embeds.shape == (1, 154, width)


def test_weights_change_the_embedding_and_keep_the_mean(encoder: PromptEncoder, pipe: Pipe) -> None:
    plain = _encode(encoder, "1girl, blue hair, smile", "")
    weighted = _encode(encoder, "1girl, (blue hair:1.5), smile", "")
    assert not torch.allclose(plain.prompt_embeds, weighted.prompt_embeds)
    # The pooled embedding is not weighted (A1111 takes it before emphasis).
    assert torch.allclose(plain.pooled_prompt_embeds, weighted.pooled_prompt_embeds)
    # Each encoder's chunk keeps its original mean after weighting.
    split = pipe.text_encoder.config.hidden_size
    for part in (slice(None, split), slice(split, None)):
        assert torch.allclose(
            plain.prompt_embeds[..., part].mean(), weighted.prompt_embeds[..., part].mean(), atol=1e-5
        )
    chunk = encoder.chunk("1girl, (blue hair:1.5), smile")[0]
    assert 1.5 in chunk.weights and chunk.weights[0] == 1.0


def test_unit_weight_parentheses_are_only_emphasis(encoder: PromptEncoder) -> None:
    # "(x:1)" is a plain x; the result equals the unweighted prompt exactly.
    assert torch.equal(
        _encode(encoder, "(blue hair:1), smile", "").prompt_embeds,
        _encode(encoder, "blue hair, smile", "").prompt_embeds,
    )


def test_too_long_raises_with_the_limit(pipe: Pipe) -> None:
    small = PromptEncoder.from_pipeline(pipe, max_chunks=1)
    with pytest.raises(PromptTooLong, match=r"limit is 1 \(75 tokens\)") as info:
        small.encode(LONG_PROMPT, "", device="cpu", dtype=torch.float32)
    assert isinstance(info.value, ValueError)
    with pytest.raises(PromptTooLong, match="negative"):
        small.encode("1girl", LONG_PROMPT, device="cpu", dtype=torch.float32)
    with pytest.raises(ValueError):
        PromptEncoder.from_pipeline(pipe, max_chunks=0)


class _NeverRun(torch.nn.Module):
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("check_tokens must only tokenise")


@pytest.mark.parametrize(
    ("prompt", "negative"),
    [
        (LONG_PROMPT, ""),
        ("1girl", LONG_PROMPT),
        (LONG_PROMPT, LONG_PROMPT),  # the prompt is named first, as encode() does
        ("1girl, smile", "lowres, bad"),
        ("1girl BREAK smile", ""),  # BREAK makes a second chunk without many tokens
        ("", "   "),
    ],
)
def test_check_tokens_refuses_what_encode_refuses_without_encoding(pipe: Pipe, prompt: str, negative: str) -> None:
    small = PromptEncoder.from_pipeline(pipe, max_chunks=1)
    tokenizer_only = PromptEncoder(pipe.tokenizer, pipe.tokenizer_2, _NeverRun(), _NeverRun(), max_chunks=1)
    try:
        small.encode(prompt, negative, device="cpu", dtype=torch.float32)
    except PromptTooLong as exc:
        with pytest.raises(PromptTooLong) as info:
            tokenizer_only.check_tokens(prompt, negative)
        assert str(info.value) == str(exc)
    else:
        tokenizer_only.check_tokens(prompt, negative)


def test_output_dtype_and_no_grad(encoder: PromptEncoder) -> None:
    got = encoder.encode("1girl", "bad", device="cpu", dtype=torch.float16)
    for tensor in got.as_pipeline_kwargs().values():
        assert tensor.dtype == torch.float16
        assert not tensor.requires_grad
        assert tensor.shape[0] == 1


def test_pipeline_runs_on_the_embeddings(pipe: Pipe, encoder: PromptEncoder) -> None:
    got = _encode(encoder, LONG_PROMPT + ", (smile:1.2)", "bad")
    image = pipe(
        **got.as_pipeline_kwargs(),
        num_inference_steps=2,
        height=64,
        width=64,
        output_type="np",
        generator=torch.Generator().manual_seed(0),
    ).images
    assert image.shape == (1, 64, 64, 3)
