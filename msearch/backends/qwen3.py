"""The ``"qwen3"`` embedding backend: Qwen3-Embedding on transformers, per the official recipe.

- The tokenizer appends ``<|endoftext|>`` to every text; texts are padded on the left.
- Pooling takes the last token's hidden state: ``[:, -1]`` when every row is left-padded,
  otherwise each row's last attended position (found from the attention mask).
- Queries get ``"Instruct: {task}\\nQuery:{query}"`` (no space after ``Query:``); documents
  get nothing. The task is set per instance (``task=``) or per call
  (``embed_query(text, task=...)``).
- ``dimensions`` (Matryoshka) keeps the first ``dimensions`` values, then L2-normalizes.
- Texts longer than ``max_length`` tokens are truncated (the appended ``<|endoftext|>`` is kept).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from msearch._deps import require
from msearch.backends._loading import locate_model, model_not_found, torch_dtype
from msearch.backends.base import BlockingModel, EmbedOptions, TextEmbedderBase
from msearch.batching import sorted_batches, with_progress
from msearch.errors import BackendError, InvalidInputError, MissingDependencyError, MSearchError
from msearch.models import ModelSpec, Pooling

_DEFAULT_TASK = "Given a web search query, retrieve relevant passages that answer the query"
_QUERY_PROMPT = "Instruct: {task}\nQuery:"


def qwen3_spec(spec: ModelSpec) -> ModelSpec:
    """``spec`` with Qwen3-Embedding's prompt, task and pooling where it does not set them."""
    if spec.pooling not in (None, Pooling.LAST_TOKEN):
        raise InvalidInputError(
            f"Qwen3-Embedding pools its last token; pooling={spec.pooling.value!r} cannot apply"
        )
    return spec.with_overrides(
        query_prompt=spec.query_prompt or _QUERY_PROMPT,
        default_task=spec.default_task or _DEFAULT_TASK,
        pooling=Pooling.LAST_TOKEN,
    )


def last_token_pool(hidden: Any, attention_mask: Any) -> Any:
    """Each row's hidden state at its last attended position."""
    if bool((attention_mask[:, -1] == 1).all()):
        return hidden[:, -1]
    torch = require("torch", "transformers")
    last = attention_mask.sum(dim=1) - 1
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]


def load_left_padded(
    name: str,
    auto_class: str,
    *,
    device: str | None,
    dtype: str,
    attn_implementation: str | None,
    trust_remote_code: bool,
) -> tuple[Any, Any, str]:
    """A left-padding tokenizer and an eval-mode model (``transformers.<auto_class>``) on device."""
    transformers = require("transformers", "transformers")
    torch = require("torch", "transformers")
    path = locate_model(name)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    extra = {"attn_implementation": attn_implementation} if attn_implementation else {}
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(
            path, padding_side="left", trust_remote_code=trust_remote_code
        )
        model = getattr(transformers, auto_class).from_pretrained(
            path, dtype=torch_dtype(dtype), trust_remote_code=trust_remote_code, **extra
        )
    except MSearchError:
        raise
    except ImportError as err:  # e.g. flash_attention_2 without the flash-attn package
        raise MissingDependencyError(
            f"{name} could not load with attn_implementation={attn_implementation!r}: {err}"
        ) from err
    except OSError as err:
        raise model_not_found(name, err) from err
    # some tokenizer configs override the argument; the pooling and the reranker need left
    tokenizer.padding_side = "left"
    return tokenizer, model.to(device).eval(), device


@dataclass(frozen=True, kw_only=True)
class Qwen3Loading:
    """How both Qwen3 models load: ``dtype`` (``"float32"``, ``"bfloat16"``, ``"float16"``),
    ``device``, ``attn_implementation`` (``"sdpa"``, ``"flash_attention_2"``, ``"eager"``;
    default: transformers' choice) and ``max_length`` (default: the registry's, else the
    tokenizer's)."""

    device: str | None = None
    dtype: str = "float32"
    attn_implementation: str | None = None
    max_length: int | None = None
    trust_remote_code: bool = False


@dataclass(frozen=True, kw_only=True)
class Qwen3EmbedOptions(EmbedOptions, Qwen3Loading):
    """The options of ``Qwen3TextEmbedder``."""


def check_max_length(options: Qwen3Loading, spec: ModelSpec) -> int | None:
    """The input limit asked for: the option, else the registry's (``None``: the tokenizer's)."""
    if options.max_length is not None and options.max_length < 1:
        raise ValueError(f"max_length must be >= 1, got {options.max_length}")
    return options.max_length or spec.max_tokens


def load_qwen3(
    spec: ModelSpec, options: Qwen3Loading, max_length: int | None, auto_class: str
) -> tuple[Any, Any, str, int]:
    """Tokenizer, model, device and the input limit: ``max_length``, else the tokenizer's."""
    tokenizer, model, device = load_left_padded(
        spec.name,
        auto_class,
        device=options.device,
        dtype=options.dtype,
        attn_implementation=options.attn_implementation,
        trust_remote_code=options.trust_remote_code,
    )
    limit = int(getattr(tokenizer, "model_max_length", 0) or 0)
    return tokenizer, model, device, max_length or (limit if 0 < limit < 1_000_000 else 8192)


class Qwen3TextEmbedder(BlockingModel, TextEmbedderBase):
    """Qwen3-Embedding (0.6B/4B/8B or any folder in its format) on transformers.

    Options (``Qwen3EmbedOptions``): ``task`` (the query instruction), ``dimensions``
    (Matryoshka), ``batch_size``, and the loading options of ``Qwen3Loading``.

    >>> from msearch.embeddings import text_embedder
    >>> qwen = text_embedder("Qwen/Qwen3-Embedding-0.6B", backend="qwen3", dimensions=256)
    >>> query = qwen.embed_query("capital?", task="Find the city asked about")  # doctest: +SKIP
    >>> docs = qwen.embed_documents(["Beijing is China's capital."])  # doctest: +SKIP
    """

    Options: ClassVar[type[Qwen3EmbedOptions]] = Qwen3EmbedOptions
    options: Qwen3EmbedOptions

    def __init__(self, spec: ModelSpec, options: Qwen3EmbedOptions | None = None) -> None:
        super().__init__(qwen3_spec(spec), options)
        self.max_length = check_max_length(self.options, self.spec)
        torch_dtype_names = ("float32", "bfloat16", "float16")
        if self.options.dtype not in torch_dtype_names:
            raise ValueError(
                f"dtype must be one of {torch_dtype_names}, got {self.options.dtype!r}"
            )

    def _load(self) -> tuple[Any, Any, str, int]:
        tokenizer, model, device, max_length = load_qwen3(
            self.spec, self.options, self.max_length, "AutoModel"
        )
        dim = int(model.config.hidden_size)
        if self.dimensions is not None and self.dimensions > dim:
            raise InvalidInputError(
                f"dimensions={self.dimensions} is larger than {self.spec.name}'s {dim}"
            )
        return tokenizer, model, device, max_length

    def _model_dim(self) -> int:
        return int(self.loaded[1].config.hidden_size)

    def _encode(self, texts: list[str]) -> np.ndarray:
        tokenizer, model, device, max_length = self.loaded
        torch = require("torch", "transformers")
        out = np.empty((len(texts), int(model.config.hidden_size)), dtype=np.float32)
        batches = sorted_batches(texts, self.batch_size)
        for positions in with_progress(batches, self.show_progress, "embedding"):
            try:
                inputs = tokenizer(
                    [texts[i] for i in positions],
                    padding=True,
                    truncation=True,
                    max_length=max_length,
                    return_tensors="pt",
                ).to(device)
                with torch.inference_mode():
                    hidden = model(**inputs).last_hidden_state
                    pooled = last_token_pool(hidden, inputs["attention_mask"])
            except MSearchError:
                raise
            except Exception as err:  # torch/tokenizer failures become one typed error
                raise BackendError(f"Qwen3 embedding failed on {self.spec.name}: {err}") from err
            out[positions] = pooled.float().cpu().numpy()
        return out
