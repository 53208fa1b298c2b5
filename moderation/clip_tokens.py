"""What the text encoder reads: the prompt cut into CLIP's words and BPE tokens, without torch.

SDXL's two text encoders (OpenAI CLIP ViT-L/14 and OpenCLIP ViT-bigG/14) share one byte-level
BPE vocabulary of 49,408 tokens; their tokenizers differ only in the padding token, which never
appears inside a prompt. So one tokenizer gives the tokens both encoders see. Its merges are
vendored (``data/clip/bpe_simple_vocab_16e6.txt.gz``, from OpenCLIP, MIT licence) so that the
bot judges prompts the same way on every backend, also with GPU workers, where the bot holds no
model files. The tokenizer is built with the ``tokenizers`` package exactly as transformers'
``CLIPTokenizerFast`` converter builds it (normaliser, pre-tokeniser, ``</w>`` word ends).
"""

from __future__ import annotations

import gzip
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers
from tokenizers.models import BPE

BPE_PATH = Path(__file__).resolve().parent / "data" / "clip" / "bpe_simple_vocab_16e6.txt.gz"
VOCAB_SIZE = 49408
END_OF_WORD = "</w>"
_START, _END = "<|startoftext|>", "<|endoftext|>"
# CLIP's own pre-tokenisation: contractions, runs of letters (of any script), single digits,
# runs of other symbols.
_WORD_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible map of the 256 byte values to printable characters."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    codes = list(printable)
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return {b: chr(c) for b, c in zip(printable, codes, strict=True)}


def build_tokenizer(bpe_path: Path = BPE_PATH) -> Tokenizer:
    """CLIP's tokenizer from OpenCLIP's merges file (the vocabulary follows from the merges)."""
    with gzip.open(bpe_path, "rt", encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    # The slice OpenCLIP's SimpleTokenizer takes: 49,408 - 256 - 256 - 2 = 48,894 merges.
    merges = [tuple(line.split()) for line in lines[1 : VOCAB_SIZE - 2 * 256 - 2 + 1]]
    symbols = list(bytes_to_unicode().values())
    vocab_list = [*symbols, *(s + END_OF_WORD for s in symbols), *("".join(m) for m in merges), _START, _END]
    vocab = {token: index for index, token in enumerate(vocab_list)}
    if len(vocab) != VOCAB_SIZE:
        raise ValueError(f"{bpe_path} gives {len(vocab)} tokens; CLIP's vocabulary has {VOCAB_SIZE}")
    model = BPE(
        vocab=vocab,
        merges=[(a, b) for a, b in merges],
        continuing_subword_prefix="",
        end_of_word_suffix=END_OF_WORD,
        unk_token=_END,
        fuse_unk=False,
    )
    tokenizer = Tokenizer(model)
    tokenizer.normalizer = normalizers.Sequence(
        [normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "), normalizers.Lowercase()]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(_WORD_PATTERN), behavior="removed", invert=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False),
        ]
    )
    return tokenizer


@dataclass(frozen=True, slots=True)
class ClipWord:
    """One run of letters as CLIP splits it, with its BPE tokens."""

    text: str  # as written (lower case)
    # The tokens, ``</w>`` dropped, in CLIP's byte-level alphabet: ASCII letters are themselves,
    # other characters are their UTF-8 bytes, so only ASCII runs can spell a listed word.
    pieces: tuple[str, ...]


# CLIP's pre-tokeniser keeps runs of letters (\p{L}+) together; only those are judged.
_LETTERS_RE = re.compile(r"[^\W\d_]+")


class ClipWords:
    """Cuts text into CLIP's letter words and their BPE tokens; immutable, built once, shared.

    Each word goes through the tokenizer's BPE model alone, as CLIP's pre-tokeniser hands it
    over (lower case, NFC, byte-level): the same tokens as a whole encode, at a small part of
    its cost (``tests/moderation/test_content_readings.py`` compares the two).
    """

    def __init__(self, tokenizer: Tokenizer | None = None) -> None:
        self._model = (tokenizer if tokenizer is not None else build_tokenizer()).model
        self._bytes = bytes_to_unicode()
        self.words = lru_cache(maxsize=8192)(self._words)
        self.pieces = lru_cache(maxsize=65536)(self._pieces)

    def _words(self, text: str) -> tuple[ClipWord, ...]:
        """The letter words of ``text`` (lower-cased, as CLIP reads it) with their tokens."""
        normal = unicodedata.normalize("NFC", text).lower()
        return tuple(ClipWord(word, self.pieces(word)) for word in _LETTERS_RE.findall(normal))

    def _pieces(self, word: str) -> tuple[str, ...]:
        byte_level = word if word.isascii() else "".join(self._bytes[b] for b in word.encode("utf-8"))
        return tuple(token.value.removesuffix(END_OF_WORD) for token in self._model.tokenize(byte_level))
