"""Search quality on a real corpus found offline on this machine: known-item retrieval.

The corpus: the long descriptions (README text) of the Python packages installed in the
environment that runs the benchmark, from their ``*.dist-info/METADATA``, and the docstrings
of Python standard-library modules. Each document's own one-line summary is its query (a
package's ``Summary:`` field, a module docstring's first line), and that summary's words are
removed from the document where they appear verbatim, so a query does not find its document
by copying. The folder is indexed exactly as ``msearch index`` does (MiniLM, 200-token
chunks, BM25 beside the dense vectors, Qdrant Edge), then every query runs as:

- ``dense, by chunk``: the chunk list (a file counts at its first chunk);
- ``dense``, ``bm25``, ``hybrid`` (dense + BM25 by RRF), each by file (the command's way);
- the command's default (hybrid by file, exact), and hybrid by file on an HNSW graph built
  with ``optimize()`` at Qdrant's default width and at ``hnsw_ef`` 128 and 512.

Recall@1, Recall@10 and MRR@10 over all queries. Run: ``python -m bench.bench_quality``
(``--limit N`` for fewer documents).
"""

from __future__ import annotations

import argparse
import ast
import email
import re
import sys
import sysconfig
import tempfile
import time
from email import policy
from pathlib import Path

import numpy as np

from bench.common import header, machine_report, minilm, table

K = 10
MIN_CHARS = 1500


def package_documents() -> dict[str, tuple[str, str]]:
    """name -> (summary, description) of installed distributions with a long description."""
    found: dict[str, tuple[str, str]] = {}
    for entry in sys.path:
        for meta in sorted(Path(entry).glob("*.dist-info/METADATA")) if entry else []:
            message = email.message_from_bytes(meta.read_bytes(), policy=policy.default)
            name, summary = message.get("Name"), str(message.get("Summary") or "").strip()
            body = message.get_payload() if not message.is_multipart() else ""
            if name and isinstance(body, str) and len(body) > MIN_CHARS and len(summary) > 20:
                found.setdefault(f"pkg-{name.lower()}", (summary, body))
    return found


def stdlib_documents() -> dict[str, tuple[str, str]]:
    """module -> (first docstring line, the rest of its docstrings) for stdlib modules."""
    found: dict[str, tuple[str, str]] = {}
    root = Path(sysconfig.get_paths()["stdlib"])
    for path in sorted(root.glob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        docstring = ast.get_docstring(tree) or ""
        summary, _, rest = docstring.strip().partition("\n")
        parts = [rest] + [
            ast.get_docstring(node) or ""
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.ClassDef)
        ]
        text = "\n\n".join(part for part in parts if part)
        if len(summary) > 20 and len(text) > MIN_CHARS:
            found[f"std-{path.stem}"] = (summary.strip(), text)
    return found


def write_folder(root: Path, documents: dict[str, tuple[str, str]]) -> dict[str, str]:
    """One Markdown file per document (its summary removed from it); query -> file path."""
    queries = {}
    for name, (summary, text) in documents.items():
        text = re.sub(re.escape(summary), " ", text, flags=re.IGNORECASE)
        path = root / f"{name}.md"
        path.write_text(text, encoding="utf-8")
        queries[summary] = str(path)
    return queries


def scores(ranked: list[list[str]], targets: list[str]) -> tuple[float, float, float]:
    pairs = zip(ranked, targets, strict=True)
    ranks = [found.index(target) + 1 if target in found else 0 for found, target in pairs]
    recall1 = float(np.mean([rank == 1 for rank in ranks]))
    recall10 = float(np.mean([0 < rank <= K for rank in ranks]))
    mrr = float(np.mean([1 / rank if 0 < rank <= K else 0.0 for rank in ranks]))
    return recall1, recall10, mrr


def _row(name: str, ranked: list[list[str]], targets: list[str]) -> dict[str, str]:
    recall1, recall10, mrr = scores(ranked, targets)
    return {
        "search": name,
        "Recall@1": f"{recall1:.3f}",
        f"Recall@{K}": f"{recall10:.3f}",
        f"MRR@{K}": f"{mrr:.3f}",
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=0, help="at most this many documents")
    parser.add_argument(
        "--no-title-context", action="store_true", help="embed chunks without their title"
    )
    args = parser.parse_args()

    from msearch.chunking import model_token_counter
    from msearch.embeddings import text_embedder
    from msearch.hits import results
    from msearch.indexing import FolderIndexer, IndexOptions
    from msearch.lexical import BM25
    from msearch.sparse import sparse_embedder
    from msearch.store import TEXT, TEXT_SPARSE, Store

    documents = {**package_documents(), **stdlib_documents()}
    if args.limit:
        documents = dict(list(documents.items())[: args.limit])
    work = Path(tempfile.mkdtemp(prefix="msearch-quality-"))
    folder, store_path = work / "corpus", work / "store"
    folder.mkdir()
    queries = write_folder(folder, documents)
    texts, targets = list(queries), list(queries.values())

    text = text_embedder(minilm(), show_progress=False)
    bm25 = sparse_embedder(BM25)
    started = time.perf_counter()
    with Store(path=store_path, exact=True) as store:
        indexer = FolderIndexer(
            store,
            text,
            sparse=bm25,
            count_tokens=model_token_counter(minilm(), "sentence-transformers"),
            options=IndexOptions(show_progress=False, title_context=not args.no_title_context),
        )
        summary = indexer.index(folder)
        chunks = store.count()
    took = time.perf_counter() - started

    dense_queries = np.stack([text.embed_query(query) for query in texts])
    sparse_queries = [bm25.embed_query_sparse(query) for query in texts]
    fetch = 8 * K

    def by_file(hits: list) -> list[str]:
        return [hit.source for hit, _, _ in results(hits, None, K, "source")]

    def run(store: Store) -> dict[str, list[list[str]]]:
        out: dict[str, list[list[str]]] = {"dense, by chunk": [], "dense": [], "bm25": []}
        out["hybrid"] = []
        for dense, sparse in zip(dense_queries, sparse_queries, strict=True):
            chunk_hits = store.query(TEXT, dense, fetch)
            out["dense, by chunk"].append([hit.source for hit in chunk_hits[:K]])
            out["dense"].append(by_file(chunk_hits))
            out["bm25"].append(by_file(store.query(TEXT_SPARSE, sparse, fetch)))
            out["hybrid"].append(by_file(store.hybrid_query(dense, sparse, fetch)))
        return out

    rows = []
    with Store(path=store_path, exact=True) as store:
        for name, ranked in run(store).items():
            label = name if "chunk" in name else f"{name}, by file, exact"
            rows.append(_row(label, ranked, targets))
    with Store(path=store_path) as store:
        store.optimize()
    for label, width in (("Qdrant's default", None), ("hnsw_ef 128", 128), ("hnsw_ef 512", 512)):
        with Store(path=store_path, hnsw_ef=width) as store:
            ranked = run(store)["hybrid"]
        rows.append(_row(f"hybrid, by file, HNSW at {label}", ranked, targets))

    header("Search quality: known-item queries on installed package READMEs and stdlib docs")
    for key, value in machine_report().items():
        print(f"- {key}: {value}")
    print(
        f"- corpus: {len(documents)} documents ({sum(1 for n in documents if n.startswith('pkg-'))}"
        f" package descriptions), {chunks} chunks; {summary.line()}; indexed in {took:.0f} s;"
        f" title context {'off' if args.no_title_context else 'on'}"
    )
    print()
    table(rows)


if __name__ == "__main__":
    main()
