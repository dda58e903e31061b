"""The ``"flag"`` embedding backend: FlagEmbedding's BGE-M3 and plain BGE dense models.

FlagEmbedding loads the model (``BGEM3FlagModel`` / ``FlagModel``) and supplies the model
code (BGE-M3's dense, sparse and ColBERT heads, the pooling); msearch tokenizes, batches
by length and runs each batch once. One BGE-M3 pass yields all three outputs, so:

- every ``FlagEmbedder`` on the same folder, dtype and device shares one loaded model;
- each pass computes dense and sparse together and remembers them per text for a while, so
  a sparse call that follows a dense call on the same texts (what LangChain's and
  LlamaIndex's hybrid Qdrant stores do) costs no second pass; ``embed_documents_hybrid``
  asks for both at once.

Texts longer than the model's maximum length are truncated to it (BGE-M3: 8192 tokens).
"""

from __future__ import annotations

import pickle
import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from msearch._deps import require
from msearch.backends._loading import locate_model, model_not_found
from msearch.backends.base import (
    BlockingModel,
    SparseVector,
    TextEmbedderBase,
    check_text,
    check_texts,
)
from msearch.batching import sorted_batches, with_progress
from msearch.errors import BackendError, InvalidInputError, ModelNotFoundError, MSearchError
from msearch.models import ModelSpec, Pooling
from msearch.sparse import SparseEmbedderBase, sparse_from_weights

_HEADS = ("sparse_linear.pt", "colbert_linear.pt")
#: How many texts' dense+sparse outputs a loaded BGE-M3 remembers for a following call.
MEMO_SIZE = 4096


class _Runtime:
    """One loaded FlagEmbedding model, shared by every embedder on the same folder and setup."""

    def __init__(self, flag: Any, m3: bool, device: str, default_max_length: int) -> None:
        self.flag = flag
        self.m3 = m3
        self.device = device
        self.default_max_length = default_max_length
        self.lock = threading.RLock()
        self.dim = int(flag.model.config.hidden_size)
        self.memo: OrderedDict[tuple[str, int], tuple[np.ndarray, SparseVector]] = OrderedDict()
        skip = {"cls_token", "eos_token", "pad_token", "unk_token"}
        tokenizer = flag.tokenizer
        # the same tokens FlagEmbedding leaves out of lexical weights
        self.unused_ids = {
            tokenizer.convert_tokens_to_ids(token)
            for name, token in tokenizer.special_tokens_map.items()
            if name in skip and isinstance(token, str)
        }


_RUNTIMES: weakref.WeakValueDictionary[tuple[Any, ...], _Runtime] = weakref.WeakValueDictionary()
_RUNTIMES_LOCK = threading.Lock()


class _FlagModel(BlockingModel):
    """The options both FlagEmbedding models take, and how either builds its model.

    Listed before the public base, whose ``__init__`` receives the remaining options.
    """

    spec: ModelSpec

    def __init__(
        self,
        spec: ModelSpec,
        *,
        device: str | None = None,
        dtype: str = "float32",
        fp16: bool = False,
        trust_remote_code: bool = False,
        **options: Any,
    ) -> None:
        super().__init__(spec, **options)
        self.dtype = flag_dtype(dtype, fp16)
        self.device = device
        self.trust_remote_code = trust_remote_code

    def _build(self, class_name: str, folder: str, **options: Any) -> tuple[Any, str]:
        """``FlagEmbedding.<class_name>`` on ``folder``, and the device it runs on."""
        flag_embedding = require("FlagEmbedding", "flag")
        torch = require("torch", "flag")
        device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        try:
            flag = getattr(flag_embedding, class_name)(
                folder,
                use_fp16=self.dtype == "float16",
                use_bf16=self.dtype == "bfloat16",
                devices=device,
                trust_remote_code=self.trust_remote_code,
                **options,
            )
        except MSearchError:
            raise
        except OSError as err:
            raise model_not_found(self.spec.name, err) from err
        return flag, device


class FlagEmbedder(_FlagModel, TextEmbedderBase, SparseEmbedderBase):
    """Dense, sparse and ColBERT embeddings from FlagEmbedding models, loaded on first use.

    A BGE-M3 folder (with ``sparse_linear.pt`` and ``colbert_linear.pt``) serves all three;
    a plain BGE model (bge-small-en-v1.5, bge-large-zh-v1.5) serves dense only, with its query
    instruction from the registry. Options: ``batch_size``, ``max_length`` (default: the
    registry's, else the tokenizer's), ``dtype`` or ``fp16=True``, ``device``.

    >>> from msearch.embeddings import text_embedder
    >>> from msearch.sparse import sparse_embedder
    >>> dense = text_embedder("BAAI/bge-m3", backend="flag")  # doctest: +SKIP
    >>> sparse = sparse_embedder("BAAI/bge-m3", backend="flag")  # same model, loaded once
    >>> vectors, lexical = dense.embed_documents_hybrid(["Qdrant stores vectors."])  # +SKIP
    """

    def __init__(
        self,
        spec: ModelSpec,
        *,
        max_length: int | None = None,
        **options: Any,
    ) -> None:
        super().__init__(spec, **options)
        if max_length is not None and max_length < 1:
            raise ValueError(f"max_length must be >= 1, got {max_length}")
        if spec.pooling is Pooling.LAST_TOKEN:
            raise InvalidInputError("FlagEmbedding pools by cls or mean, not last_token")
        self.max_length = max_length or spec.max_tokens
        # the spec's pooling (the caller's or the registry's); CLS, every BGE model's, otherwise
        self.pooling = (spec.pooling or Pooling.CLS).value

    # -- loading ---------------------------------------------------------------------
    def _load(self) -> _Runtime:
        folder = local_folder(self.spec.name)
        m3 = all((Path(folder) / head).is_file() for head in _HEADS)
        if m3 and self.pooling != Pooling.CLS.value:
            raise InvalidInputError(
                f"{self.spec.name} is a BGE-M3 model, whose dense vector is its CLS token; "
                f"pooling={self.pooling!r} cannot apply"
            )
        if self.spec.sparse and not m3:
            raise ModelNotFoundError(
                f"{self.spec.name} ({folder}) lacks {' and '.join(_HEADS)}: without them "
                "FlagEmbedding would silently use random sparse/ColBERT heads"
            )
        key = (folder, self.dtype, self.device, self.trust_remote_code, self.pooling, m3)
        with _RUNTIMES_LOCK:
            runtime = _RUNTIMES.get(key)
            if runtime is None:
                runtime = self._build_runtime(folder, m3)
                _RUNTIMES[key] = runtime
        if self.dimensions is not None and self.dimensions > runtime.dim:
            raise InvalidInputError(
                f"dimensions={self.dimensions} is larger than {self.spec.name}'s {runtime.dim}"
            )
        return runtime

    def _build_runtime(self, folder: str, m3: bool) -> _Runtime:
        try:
            if m3:
                flag, device = self._build("BGEM3FlagModel", folder, normalize_embeddings=True)
            else:
                flag, device = self._build(
                    "FlagModel", folder, normalize_embeddings=True, pooling_method=self.pooling
                )
        except pickle.UnpicklingError as err:
            raise BackendError(
                f"{folder}: sparse_linear.pt/colbert_linear.pt hold more than tensors; they are "
                f"loaded with torch.load(weights_only=True), which refuses them ({err})"
            ) from err
        flag.model.to(device).eval()
        limit = int(getattr(flag.tokenizer, "model_max_length", 0) or 0)
        return _Runtime(flag, m3, device, limit if 0 < limit < 1_000_000 else 512)

    def _model_dim(self) -> int:
        return int(self.loaded.dim)

    def _max_length(self, runtime: _Runtime) -> int:
        # per embedder: embedders sharing one loaded model may truncate differently
        return self.max_length or runtime.default_max_length

    @property
    def is_m3(self) -> bool:
        """Whether the loaded model has BGE-M3's sparse and ColBERT heads (loads the model)."""
        return bool(self.loaded.m3)

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
        return self._encode_dense_only(texts)

    def _encode_sparse(self, texts: list[str]) -> list[SparseVector]:
        runtime = self.loaded
        if not runtime.m3:
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

    def _encode_dense_only(self, texts: list[str]) -> np.ndarray:
        runtime = self.loaded
        with runtime.lock:
            return np.stack(self._run(runtime, texts, colbert=False)["dense"])

    def _run(self, runtime: _Runtime, texts: list[str], colbert: bool) -> dict[str, list[Any]]:
        """Tokenize, batch by length and run each batch through the model once."""
        torch = require("torch", "flag")
        results: dict[str, list[Any]] = {"dense": [None] * len(texts)}
        if runtime.m3:
            results["sparse"] = [None] * len(texts)
            if colbert:
                results["colbert"] = [None] * len(texts)
        batches = sorted_batches(texts, self.batch_size)
        for positions in with_progress(batches, self.show_progress, "embedding"):
            try:
                with torch.inference_mode():
                    outputs = self._forward(runtime, [texts[i] for i in positions], colbert)
            except MSearchError:
                raise
            except Exception as err:  # torch/tokenizer failures become one typed error
                raise BackendError(f"FlagEmbedding failed on {self.spec.name}: {err}") from err
            for name, values in outputs.items():
                for position, value in zip(positions, values, strict=True):
                    results[name][position] = value
        return results

    def _forward(self, runtime: _Runtime, batch: list[str], colbert: bool) -> dict[str, list[Any]]:
        flag = runtime.flag
        inputs = flag.tokenizer(
            batch,
            padding=True,
            truncation=True,
            max_length=self._max_length(runtime),
            return_tensors="pt",
        ).to(runtime.device)
        if not runtime.m3:
            hidden = flag.model(**inputs, return_dict=True).last_hidden_state
            pooled = flag.pooling(hidden, inputs["attention_mask"])
            return {"dense": list(pooled.float().cpu().numpy())}
        out = flag.model(inputs, return_dense=True, return_sparse=True, return_colbert_vecs=colbert)
        ids = inputs["input_ids"].cpu().numpy()
        mask = inputs["attention_mask"].cpu().numpy()
        weights = out["sparse_vecs"].squeeze(-1).float().cpu().numpy()
        result: dict[str, list[Any]] = {
            "dense": list(out["dense_vecs"].float().cpu().numpy()),
            "sparse": [
                _lexical(row_ids[row_mask > 0], row_weights[row_mask > 0], runtime.unused_ids)
                for row_ids, row_weights, row_mask in zip(ids, weights, mask, strict=True)
            ],
        }
        if colbert:
            vectors = out["colbert_vecs"].float().cpu().numpy()
            # ColBERT drops the CLS position, so a text's vectors are its tokens minus one
            result["colbert"] = [
                np.ascontiguousarray(row[: int(row_mask.sum()) - 1], dtype=np.float32)
                for row, row_mask in zip(vectors, mask, strict=True)
            ]
        return result


def _lexical(ids: np.ndarray, weights: np.ndarray, unused: set[int]) -> SparseVector:
    keep = np.array([token not in unused for token in ids.tolist()], dtype=bool)
    return sparse_from_weights(ids[keep].tolist(), weights[keep].tolist())


def local_folder(name: str) -> str:
    """A local folder holding the model: the name itself, or its hub snapshot."""
    located = locate_model(name)
    if Path(located).is_dir():
        return located
    hub = require("huggingface_hub", "flag")
    try:
        return str(hub.snapshot_download(repo_id=located))
    except Exception as err:  # the hub client raises many unrelated types for "not available"
        raise model_not_found(name, err) from err


def flag_dtype(dtype: str, fp16: bool) -> str:
    """The precision a FlagEmbedding model runs in: ``fp16=True`` is the older spelling."""
    if dtype not in ("float32", "float16", "bfloat16"):
        raise ValueError(f"dtype must be float32, float16 or bfloat16, got {dtype!r}")
    return "float16" if fp16 else dtype
