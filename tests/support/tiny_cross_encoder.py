"""A tiny random BERT cross-encoder (one relevance logit) with a WordPiece tokenizer.

sentence-transformers' ``CrossEncoder``, FlagEmbedding's ``FlagReranker`` and infinity (in
process and as a server) all load the folder this writes: a ``BertForSequenceClassification``
with ``num_labels=1`` (infinity serves single-label classifiers as rerankers) and a
``BertTokenizerFast``. The weights are random but seeded, and initialized wider than BERT's
default so that different pairs get clearly different scores.
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

#: Both the tokenizer's ``model_max_length`` and the position table: an untruncated longer
#: input would fail in the model, so a test that scores a long document proves truncation.
MAX_LENGTH = 64

#: Whole words in the vocabulary; anything else falls back to characters and ``##`` pieces.
_WORD_TEXT = (
    "the a an of to in is are was on for and or with what where who how why when which do does "
    "cat cats dog dogs pet pets purr purrs bark barks animal animals vector vectors database "
    "search store stores query qdrant paris france capital city river music song book read "
    "python code language fast slow big small red blue green sun moon sky water fire earth "
    "apple banana fruit eat food tree forest mountain sea ocean fish bird fly run walk"
)


def _vocabulary() -> list[str]:
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    characters = list(string.ascii_lowercase + string.digits + string.punctuation)
    pieces = [f"##{char}" for char in string.ascii_lowercase + string.digits]
    words = list(dict.fromkeys(_WORD_TEXT.split()))
    return specials + characters + pieces + [w for w in words if w not in characters]


def _tokenizer(folder: Path) -> Any:
    """The WordPiece tokenizer of ``folder/vocab.txt``, lower-casing, cut at ``MAX_LENGTH``.

    Loaded with ``from_pretrained``: on transformers 5, ``BertTokenizerFast(vocab_file=...)``
    ignores the file and makes a five-token vocabulary, where every word is ``[UNK]``.
    """
    from transformers import BertTokenizerFast

    tokenizer = BertTokenizerFast.from_pretrained(
        str(folder), do_lower_case=True, model_max_length=MAX_LENGTH
    )
    if len(tokenizer) < 6:
        raise RuntimeError(f"the tokenizer of {folder} lost its vocabulary")
    return tokenizer


def build_tiny_cross_encoder(folder: Path) -> str:
    """Write the model into ``folder`` (once; later calls reuse it) and return its path."""
    if (folder / "config.json").exists():
        return str(folder)
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    folder.mkdir(parents=True, exist_ok=True)
    vocab_file = folder / "vocab.txt"
    vocab_file.write_text("\n".join(_vocabulary()) + "\n", encoding="utf-8")
    tokenizer = _tokenizer(folder)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=MAX_LENGTH,
        num_labels=1,
        initializer_range=0.3,
        architectures=["BertForSequenceClassification"],
    )
    torch.manual_seed(0)
    model = BertForSequenceClassification(config).eval()
    model.save_pretrained(str(folder), safe_serialization=True)
    tokenizer.save_pretrained(str(folder))
    return str(folder)


def build_tiny_xlmr_cross_encoder(folder: Path) -> str:
    """A tiny random XLM-RoBERTa cross-encoder (the architecture of bge-reranker-v2-m3) with a
    SentencePiece tokenizer trained here on the test vocabulary.

    llama.cpp's converter keeps all of this architecture's head (dense, tanh, projection),
    and it has no segment embeddings to drop, so llama.cpp computes the same function as
    transformers; for a BERT cross-encoder it drops the pooler and the segment embeddings.
    """
    if (folder / "config.json").exists():
        return str(folder)
    import io

    import sentencepiece
    import torch
    from transformers import (
        XLMRobertaConfig,
        XLMRobertaForSequenceClassification,
        XLMRobertaTokenizerFast,
    )

    folder.mkdir(parents=True, exist_ok=True)
    words = _WORD_TEXT.split()
    sentences = [" ".join(words[i:] + words[:i]) for i in range(len(words))]
    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences),
        model_writer=model,
        vocab_size=90,
        model_type="unigram",
        character_coverage=1.0,
        minloglevel=2,
    )
    (folder / "sentencepiece.bpe.model").write_bytes(model.getvalue())
    tokenizer = XLMRobertaTokenizerFast.from_pretrained(str(folder), model_max_length=MAX_LENGTH)
    tokenizer.save_pretrained(str(folder))
    config = XLMRobertaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=MAX_LENGTH + 2,  # positions start after the padding id
        type_vocab_size=1,
        pad_token_id=tokenizer.pad_token_id,
        num_labels=1,
        initializer_range=0.3,
        architectures=["XLMRobertaForSequenceClassification"],
    )
    torch.manual_seed(0)
    XLMRobertaForSequenceClassification(config).eval().save_pretrained(str(folder))
    return str(folder)


def build_tiny_splade(folder: Path) -> str:
    """A tiny random SPLADE model (``BertForMaskedLM`` + max pooling of ReLU logits), saved by
    sentence-transformers' ``SparseEncoder`` (sentence-transformers >= 5; today's stack)."""
    if (folder / "modules.json").exists():
        return str(folder)
    import torch
    from sentence_transformers import SparseEncoder
    from sentence_transformers.sparse_encoder.models import MLMTransformer, SpladePooling
    from transformers import BertConfig, BertForMaskedLM

    mlm = folder.parent / f"{folder.name}-mlm"
    mlm.mkdir(parents=True, exist_ok=True)
    vocab_file = mlm / "vocab.txt"
    vocab_file.write_text("\n".join(_vocabulary()) + "\n", encoding="utf-8")
    tokenizer = _tokenizer(mlm)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=MAX_LENGTH,
        initializer_range=0.3,
        architectures=["BertForMaskedLM"],
    )
    torch.manual_seed(3)
    BertForMaskedLM(config).eval().save_pretrained(str(mlm))
    tokenizer.save_pretrained(str(mlm))
    model = SparseEncoder(modules=[MLMTransformer(str(mlm)), SpladePooling("max")], device="cpu")
    model.save_pretrained(str(folder))
    return str(folder)
