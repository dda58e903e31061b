"""A tiny random BGE-M3-like model: an XLM-RoBERTa encoder plus BGE-M3's two heads.

The folder looks like BAAI/bge-m3 to FlagEmbedding and to msearch: ``config.json`` and
safetensors weights of an ``XLMRobertaModel``, a fast tokenizer with XLM-R's special tokens
(``<s>``, ``<pad>``, ``</s>``, ``<unk>``), and the heads as torch pickles of state dicts,
``sparse_linear.pt`` (hidden -> 1) and ``colbert_linear.pt`` (hidden -> hidden). A second
builder writes a dense-only encoder (no heads), like bge-small-en-v1.5.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.portable import portable_tokenizer
from tests.support.process_dir import process_dir

#: Tokenizer ``model_max_length``; the position table holds exactly this many tokens (+2 for
#: XLM-R's offset), so an untruncated longer text would fail inside the model.
MAX_LENGTH = 64
HIDDEN = 32

CORPUS = [
    "Qdrant stores dense and sparse vectors for hybrid search.",
    "Cats purr when they are happy; dogs bark at the mailman.",
    "Paris is the capital city of France, on the river Seine.",
    "Python code runs fast when the inner loop is vectorized.",
    "The sun, the moon and the sky above the green forest.",
    "What is the capital of France? Where do vectors live?",
    "Apples and bananas are fruit; fish swim in the deep blue sea.",
    "A search engine ranks documents by relevance to a query.",
    "Music and songs, books to read, mountains to climb.",
    "Birds fly over the ocean while people walk on the beach.",
]
SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]


def _train_tokenizer(folder: Path) -> object:
    from tokenizers import (
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
        trainers,
    )
    from transformers import PreTrainedTokenizerFast

    # BPE training is deterministic (WordPiece's is not across processes); the metaspace
    # pre-tokenizer mirrors the sentencepiece tokenizer of the real XLM-R/BGE-M3
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=SPECIALS, show_progress=False)
    tokenizer.train_from_iterator(CORPUS * 5, trainer=trainer)
    # positional: the keyword for the CLS token changed between tokenizers releases
    tokenizer.post_processor = processors.RobertaProcessing(
        ("</s>", tokenizer.token_to_id("</s>")), ("<s>", tokenizer.token_to_id("<s>"))
    )
    tokenizer.decoder = decoders.Metaspace()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<s>",
        eos_token="</s>",
        cls_token="<s>",
        sep_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        model_max_length=MAX_LENGTH,
        model_input_names=["input_ids", "attention_mask"],
    )
    fast.save_pretrained(str(folder))
    portable_tokenizer(folder)
    return fast


def build_tiny_encoder(folder: Path, *, heads: bool = True) -> str:
    """Write the model into ``folder`` (once; later calls reuse it) and return its path.

    With ``heads=False`` the folder is a plain dense encoder with no sparse/ColBERT heads.
    """
    if (folder / "config.json").exists():
        return str(folder)
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaModel

    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = _train_tokenizer(folder)
    config = XLMRobertaConfig(
        vocab_size=len(tokenizer),  # type: ignore[arg-type]
        hidden_size=HIDDEN,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=MAX_LENGTH + 2,
        pad_token_id=SPECIALS.index("<pad>"),
        bos_token_id=SPECIALS.index("<s>"),
        eos_token_id=SPECIALS.index("</s>"),
        initializer_range=0.2,
        architectures=["XLMRobertaModel"],
    )
    torch.manual_seed(0)
    XLMRobertaModel(config).eval().save_pretrained(str(folder))
    if heads:
        torch.manual_seed(1)
        sparse = torch.nn.Linear(HIDDEN, 1)
        colbert = torch.nn.Linear(HIDDEN, HIDDEN)
        with torch.no_grad():
            # small weights around a positive bias keep token weights above ReLU's zero
            # (random hidden states share a common direction that could push them all below)
            sparse.weight.normal_(0.0, 0.05)
            sparse.bias.fill_(1.0)
        torch.save(sparse.state_dict(), folder / "sparse_linear.pt")
        torch.save(colbert.state_dict(), folder / "colbert_linear.pt")
    return str(folder)


def tiny_bge_m3_path() -> str:
    """The BGE-M3-like folder, built once per process (usable where fixtures are not)."""
    return build_tiny_encoder(process_dir("tiny-bge") / "bge-m3")


def tiny_dense_encoder_path() -> str:
    """The dense-only encoder folder (no heads), built once per process."""
    return build_tiny_encoder(process_dir("tiny-bge") / "dense", heads=False)


def build_tiny_reranker(folder: Path) -> str:
    """A bge-reranker-like cross-encoder: ``XLMRobertaForSequenceClassification`` with one
    relevance logit and the tiny XLM-R tokenizer (built once; later calls reuse it)."""
    if (folder / "config.json").exists():
        return str(folder)
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaForSequenceClassification

    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = _train_tokenizer(folder)
    config = XLMRobertaConfig(
        vocab_size=len(tokenizer),  # type: ignore[arg-type]
        hidden_size=HIDDEN,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=MAX_LENGTH + 2,
        pad_token_id=SPECIALS.index("<pad>"),
        bos_token_id=SPECIALS.index("<s>"),
        eos_token_id=SPECIALS.index("</s>"),
        initializer_range=0.2,
        num_labels=1,
        architectures=["XLMRobertaForSequenceClassification"],
    )
    torch.manual_seed(2)
    XLMRobertaForSequenceClassification(config).eval().save_pretrained(str(folder))
    return str(folder)


def tiny_reranker_path() -> str:
    """The bge-reranker-like folder, built once per process."""
    return build_tiny_reranker(process_dir("tiny-bge") / "reranker")
