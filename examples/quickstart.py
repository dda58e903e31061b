"""Embed the example documents with the packaged MiniLM and rank them for a few questions."""

from pathlib import Path

import numpy as np

from msearch import text_embedder

folder = Path(__file__).parent / "docs"
paths = sorted(p for p in folder.iterdir() if p.suffix in {".txt", ".md", ".rst"})
embedder = text_embedder("sentence-transformers/all-MiniLM-L6-v2")
documents = embedder.embed_documents([p.read_text() for p in paths])

for question in ["How long do cats sleep?", "What reorders search results?"]:
    scores = documents @ embedder.embed_query(question)
    print(f"\n{question}")
    for rank, i in enumerate(np.argsort(-scores)[:3], start=1):
        print(f"  {rank}. {scores[i]:.3f}  {paths[i].name}")
