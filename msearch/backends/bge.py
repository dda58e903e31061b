"""BGE encoders: BGE-M3 (dense, sparse and ColBERT from one pass) and plain BGE dense models.

``BGEEmbedder`` holds everything but the model call: options, one loaded model shared by
every embedder on the same folder and setup, batching by length, and a memo of each text's
dense and sparse outputs, so a sparse call that follows a dense call on the same texts (what
LangChain's and LlamaIndex's hybrid Qdrant stores do) costs no second pass;
``embed_documents_hybrid`` asks for both at once.

The model call is its ``code`` (a ``ModelCode``), one of two: ``"transformers"``
(``TransformersCode`` here: msearch computes BGE-M3 from the XLM-R hidden states and the two
head files, on any transformers version) and ``"flag"`` (``msearch.backends.flag``:
FlagEmbedding's own model code, where FlagEmbedding imports).
Both give the same numbers on the same weights (a parity test holds them to it).

BGE-M3, as FlagEmbedding defines it: dense = the normalized CLS hidden state; sparse = the
ReLU of ``sparse_linear`` per token, the largest weight per token id, special tokens
dropped; ColBERT = the normalized ``colbert_linear`` of every token after CLS.
Texts longer than the model's maximum length are truncated to it (BGE-M3: 8192 tokens).
"""

from __future__ import annotations

import abc
import pickle
import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from msearch._deps import require
from msearch.backends._loading import locate_model, model_not_found, torch_dtype
from msearch.backends.base import (
    BlockingModel,
    DenseSparseEmbedderBase,
    EmbedOptions,
    check_text,
    check_texts,
)
from msearch.batching import sorted_batches, with_progress
from msearch.datatypes import SparseVector, sparse_from_weights
from msearch.errors import BackendError, InvalidInputError, ModelNotFoundError, MSearchError
from msearch.models import ModelSpec, Pooling

HEADS = ("sparse_linear.pt", "colbert_linear.pt")
#: How many texts' dense+sparse outputs a loaded BGE-M3 remembers for a following call.
MEMO_SIZE = 4096
#: The special tokens BGE-M3 leaves out of its lexical weights.
_UNWEIGHTED = {"cls_token", "eos_token", "pad_token", "unk_token"}


class Runtime:
    """One loaded model, shared by every embedder on the same folder and setup.

    ``model`` is what the ``ModelCode``'s ``forward`` calls; ``tokenizer`` a Hugging Face one.
    """

    def __init__(self, model: Any, tokenizer: Any, dim: int, m3: bool, device: str) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.dim = dim
        self.m3 = m3
        self.device = device
        limit = int(getattr(tokenizer, "model_max_length", 0) or 0)
        # a tokenizer with no configured limit reports a huge sentinel
        self.default_max_length = limit if 0 < limit < 1_000_000 else 512
        self.lock = threading.RLock()
        self.memo: OrderedDict[tuple[str, int], tuple[np.ndarray, SparseVector]] = OrderedDict()
        self.unused_ids = {
            tokenizer.convert_tokens_to_ids(token)
            for name, token in tokenizer.special_tokens_map.items()
            if name in _UNWEIGHTED and isinstance(token, str)
        }


_RUNTIMES: weakref.WeakValueDictionary[tuple[Any, ...], Runtime] = weakref.WeakValueDictionary()
_RUNTIMES_LOCK = threading.Lock()


@dataclass(frozen=True, kw_only=True)
class BGEOptions(EmbedOptions):
    """The options of both BGE backends: ``max_length`` (default: the registry's, else the
    tokenizer's), ``dtype`` (``float32``, ``bfloat16``, ``float16``; or ``fp16=True``),
    ``device``, ``trust_remote_code``."""

    max_length: int | None = None
    device: str | None = None
    dtype: str = "float32"
    fp16: bool = False
    trust_remote_code: bool = False


@dataclass(frozen=True)
class Setup:
    """How a model is loaded and pooled: part of the key its shared ``Runtime`` is kept by."""

    dtype: str
    trust_remote_code: bool
    pooling: Pooling


class ModelCode(abc.ABC):
    """The code that loads a BGE model and computes its outputs for one tokenized batch."""

    #: The extra that installs this code's library, named in errors.
    extra = ""

    @abc.abstractmethod
    def build(self, folder: str, m3: bool, device: str, setup: Setup) -> Runtime:
        """Load the model in ``folder`` (with BGE-M3's heads when ``m3``) onto ``device``."""

    @abc.abstractmethod
    def forward(
        self, runtime: Runtime, inputs: Any, colbert: bool, pooling: Pooling
    ) -> dict[str, Any]:
        """Tensors for one tokenized batch: ``dense`` (pooled; ``_finish`` normalizes it
        when asked), and for BGE-M3 also ``token_weights`` (batch, tokens) and, when
        ``colbert``, ``colbert`` (batch, tokens - 1, dim), each vector normalized."""


class TransformersCode(ModelCode):
    """BGE models computed by msearch on transformers: the pooled hidden state, and BGE-M3's
    heads applied as FlagEmbedding defines them."""

    extra = "transformers"

    def build(self, folder: str, m3: bool, device: str, setup: Setup) -> Runtime:
        transformers = require("transformers", self.extra)
        torch = require("torch", self.extra)
        dtype = torch_dtype(setup.dtype)
        tokenizer = transformers.AutoTokenizer.from_pretrained(
            folder, trust_remote_code=setup.trust_remote_code
        )
        encoder = transformers.AutoModel.from_pretrained(
            folder, trust_remote_code=setup.trust_remote_code, dtype=dtype
        )
        model = torch.nn.ModuleDict({"encoder": encoder})
        if m3:
            for head in HEADS:
                state = torch.load(Path(folder) / head, map_location="cpu", weights_only=True)
                out_features, in_features = state["weight"].shape
                layer = torch.nn.Linear(in_features, out_features)
                layer.load_state_dict(state)
                model[head.removesuffix(".pt")] = layer
        model.to(device=device, dtype=dtype).eval()
        return Runtime(model, tokenizer, int(encoder.config.hidden_size), m3, device)

    def forward(
        self, runtime: Runtime, inputs: Any, colbert: bool, pooling: Pooling
    ) -> dict[str, Any]:
        torch = require("torch", self.extra)
        normalize = torch.nn.functional.normalize
        hidden = runtime.model["encoder"](**inputs, return_dict=True).last_hidden_state
        mask = inputs["attention_mask"]
        if pooling is Pooling.MEAN:
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(dim=1) / weights.sum(dim=1)
        else:
            pooled = hidden[:, 0]
        out = {"dense": pooled}
        if runtime.m3:
            out["token_weights"] = torch.relu(runtime.model["sparse_linear"](hidden)).squeeze(-1)
            if colbert:
                vectors = runtime.model["colbert_linear"](hidden[:, 1:])
                vectors = vectors * mask[:, 1:].unsqueeze(-1).to(vectors.dtype)
                out["colbert"] = normalize(vectors, dim=-1)
        return out


class BGEEmbedder(BlockingModel, DenseSparseEmbedderBase):
    """Dense, sparse and ColBERT embeddings from BGE models, loaded on first use.

    The ``"transformers"`` text and sparse backend: BGE models computed by msearch, needing
    only torch and transformers (any version msearch supports), so BGE-M3 hybrid search runs
    where FlagEmbedding does not import. ``FlagEmbedder`` is the same class on FlagEmbedding's
    code. A BGE-M3 folder (with ``sparse_linear.pt`` and ``colbert_linear.pt``) serves all
    three; a plain BGE model (bge-small-en-v1.5, bge-large-zh-v1.5) serves dense only, with its
    query instruction from the registry. Options: ``BGEOptions``.

    >>> from msearch.embeddings import text_embedder
    >>> from msearch.sparse import sparse_embedder
    >>> dense = text_embedder("BAAI/bge-m3", backend="transformers")  # doctest: +SKIP
    >>> sparse = sparse_embedder("BAAI/bge-m3", backend="transformers")  # one model, loaded once
    >>> vectors, lexical = dense.embed_documents_hybrid(["Qdrant stores vectors."])  # +SKIP
    """

    Options: ClassVar[type[BGEOptions]] = BGEOptions
    options: BGEOptions
    code: ClassVar[ModelCode] = TransformersCode()

    def __init__(self, spec: ModelSpec, options: BGEOptions | None = None) -> None:
        super().__init__(spec, options)
        max_length = self.options.max_length
        if max_length is not None and max_length < 1:
            raise ValueError(f"max_length must be >= 1, got {max_length}")
        if spec.pooling is Pooling.LAST_TOKEN:
            raise InvalidInputError("BGE models pool by cls or mean, not last_token")
        self.max_length = max_length or spec.max_tokens
        # the spec's pooling (the caller's or the registry's); CLS, every BGE model's, otherwise
        self.pooling = spec.pooling or Pooling.CLS
        self.setup = Setup(
            checked_dtype(self.options.dtype, self.options.fp16),
            self.options.trust_remote_code,
            self.pooling,
        )

    # -- loading ---------------------------------------------------------------------
    def _load(self) -> Runtime:
        extra = self.code.extra
        folder = local_folder(self.spec.name, extra)
        m3 = all((Path(folder) / head).is_file() for head in HEADS)
        if m3 and self.pooling is not Pooling.CLS:
            raise InvalidInputError(
                f"{self.spec.name} is a BGE-M3 model, whose dense vector is its CLS token; "
                f"pooling={self.pooling.value!r} cannot apply"
            )
        if self.spec.sparse and not m3:
            raise ModelNotFoundError(
                f"{self.spec.name} ({folder}) lacks {' and '.join(HEADS)}: without them "
                "its sparse and ColBERT vectors would come from random heads"
            )
        torch = require("torch", extra)
        device = self.options.device or ("cuda" if torch.cuda.is_available() else "cpu")
        key = (type(self.code), folder, device, m3, self.setup)
        with _RUNTIMES_LOCK:
            runtime = _RUNTIMES.get(key)
            if runtime is None:
                try:
                    runtime = self.code.build(folder, m3, device, self.setup)
                except MSearchError:
                    raise
                except pickle.UnpicklingError as err:
                    raise BackendError(
                        f"{folder}: {' and '.join(HEADS)} hold more than tensors; they are "
                        f"loaded with torch.load(weights_only=True), which refuses them ({err})"
                    ) from err
                except OSError as err:
                    raise model_not_found(self.spec.name, err) from err
                _RUNTIMES[key] = runtime
        if self.dimensions is not None and self.dimensions > runtime.dim:
            raise InvalidInputError(
                f"dimensions={self.dimensions} is larger than {self.spec.name}'s {runtime.dim}"
            )
        return runtime

    def _model_dim(self) -> int:
        return int(self.loaded.dim)

    def _max_length(self, runtime: Runtime) -> int:
        # per embedder: embedders sharing one loaded model may truncate differently
        return self.max_length or runtime.default_max_length

    # -- public extras ----------------------------------------------------------------
    def embed_documents_hybrid(self, texts: Sequence[str]) -> tuple[np.ndarray, list[SparseVector]]:
        """Dense vectors and sparse vectors for ``texts`` from one forward pass per batch."""
        items = self._document_inputs(texts)
        if not items:
            return self._empty(), []
        dense, sparse = self._sync(self._encode_both, items)
        return self._finish(dense), sparse

    async def aembed_documents_hybrid(
        self, texts: Sequence[str]
    ) -> tuple[np.ndarray, list[SparseVector]]:
        items = self._document_inputs(texts)
        if not items:
            return self._empty(), []
        dense, sparse = await self._async(self._encode_both, items)
        return self._finish(dense), sparse

    def embed_query_hybrid(self, text: str) -> tuple[np.ndarray, SparseVector]:
        dense, sparse = self._sync(self._encode_both, [self._query_input(text, None)])
        return self._finish(dense)[0], sparse[0]

    async def aembed_query_hybrid(self, text: str) -> tuple[np.ndarray, SparseVector]:
        dense, sparse = await self._async(self._encode_both, [self._query_input(text, None)])
        return self._finish(dense)[0], sparse[0]

    def embed_documents_colbert(self, texts: Sequence[str]) -> list[np.ndarray]:
        """BGE-M3's ColBERT token vectors: one (tokens - 1, dim) array per text, normalized."""
        items = check_texts(texts)
        if not items:
            return []
        return list(self._sync(self._encode_colbert, items))

    async def aembed_documents_colbert(self, texts: Sequence[str]) -> list[np.ndarray]:
        items = check_texts(texts)
        if not items:
            return []
        return list(await self._async(self._encode_colbert, items))

    def embed_query_colbert(self, text: str) -> np.ndarray:
        return self._sync(self._encode_colbert, [check_text(text)])[0]  # type: ignore[no-any-return]

    # -- backend hooks ------------------------------------------------------------------
    def _encode(self, texts: list[str]) -> np.ndarray:
        if self.loaded.m3:
            return self._encode_both(texts)[0]
        runtime = self.loaded
        with runtime.lock:
            return np.stack(self._run(runtime, texts, colbert=False)["dense"])

    def _encode_sparse(self, texts: list[str]) -> list[SparseVector]:
        if not self.loaded.m3:
            raise InvalidInputError(
                f"{self.spec.name} has no sparse head (sparse_linear.pt): sparse vectors need a "
                "BGE-M3-style model such as BAAI/bge-m3"
            )
        return self._encode_both(texts)[1]

    # -- the work -----------------------------------------------------------------------
    def _encode_both(self, texts: list[str]) -> tuple[np.ndarray, list[SparseVector]]:
        runtime = self.loaded
        if not runtime.m3:
            raise InvalidInputError(
                f"{self.spec.name} has no sparse head: hybrid embeddings need a BGE-M3-style model"
            )
        with runtime.lock:
            max_length = self._max_length(runtime)
            keys = [(text, max_length) for text in texts]
            missing = list(dict.fromkeys(key[0] for key in keys if key not in runtime.memo))
            if missing:
                outputs = self._run(runtime, missing, colbert=False)
                for text, dense, sparse in zip(
                    missing, outputs["dense"], outputs["sparse"], strict=True
                ):
                    runtime.memo[(text, max_length)] = (dense, sparse)
            found = [runtime.memo[key] for key in keys]
            for key in keys:
                runtime.memo.move_to_end(key)
            while len(runtime.memo) > MEMO_SIZE:
                runtime.memo.popitem(last=False)
        return np.stack([dense for dense, _ in found]), [sparse for _, sparse in found]

    def _encode_colbert(self, texts: list[str]) -> list[np.ndarray]:
        runtime = self.loaded
        if not runtime.m3:
            raise InvalidInputError(f"{self.spec.name} has no ColBERT head (colbert_linear.pt)")
        with runtime.lock:
            return list(self._run(runtime, texts, colbert=True)["colbert"])

    def _run(self, runtime: Runtime, texts: list[str], colbert: bool) -> dict[str, list[Any]]:
        """Tokenize, batch by length and run each batch through the model once."""
        torch = require("torch", self.code.extra)
        results: dict[str, list[Any]] = {"dense": [None] * len(texts)}
        if runtime.m3:
            results["sparse"] = [None] * len(texts)
            if colbert:
                results["colbert"] = [None] * len(texts)
        batches = sorted_batches(texts, self.batch_size)
        for positions in with_progress(batches, self.show_progress, "embedding"):
            try:
                with torch.inference_mode():
                    outputs = self._batch(runtime, [texts[i] for i in positions], colbert)
            except MSearchError:
                raise
            except Exception as err:  # torch/tokenizer failures become one typed error
                raise BackendError(f"embedding with {self.spec.name} failed: {err}") from err
            for name, values in outputs.items():
                for position, value in zip(positions, values, strict=True):
                    results[name][position] = value
        return results

    def _batch(self, runtime: Runtime, batch: list[str], colbert: bool) -> dict[str, list[Any]]:
        inputs = runtime.tokenizer(
            batch,
            padding=True,
            truncation=True,
            max_length=self._max_length(runtime),
            return_tensors="pt",
        ).to(runtime.device)
        out = self.code.forward(runtime, inputs, colbert and runtime.m3, self.pooling)
        result: dict[str, list[Any]] = {"dense": list(out["dense"].float().cpu().numpy())}
        if not runtime.m3:
            return result
        ids = inputs["input_ids"].cpu().numpy()
        mask = inputs["attention_mask"].cpu().numpy()
        weights = out["token_weights"].float().cpu().numpy()
        result["sparse"] = [
            _lexical(row_ids[row_mask > 0], row_weights[row_mask > 0], runtime.unused_ids)
            for row_ids, row_weights, row_mask in zip(ids, weights, mask, strict=True)
        ]
        if colbert:
            vectors = out["colbert"].float().cpu().numpy()
            # ColBERT drops the CLS position, so a text's vectors are its tokens minus one
            result["colbert"] = [
                np.ascontiguousarray(row[: int(row_mask.sum()) - 1], dtype=np.float32)
                for row, row_mask in zip(vectors, mask, strict=True)
            ]
        return result


def _lexical(ids: np.ndarray, weights: np.ndarray, unused: set[int]) -> SparseVector:
    keep = np.array([token not in unused for token in ids.tolist()], dtype=bool)
    return sparse_from_weights(ids[keep].tolist(), weights[keep].tolist())


def local_folder(name: str, extra: str) -> str:
    """A local folder holding the model: the name itself, or its hub snapshot."""
    located = locate_model(name)
    if Path(located).is_dir():
        return located
    hub = require("huggingface_hub", extra)
    try:
        return str(hub.snapshot_download(repo_id=located))
    except Exception as err:  # the hub client raises many unrelated types for "not available"
        raise model_not_found(name, err) from err


def checked_dtype(dtype: str, fp16: bool) -> str:
    """The precision a model runs in: ``fp16=True`` is FlagEmbedding's older spelling."""
    if dtype not in ("float32", "float16", "bfloat16"):
        raise ValueError(f"dtype must be float32, float16 or bfloat16, got {dtype!r}")
    return "float16" if fp16 else dtype
