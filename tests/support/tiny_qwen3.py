"""Tiny random Qwen3 models with a byte-level BPE tokenizer trained here.

Two folders share one trained vocabulary:

- an embedding model (``Qwen3Model``) whose tokenizer, like Qwen3-Embedding's, appends
  ``<|endoftext|>`` to every text through its post-processor;
- a reranker (``Qwen3ForCausalLM``) whose tokenizer, like Qwen3-Reranker's, adds nothing, and
  whose vocabulary has ``yes`` and ``no`` (and ``Yes``) as single tokens.

Both save with right padding so that msearch's left padding is its own doing.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.portable import portable_tokenizer
from tests.support.process_dir import process_dir

#: Tokenizer ``model_max_length`` and the model's positions.
MAX_LENGTH = 128
HIDDEN = 128

CORPUS = [
    "Qdrant stores dense and sparse vectors for hybrid search.",
    "Cats purr when they are happy; dogs bark at the mailman.",
    "Paris is the capital city of France, on the river Seine.",
    "Python code runs fast when the inner loop is vectorized.",
    "The sun, the moon and the sky above the green forest.",
    "What is the capital of France? Where do vectors live?",
    "Instruct: Given a web search query, retrieve relevant passages that answer the query",
    "Query: Document: Judge whether the Document meets the requirements",
    "based on the Query and the Instruct provided. Note that the answer can only be",
    "yes\nno\nYes\nNo\nyes or no",
    "system\nuser\nassistant\n",
]
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def _trained_tokenizer() -> object:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(CORPUS * 20, trainer=trainer)
    tokenizer.add_tokens(["<think>", "</think>"])
    return tokenizer


def _save_tokenizer(tokenizer: object, folder: Path, append_eos: bool) -> object:
    from tokenizers import Tokenizer, processors
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer.from_str(tokenizer.to_str())  # type: ignore[attr-defined]
    eos = tok.token_to_id("<|endoftext|>")
    if append_eos:
        tok.post_processor = processors.TemplateProcessing(
            single="$A <|endoftext|>",
            pair="$A <|endoftext|> $B:1 <|endoftext|>:1",
            special_tokens=[("<|endoftext|>", eos)],
        )
    else:
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>" if not append_eos else "<|endoftext|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>", "<|im_end|>"],
        model_max_length=MAX_LENGTH,
        padding_side="right",
        model_input_names=["input_ids", "attention_mask"],
    )
    for word in ("yes", "no", "Yes"):
        if len(fast(word, add_special_tokens=False)["input_ids"]) != 1:
            raise RuntimeError(f"the tiny tokenizer splits {word!r}; widen its corpus")
    fast.save_pretrained(str(folder))
    portable_tokenizer(folder)
    return fast


def _build(folder: Path, architecture: str, *, append_eos: bool, seed: int) -> str:
    """Write a ``transformers`` Qwen3 ``architecture`` into ``folder`` (once); return its path."""
    if (folder / "config.json").exists():
        return str(folder)
    import torch
    import transformers

    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = _save_tokenizer(_trained_tokenizer(), folder, append_eos=append_eos)
    config = transformers.Qwen3Config(
        vocab_size=len(tokenizer),  # type: ignore[arg-type]
        hidden_size=HIDDEN,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        max_position_embeddings=MAX_LENGTH,
        tie_word_embeddings=True,
        initializer_range=0.2,
        architectures=[architecture],
    )
    torch.manual_seed(seed)
    getattr(transformers, architecture)(config).eval().save_pretrained(str(folder))
    return str(folder)


def build_tiny_qwen3_embedding(folder: Path) -> str:
    """Write the embedding model into ``folder`` (once) and return its path."""
    return _build(folder, "Qwen3Model", append_eos=True, seed=0)


def build_tiny_qwen3_reranker(folder: Path) -> str:
    """Write the causal LM reranker into ``folder`` (once) and return its path."""
    return _build(folder, "Qwen3ForCausalLM", append_eos=False, seed=1)


def tiny_qwen3_embedding_path() -> str:
    """The embedding folder, built once per process (usable where fixtures are not)."""
    return build_tiny_qwen3_embedding(process_dir("tiny-qwen3") / "embedding")


def tiny_qwen3_reranker_path() -> str:
    """The reranker folder, built once per process."""
    return build_tiny_qwen3_reranker(process_dir("tiny-qwen3") / "reranker")
