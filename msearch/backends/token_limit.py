"""Over-long inputs for server-backed models: caught here, cut here, or left to the server.

Servers differ on a text longer than the model's window: vLLM and llama.cpp refuse it, TEI
refuses or truncates depending on how it was started, Ollama truncates silently. So msearch
counts tokens itself, with the model's own ``tokenizer.json`` when its files are on this
machine, and ``truncate`` says what happens past the limit:

- ``"error"`` (the default where the tokenizer is here): an InvalidInputError naming the
  input and its length;
- ``"end"``: the text is cut at the limit, as the in-process backends do, and a warning says
  how many inputs were cut;
- ``"server"`` (the default where no tokenizer is here): inputs go as they are, and the
  server decides (docs/backends.md lists what each one does).
"""

from __future__ import annotations

import importlib.util
import json
import logging
from pathlib import Path
from typing import Any

from msearch._deps import require
from msearch.backends._loading import locate_model
from msearch.errors import InvalidInputError
from msearch.models import ModelSpec

logger = logging.getLogger("msearch")

TRUNCATE_MODES = ("error", "end", "server")
_UNSET_MAX_LENGTH = 1_000_000


def tokenizer_file(name: str) -> Path | None:
    """The model's ``tokenizer.json`` on this machine: its folder, packaged copy or hub cache."""
    try:
        folder = Path(locate_model(name))
    except Exception:  # a missing folder: the server may still know the name
        return None
    if (folder / "tokenizer.json").is_file():
        return folder / "tokenizer.json"
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    cached = try_to_load_from_cache(name, "tokenizer.json")
    return Path(cached) if isinstance(cached, str) else None


def folder_limit(folder: Path, max_tokens: int | None) -> int | None:
    """The longest input the model takes, read as the in-process backends read it.

    The smallest of ``max_tokens`` (the registry's or the caller's), the sentence-transformers
    ``max_seq_length``, the tokenizer's ``model_max_length`` and the position table's size.
    """
    limits = [max_tokens] if max_tokens else []
    for file, key in (
        ("sentence_bert_config.json", "max_seq_length"),
        ("tokenizer_config.json", "model_max_length"),
        ("config.json", "max_position_embeddings"),
    ):
        try:
            value = json.loads((folder / file).read_text(encoding="utf-8")).get(key)
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(value, int | float) and 0 < value < _UNSET_MAX_LENGTH:
            limits.append(int(value))
    return min(limits) if limits else None


def counted_here(name: str) -> bool:
    """Whether msearch can count ``name``'s tokens: its tokenizer.json and ``tokenizers``."""
    return _countable(tokenizer_file(name))


def _countable(file: Path | None) -> bool:
    return file is not None and importlib.util.find_spec("tokenizers") is not None


class TokenLimit:
    """The ``truncate`` option of one server-backed model, applied before each request."""

    def __init__(self, spec: ModelSpec, truncate: str | None) -> None:
        if truncate is not None and truncate not in TRUNCATE_MODES:
            raise InvalidInputError(
                f"truncate={truncate!r}: choose one of {', '.join(TRUNCATE_MODES)}"
            )
        self._file = tokenizer_file(spec.name)
        if truncate in ("error", "end"):
            if self._file is None:
                raise InvalidInputError(
                    f"truncate={truncate!r} needs {spec.name}'s tokenizer.json on this machine "
                    "(its folder, packaged copy or hub cache) to count tokens; pass the "
                    "model's folder, or truncate='server' to leave long inputs to the server"
                )
            require("tokenizers", "servers")
        self.mode = truncate or ("error" if _countable(self._file) else "server")
        self.limit = folder_limit(self._file.parent, spec.max_tokens) if self._file else None
        if self.mode != "server" and self.limit is None:
            raise InvalidInputError(
                f"truncate={self.mode!r}: nothing says how many tokens {spec.name} takes; "
                "pass max_tokens=, or truncate='server'"
            )
        self._tokenizer: Any = None

    def _encoder(self) -> Any:
        if self._tokenizer is None:
            tokenizers = require("tokenizers", "servers")
            tokenizer = tokenizers.Tokenizer.from_file(str(self._file))
            tokenizer.no_padding()
            tokenizer.no_truncation()
            self._tokenizer = tokenizer
        return self._tokenizer

    def texts(self, texts: list[str], what: str = "texts") -> list[str]:
        """``texts`` as the server gets them: checked, or cut to the limit."""
        if self.mode == "server" or self.limit is None or not texts:
            return texts
        encodings = self._encoder().encode_batch(texts)
        long = [i for i, e in enumerate(encodings) if len(e.ids) > self.limit]
        if not long:
            return texts
        if self.mode == "error":
            raise self._too_long(what, long[0], len(encodings[long[0]].ids), len(long))
        out = list(texts)
        for i in long:
            out[i] = texts[i][: _kept_chars(encodings[i], self.limit, sequence=0)]
        logger.warning(
            "msearch: cut %d of %d %s to %d tokens", len(long), len(texts), what, self.limit
        )
        return out

    def documents(self, query: str, documents: list[str]) -> list[str]:
        """Rerank documents as the server gets them: each (query, document) pair within the
        limit, the document cut from its end under ``"end"``."""
        if self.mode == "server" or self.limit is None or not documents:
            return documents
        encodings = self._encoder().encode_batch([(query, doc) for doc in documents])
        long = [i for i, e in enumerate(encodings) if len(e.ids) > self.limit]
        if not long:
            return documents
        if self.mode == "error":
            raise self._too_long(
                "documents", long[0], len(encodings[long[0]].ids), len(long), pair=True
            )
        query_tokens = sum(1 for s in encodings[long[0]].sequence_ids if s == 0)
        if query_tokens >= self.limit - 3:
            raise InvalidInputError(
                f"the rerank query alone has {query_tokens} tokens, at the model's limit of "
                f"{self.limit}; shorten it"
            )
        out = list(documents)
        for i in long:
            out[i] = documents[i][: _kept_chars(encodings[i], self.limit, sequence=1)]
        logger.warning(
            "msearch: cut %d of %d rerank documents to fit %d tokens with the query",
            len(long),
            len(documents),
            self.limit,
        )
        return out

    def _too_long(
        self, what: str, first: int, length: int, count: int, pair: bool = False
    ) -> Exception:
        item = f"the query with {what}[{first}]" if pair else f"{what}[{first}]"
        return InvalidInputError(
            f"{item} has {length} tokens, over the model's limit of {self.limit} "
            f"({count} input(s) over in this call); split it, or pass truncate='end' to cut "
            "long inputs at the limit as the in-process backends do"
        )


def _kept_chars(encoding: Any, limit: int, sequence: int) -> int:
    """How many characters of one sequence of ``encoding`` fit in ``limit`` tokens in all.

    Tokens are dropped from the end of that sequence until the whole encoding fits; the cut
    falls where the last kept token ends in the original text, so re-tokenizing the cut text
    gives the kept tokens.
    """
    over = len(encoding.ids) - limit
    positions = [i for i, s in enumerate(encoding.sequence_ids) if s == sequence]
    kept = positions[: max(0, len(positions) - over)]
    return int(encoding.offsets[kept[-1]][1]) if kept else 0
