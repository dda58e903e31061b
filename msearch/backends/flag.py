"""The ``"flag"`` backend: BGE models run by FlagEmbedding's own model code.

``FlagEmbedder`` serves BGE-M3 (dense, sparse, ColBERT from one pass) and plain BGE dense
models through ``BGEM3FlagModel`` / ``FlagModel``; everything around the model call is
``msearch.backends.bge``'s ``BGEEmbedder``, shared with the ``"transformers"`` backend.
FlagEmbedding 1.4 does not import on transformers 5, so this backend runs in the legacy stack
only.
"""

from __future__ import annotations

from typing import Any, ClassVar

from msearch._deps import require
from msearch.backends.bge import BGEEmbedder, ModelCode, Runtime, Setup
from msearch.models import Pooling


class FlagCode(ModelCode):
    """BGE models run by FlagEmbedding's ``BGEM3FlagModel`` and ``FlagModel``."""

    extra = "flag"

    def build(self, folder: str, m3: bool, device: str, setup: Setup) -> Runtime:
        options: dict[str, Any] = {"normalize_embeddings": False}  # _finish normalizes
        if not m3:
            options["pooling_method"] = setup.pooling.value
        flag = build_flag(
            "BGEM3FlagModel" if m3 else "FlagModel",
            folder,
            dtype=setup.dtype,
            device=device,
            trust_remote_code=setup.trust_remote_code,
            **options,
        )
        flag.model.to(device).eval()
        return Runtime(flag, flag.tokenizer, int(flag.model.config.hidden_size), m3, device)

    def forward(
        self, runtime: Runtime, inputs: Any, colbert: bool, pooling: Pooling
    ) -> dict[str, Any]:
        flag = runtime.model
        if not runtime.m3:
            hidden = flag.model(**inputs, return_dict=True).last_hidden_state
            return {"dense": flag.pooling(hidden, inputs["attention_mask"])}
        out = flag.model(inputs, return_dense=True, return_sparse=True, return_colbert_vecs=colbert)
        result = {"dense": out["dense_vecs"], "token_weights": out["sparse_vecs"].squeeze(-1)}
        if colbert:
            torch = require("torch", self.extra)
            result["colbert"] = torch.nn.functional.normalize(out["colbert_vecs"], dim=-1)
        return result


class FlagEmbedder(BGEEmbedder):
    """The ``"flag"`` text and sparse backend: BGE models run by FlagEmbedding's own code.

    ``BGEEmbedder`` with FlagEmbedding's model code: the same API, options and numbers as the
    ``"transformers"`` backend, for environments where FlagEmbedding imports (it does not on
    transformers 5).

    >>> from msearch.embeddings import text_embedder
    >>> dense = text_embedder("BAAI/bge-m3", backend="flag")  # doctest: +SKIP
    """

    code: ClassVar[ModelCode] = FlagCode()


def build_flag(
    class_name: str,
    folder: str,
    *,
    dtype: str,
    device: str,
    trust_remote_code: bool,
    **options: Any,
) -> Any:
    """``FlagEmbedding.<class_name>`` on ``folder``, in ``dtype`` on ``device``."""
    flag_embedding = require("FlagEmbedding", "flag")
    return getattr(flag_embedding, class_name)(
        folder,
        use_fp16=dtype == "float16",
        use_bf16=dtype == "bfloat16",
        devices=device,
        trust_remote_code=trust_remote_code,
        **options,
    )
