"""Tiny random CLIP, SigLIP and CLAP models, built in code with their processors.

Each model is a few hundred kB, built once per test run into the session's model cache and
loadable both by transformers (``AutoModel``/``AutoProcessor``) and by infinity-emb, which
recognises a folder by its ``config.json``: a ``vision_config`` makes it an image model
(CLIP, SigLIP), an ``audio_config`` with a ``clap`` model type an audio model.

The tokenizers are byte-level (every UTF-8 byte is a token, no merges), so any text has
distinct tokens without a trained vocabulary; SigLIP's is a BPE trained here in milliseconds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.portable import portable_tokenizer

_SENTINEL = "built.ok"
_CORPUS = [
    "a photo of a red circle",
    "a blue square on white",
    "the sound of a beep",
    "a green triangle and a yellow star",
    "white noise and a low tone",
    "search images and audio with local models",
]


#: The transformer size of every tiny tower, text, vision or audio.
_TOWER = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=2)
_VISION_TOWER = dict(_TOWER, image_size=32, patch_size=8)


def _byte_chars() -> list[str]:
    from tokenizers import pre_tokenizers

    # the 256 characters byte-level BPE maps bytes to, in a fixed order
    return sorted(pre_tokenizers.ByteLevel.alphabet())


def _byte_level_tokenizer(
    folder: Path, tokens: list[str], tokenizer_class: type, max_length: int
) -> Any:
    """A BPE tokenizer of ``tokens`` with no merges, loaded from files under ``folder``."""
    raw = folder / "raw-tokenizer"
    raw.mkdir(parents=True, exist_ok=True)
    (raw / "vocab.json").write_text(json.dumps({token: i for i, token in enumerate(tokens)}))
    (raw / "merges.txt").write_text("#version: 0.2\n")
    return tokenizer_class.from_pretrained(str(raw), model_max_length=max_length)


def _done(folder: Path) -> bool:
    return (folder / _SENTINEL).exists()


def _save(folder: Path, seed: int, model_class: type, config: Any, processor: Any) -> str:
    """Save a model seeded with ``seed`` and its processor, then mark ``folder`` built."""
    import torch

    torch.manual_seed(seed)
    model_class(config).eval().save_pretrained(folder)
    processor.save_pretrained(folder)
    portable_tokenizer(folder)
    (folder / _SENTINEL).write_text("ok")
    return str(folder)


def build_tiny_clip(cache: Path) -> str:
    """A CLIP with a 32 px vision tower and a byte-level text tower (projection 16)."""
    folder = cache / "tiny-clip"
    if _done(folder):
        return str(folder)
    from transformers import (
        CLIPConfig,
        CLIPImageProcessor,
        CLIPModel,
        CLIPProcessor,
        CLIPTokenizerFast,
    )

    chars = _byte_chars()
    tokens = [*chars, *(c + "</w>" for c in chars), "<|startoftext|>", "<|endoftext|>"]
    tokenizer = _byte_level_tokenizer(folder, tokens, CLIPTokenizerFast, max_length=77)
    config = CLIPConfig(
        text_config=dict(
            _TOWER,
            vocab_size=len(tokens),
            max_position_embeddings=77,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        ),
        vision_config=_VISION_TOWER,
        projection_dim=16,
    )
    image_processor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size=32)
    processor = CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer)
    return _save(folder, 0, CLIPModel, config, processor)


def build_tiny_siglip(cache: Path) -> str:
    """A SigLIP whose text tower pools the last of 64 positions, as the real one does."""
    folder = cache / "tiny-siglip"
    if _done(folder):
        return str(folder)
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import (
        PreTrainedTokenizerFast,
        SiglipConfig,
        SiglipImageProcessor,
        SiglipModel,
        SiglipProcessor,
    )

    backend = Tokenizer(models.BPE(unk_token="<unk>"))
    backend.normalizer = normalizers.Lowercase()
    backend.pre_tokenizer = pre_tokenizers.Metaspace()
    trainer = trainers.BpeTrainer(
        vocab_size=200,
        special_tokens=["<pad>", "</s>", "<unk>"],
        initial_alphabet=list("abcdefghijklmnopqrstuvwxyz0123456789 .,!?'-"),
        show_progress=False,
    )
    backend.train_from_iterator(_CORPUS, trainer)
    eos = backend.token_to_id("</s>")
    backend.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", eos)]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
        model_max_length=64,
        model_input_names=["input_ids"],  # the real SigLIP tokenizer gives no attention mask
    )
    config = SiglipConfig(
        text_config=dict(
            _TOWER,
            vocab_size=backend.get_vocab_size(),
            max_position_embeddings=64,
            pad_token_id=backend.token_to_id("<pad>"),
            eos_token_id=eos,
        ),
        vision_config=_VISION_TOWER,
    )
    image_processor = SiglipImageProcessor(size={"height": 32, "width": 32})
    processor = SiglipProcessor(image_processor=image_processor, tokenizer=tokenizer)
    return _save(folder, 1, SiglipModel, config, processor)


def build_tiny_clap(cache: Path) -> str:
    """An unfused CLAP (HTSAT audio tower, RoBERTa text tower) at 48 kHz with a 10 s window."""
    folder = cache / "tiny-clap"
    if _done(folder):
        return str(folder)
    from transformers import (
        ClapConfig,
        ClapFeatureExtractor,
        ClapModel,
        ClapProcessor,
        RobertaTokenizerFast,
    )

    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    tokens = [*specials, *(c for c in _byte_chars() if c not in specials), "<mask>"]
    tokenizer = _byte_level_tokenizer(folder, tokens, RobertaTokenizerFast, max_length=64)
    config = ClapConfig(
        text_config=dict(
            _TOWER,
            vocab_size=len(tokens),
            max_position_embeddings=66,
            pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
        ),
        audio_config=dict(
            depths=[1, 1, 1, 1],
            num_attention_heads=[1, 1, 1, 1],
            patch_embeds_hidden_size=8,
            hidden_size=64,
            enable_fusion=False,
        ),
        projection_dim=16,
    )
    extractor = ClapFeatureExtractor(truncation="rand_trunc", padding="repeatpad")
    processor = ClapProcessor(feature_extractor=extractor, tokenizer=tokenizer)
    return _save(folder, 2, ClapModel, config, processor)
