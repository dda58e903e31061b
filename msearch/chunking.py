"""Token-aware chunking with overlap, over text that arrives in pieces.

Words are counted with the embedding model's own tokenizer, so a chunk fits the model's window;
the stream is consumed piece by piece and only the current window is held in memory.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator

TokenCounter = Callable[[list[str]], list[int]]

_WORD = re.compile(r"\S+\s*|\s+")
#: Characters in one "word" at most: a longer run without whitespace (a URL, base64, a hash, a
#: language written without spaces) is cut into pieces this long, so chunking stays linear in
#: the input and no chunk outgrows its token limit by more than one such piece.
MAX_WORD_CHARS = 64


def approximate_tokens(words: list[str]) -> list[int]:
    """A tokenizer-free estimate (about four characters a token), for remote-only models."""
    return [max(1, len(word.strip()) // 4 + 1) if word.strip() else 0 for word in words]


def tokenizer_counter(tokenizer: object) -> TokenCounter:
    """Count tokens per word with a Hugging Face tokenizer (no special tokens)."""

    def count(words: list[str]) -> list[int]:
        ids = tokenizer(words, add_special_tokens=False)["input_ids"]  # type: ignore[operator]
        return [len(row) for row in ids]

    return count


def chunk_stream(
    pieces: Iterable[str],
    count_tokens: TokenCounter = approximate_tokens,
    size: int = 200,
    overlap: int = 40,
) -> Iterator[str]:
    """Chunks of about ``size`` tokens, each sharing ``overlap`` tokens with the one before.

    >>> list(chunk_stream(["one two three four five"], size=2, overlap=1))
    ['one two ', 'two three ', 'three four ', 'four five']
    """
    if size < 1 or not 0 <= overlap < size:
        raise ValueError(f"need size >= 1 and 0 <= overlap < size, got {size=}, {overlap=}")
    window: deque[tuple[str, int]] = deque()
    tokens = 0
    fresh = 0  # tokens in the window not yet part of an emitted chunk
    for words in _words(without_blobs(pieces)):
        for word, count in zip(words, count_tokens(words), strict=True):
            window.append((word, count))
            tokens += count
            fresh += count
            if tokens >= size:
                yield "".join(word for word, _ in window)
                while window and tokens - window[0][1] >= overlap and tokens > overlap:
                    tokens -= window.popleft()[1]
                fresh = 0
    if fresh and window:
        text = "".join(word for word, _ in window)
        if text.strip():
            yield text


def _words(pieces: Iterable[str]) -> Iterator[list[str]]:
    """Words with their trailing space, re-joining words split across piece boundaries; the
    carried-over word is never longer than ``MAX_WORD_CHARS``, so each piece costs its own
    length only."""
    carry = ""
    for piece in pieces:
        text = carry + piece
        words = _cut_long(_WORD.findall(text))
        carry = ""
        if words and not words[-1][-1:].isspace():
            carry = words.pop()
        if words:
            yield words
    if carry:
        yield [carry]


_DATA_URI = re.compile(r"data:[\w.+/-]*(?:;[\w.+=-]*)*,")
_URI_END = re.compile(r"[\s)\]\"'<>]")
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/=]{256,}")
_MIXED = (re.compile(r"[a-z]"), re.compile(r"[A-Z]"), re.compile(r"[0-9+/]"))
_TAIL = 64  # an unfinished word this short is held for the next piece ("data:" split in two)
_PARTIAL = re.compile(r"\S+\Z")


def _blob(match: re.Match[str]) -> str:
    """A base64 run is dropped; a long run of one kind of character (``xxxx...``, a DNA
    sequence) is kept as text."""
    run = match.group()
    return "" if all(kind.search(run) for kind in _MIXED) else run


def without_blobs(pieces: Iterable[str]) -> Iterator[str]:
    """The text with data URIs (``data:image/png;base64,...``) and runs of 256 or more base64
    characters removed: encoded images and files are noise to a text model, and a 100 KB inline
    image must not become hundreds of chunks. A data URI may span pieces; memory stays bounded.
    (A bare base64 run that a piece boundary cuts is removed only where a part is that long.)
    """
    dropping = False  # inside a data URI that a previous piece began
    held = ""
    for piece in pieces:
        text = held + piece
        held = ""
        if dropping:
            end = _URI_END.search(text)
            if end is None:
                continue
            text, dropping = text[end.start() :], False
        kept: list[str] = []
        position = 0
        for start in _DATA_URI.finditer(text):
            if start.start() < position:
                continue
            kept.append(text[position : start.start()])
            end = _URI_END.search(text, start.end())
            if end is None:
                dropping, position = True, len(text)
                break
            position = end.start()
        rest = text[position:]
        if not dropping:
            # hold back a short unfinished word: it may be the start of "data:...," whose
            # end the next piece brings (the prefix before the comma is short)
            partial = _PARTIAL.search(rest)
            if partial is not None and len(partial.group()) <= _TAIL:
                held, rest = partial.group(), rest[: partial.start()]
        kept.append(rest)
        yield _BASE64_RUN.sub(_blob, "".join(kept))
    if held and not dropping:
        yield _BASE64_RUN.sub(_blob, held)


def _cut_long(words: list[str]) -> list[str]:
    if all(len(word) <= MAX_WORD_CHARS for word in words):
        return words
    cut: list[str] = []
    for word in words:
        if len(word) <= MAX_WORD_CHARS:
            cut.append(word)
        else:
            cut.extend(word[i : i + MAX_WORD_CHARS] for i in range(0, len(word), MAX_WORD_CHARS))
    return cut


def model_token_counter(model: str, backend: str) -> TokenCounter:
    """Count with ``model``'s own tokenizer when it is on disk; else approximate.

    Server-only models (``infinity-server``) have no local tokenizer: their chunks are sized by
    the approximation, and the server truncates what is longer than the model's window.
    """
    if backend == "infinity-server":
        return approximate_tokens
    from pathlib import Path

    from msearch.backends._loading import locate_model
    from msearch.errors import MSearchError

    try:
        folder = locate_model(model)
    except MSearchError:
        return approximate_tokens
    fast = Path(folder) / "tokenizer.json"
    if fast.is_file():  # the same tokenizer, without importing transformers
        try:
            return _fast_counter(fast)
        except ImportError:
            pass
        except Exception:  # tokenizers reports an unreadable file as a bare Exception
            return approximate_tokens
    try:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(folder)
    except (ImportError, OSError, ValueError, MSearchError):
        return approximate_tokens
    return tokenizer_counter(tokenizer)


def _fast_counter(path: object) -> TokenCounter:
    """Count tokens per word with the ``tokenizers`` file a fast tokenizer is saved as."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_truncation()
    tokenizer.no_padding()

    def count(words: list[str]) -> list[int]:
        return [len(e.ids) for e in tokenizer.encode_batch(words, add_special_tokens=False)]

    return count
