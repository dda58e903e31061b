"""The ``msearch`` command: index a folder, search it, list models, describe the store."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from msearch.backends._loading import is_local
from msearch.config import Config, load_config
from msearch.errors import (
    BackendError,
    MissingDependencyError,
    ModelNotFoundError,
    MSearchError,
)
from msearch.hits import fetch_size, results
from msearch.store import (
    AUDIO,
    IMAGE,
    SPEECH,
    TEXT,
    TEXT_SPARSE,
    VIDEO,
    Hit,
    Store,
    default_path,
)

MODALITIES = ("text", "image", "audio", "all")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = load_config(
            args.config,
            store_path=getattr(args, "store", None),
            url=getattr(args, "url", None),
            collection=getattr(args, "collection", None),
            hnsw_ef=getattr(args, "hnsw_ef", None),
        )
        if not config.allow_download:
            # Offline by default: a model that is not on disk fails at once instead of
            # waiting on hub retries.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        return int(args.run(args, config))
    except MSearchError as err:
        print(f"msearch: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("msearch: interrupted; run the same command again to finish", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="msearch", description="Index folders of text, images and audio; search them."
    )
    parser.add_argument("--config", help="msearch.toml to read (default: ./msearch.toml)")
    commands = parser.add_subparsers(dest="command", required=True)

    def with_store(sub: argparse.ArgumentParser) -> None:
        where = sub.add_mutually_exclusive_group()
        where.add_argument("--store", help=f"embedded store folder (default: {default_path()})")
        where.add_argument("--url", help="Qdrant server URL (api key: MSEARCH_API_KEY)")
        sub.add_argument("--collection", help="collection name (default: msearch)")

    index = commands.add_parser("index", help="index a folder (incremental)")
    index.add_argument("path")
    index.add_argument("--quiet", action="store_true", help="no progress bars")
    index.add_argument("-v", "--verbose", action="store_true", help="print each file as done")
    with_store(index)
    index.set_defaults(run=_index)

    search = commands.add_parser("search", help="search the store")
    search.add_argument("query")
    search.add_argument("--modality", choices=MODALITIES, default="text")
    search.add_argument(
        "--mode",
        choices=("auto", "dense", "sparse", "hybrid"),
        default="auto",
        help="auto (default): hybrid where the store has lexical vectors, else dense",
    )
    search.add_argument("--rerank", action="store_true", help="rerank text hits (rerank model)")
    search.add_argument("-k", type=int, default=5, help="how many results (files, with --by file)")
    search.add_argument(
        "--by",
        choices=("file", "chunk"),
        default="file",
        help="one result per file, its best chunk shown (default), or one per chunk",
    )
    search.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="match a metadata key (source and chunk for indexed files); repeatable",
    )
    search.add_argument("--json", action="store_true", help="print hits as a JSON list")
    search.add_argument(
        "--hnsw-ef",
        type=int,
        metavar="N",
        help="search the HNSW graph N candidates wide; 0 (default): exact, every vector",
    )
    with_store(search)
    search.set_defaults(run=_search)

    models = commands.add_parser("models", help="known models and whether they are local")
    models.set_defaults(run=_models)

    export = commands.add_parser(
        "export", help="copy the collection to a Qdrant server (or another folder)"
    )
    target = export.add_mutually_exclusive_group(required=True)
    target.add_argument("--to-url", help="Qdrant server URL (api key: MSEARCH_TO_API_KEY)")
    target.add_argument("--to-path", help="an embedded qdrant-client folder")
    export.add_argument("--to-collection", help="target collection (default: the same name)")
    export.add_argument("--recreate", action="store_true", help="drop the target collection first")
    with_store(export)
    export.set_defaults(run=_export)

    info = commands.add_parser("info", help="collections, counts and models of the store")
    with_store(info)
    info.set_defaults(run=_info)
    return parser


# -- building things from the configuration ---------------------------------------------
def open_store(config: Config) -> Store:
    if config.hnsw_ef < 0:
        raise _input_error(f"hnsw_ef must be >= 0 (0: exact search), got {config.hnsw_ef}")
    # exact by default: at the sizes a folder gives it costs milliseconds (docs/cli.md)
    hnsw_ef, exact = config.hnsw_ef or None, config.hnsw_ef == 0
    if config.url:
        key = config.api_key or None
        return Store(config.collection, url=config.url, api_key=key, hnsw_ef=hnsw_ef, exact=exact)
    return Store(config.collection, path=_store_folder(config), hnsw_ef=hnsw_ef, exact=exact)


def _store_folder(config: Config) -> Path:
    """The embedded store folder the configuration names (or the default one)."""
    return Path(config.store_path or default_path()).expanduser()


def _options(config: Config) -> dict[str, Any]:
    return {"device": config.device} if config.device else {}


#: Backends that take the ``precision`` setting.
_PRECISION_BACKENDS = ("sentence-transformers", "onnx")
#: ``text_backend`` / ``rerank_backend = "auto"``: the torch-free runtime where it serves.
AUTO = "auto"


def _precision(config: Config, backend: str, setting: str) -> dict[str, Any]:
    """The ``precision`` option for a model on ``backend``; unset, the backend's default
    (float32 on sentence-transformers, ``"auto"`` on onnx, whose exports are checked)."""
    if not config.precision:
        return {}
    if backend in _PRECISION_BACKENDS:
        return {"precision": config.precision}
    if config.precision != "float32":
        raise _input_error(
            f"precision = {config.precision!r} applies to the sentence-transformers and onnx "
            f"backends, but {setting} is {backend!r}; leave precision unset or use that "
            "backend's own options (docs/backends.md)"
        )
    return {}


#: Backends that reach a server; msearch counts their tokens where the model's tokenizer is here.
_SERVER_BACKENDS = ("openai", "tei")


def _truncation(model: str, backend: str) -> dict[str, Any]:
    """``truncate="end"`` for a server backend that can count tokens: a chunk after its title
    line, or a query with a chunk, may pass the model's limit, and the command cuts it there
    as the in-process backends do, instead of failing the run."""
    from msearch.backends.token_limit import counted_here

    return {"truncate": "end"} if backend in _SERVER_BACKENDS and counted_here(model) else {}


def _auto_backend(model: str, config: Config) -> str:
    """What ``"auto"`` runs ``model`` on: the onnx runtime where it is installed and the model
    is one sentence-transformers runs on the CPU, else the model's own backend."""
    from msearch.backends.onnx_runtime import available_runtime
    from msearch.models import resolve_spec

    registered = resolve_spec(model).backends
    if registered and "onnx" not in registered:
        return registered[0]
    if config.device not in ("", "cpu") or config.precision == "float16":
        return "sentence-transformers"  # a GPU, or a precision the runtime does not run
    try:
        available_runtime()
    except MissingDependencyError:
        return "sentence-transformers"
    return "onnx"


def _built(config: Config, kind: str, model: str, backend: str, build: Any) -> Any:
    """``build(backend)``; for ``"auto"``, the onnx runtime loaded, unless it cannot serve this
    model (no fast tokenizer, an export that fails its check): then sentence-transformers."""
    setting = f"models.{kind}_backend"
    if backend != AUTO:
        return build(backend)
    chosen = _auto_backend(model, config)
    built = build(chosen)
    if chosen != "onnx":
        return built
    try:
        built.loaded  # noqa: B018  # export (once) and check it now, while a fallback is possible
    except (BackendError, MissingDependencyError, OSError) as err:
        print(
            f"msearch: the fast runtime cannot run the {kind} model {model} ({err}); using "
            f'sentence-transformers (set {setting} = "sentence-transformers" to skip this)',
            file=sys.stderr,
        )
        return build("sentence-transformers")
    return built


def build_text(config: Config, show_progress: bool | None = None) -> Any:
    from msearch.embeddings import text_embedder

    def build(backend: str) -> Any:
        return text_embedder(
            config.text_model,
            backend,
            batch_size=config.batch_size,
            show_progress=show_progress,
            **_options(config),
            **_precision(config, backend, "models.text_backend"),
            **_truncation(config.text_model, backend),
        )

    return _built(config, "text", config.text_model, config.text_backend, build)


def build_reranker(config: Config) -> Any:
    from msearch.rerank import reranker

    def build(backend: str) -> Any:
        return reranker(
            config.rerank_model,
            backend,
            **_options(config),
            **_precision(config, backend, "models.rerank_backend"),
            **_truncation(config.rerank_model, backend),
        )

    return _built(config, "rerank", config.rerank_model, config.rerank_backend, build)


#: ``[models] sparse = "none"``: no lexical vectors.
NO_SPARSE = "none"


def build_sparse(config: Config, store: Store, show_progress: bool | None = None) -> Any:
    """The sparse (lexical) model for ``store``: the configured one; else the one the
    collection recorded; else, for a new collection, BM25 (no model); else none."""
    from msearch.lexical import BM25
    from msearch.sparse import sparse_embedder

    recorded = store.schema.sparse.get(TEXT_SPARSE) if store.schema is not None else None
    model = config.sparse_model
    if model == NO_SPARSE:
        return None
    if not model:
        if recorded is not None and recorded.model:
            model = recorded.model
        elif store.schema is None:
            model = BM25
        else:
            return None  # a collection made without sparse vectors cannot take them now
    backend = config.sparse_backend or None
    options = _options(config) if model != BM25 else {}  # BM25 runs no model: no device
    return sparse_embedder(model, backend, show_progress=show_progress, **options)


def build_media(
    config: Config, kind: str, needed: bool, show_progress: bool | None = None
) -> tuple[Any, str | None]:
    """The image or audio embedder, and why it is unavailable (None when it loaded).

    The model is loaded only when ``needed`` (files of that kind are present).
    """
    from msearch.multimodal import audio_embedder, image_embedder

    model = config.image_model if kind == IMAGE else config.audio_model
    backend = config.image_backend if kind == IMAGE else config.audio_backend
    if not model:
        return None, f"no {kind} model configured"
    factory = image_embedder if kind == IMAGE else audio_embedder
    try:
        embedder = factory(model, backend, show_progress=show_progress, **_options(config))
    except MissingDependencyError as err:
        return None, str(err)
    if not needed:
        return embedder, f"{kind} model not loaded"
    if backend != "infinity-server" and not is_local(model) and not config.allow_download:
        return embedder, (
            f"{kind} model {model!r} is not on this machine; download it once with "
            f"`huggingface-cli download {model}`, or set MSEARCH_ALLOW_DOWNLOAD=1"
        )
    return embedder, None


def build_speech(
    config: Config, needed: bool, show_progress: bool | None = None
) -> tuple[Any, str | None]:
    """The transcriber, and why it is unavailable (None when it is ready, or not ``needed``:
    no recordings or videos are there to transcribe)."""
    if not config.speech_model:
        return None, "no speech model configured"
    if not needed:
        return None, None
    from msearch.speech import transcriber

    options: dict[str, Any] = {
        "allow_download": config.allow_download,
        "show_progress": show_progress,
    }
    if config.device:
        options["device"] = config.device
    made = transcriber(config.speech_model, config.speech_backend, **options)
    try:
        made.check()  # a missing library or model is said now, once, not for every file
    except (MissingDependencyError, ModelNotFoundError) as err:
        said = str(err)  # index's per-file lines leave out reasons that start with a kind
        return None, said if said.startswith("speech") else f"speech model unavailable: {said}"
    return made, None


def _index(args: argparse.Namespace, config: Config) -> int:
    from msearch.chunking import model_token_counter
    from msearch.crossmodal import AUDIO_SUFFIXES, IMAGE_SUFFIXES
    from msearch.indexing import FolderIndexer, IndexOptions
    from msearch.video import VIDEO_SUFFIXES, FrameSampling

    root = Path(args.path).expanduser()
    if not root.exists():
        print(f"msearch: error: {args.path} does not exist", file=sys.stderr)
        return 2
    suffixes = {p.suffix.lower() for p in ([root] if root.is_file() else root.rglob("*"))}
    bars = False if args.quiet else None  # --quiet: no bar of the models' either
    if args.quiet:  # nor of the libraries loading them (transformers reads it at import)
        os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
        if "transformers" in sys.modules:
            sys.modules["transformers"].utils.logging.disable_progress_bar()
    videos = bool(suffixes & VIDEO_SUFFIXES)
    recordings = videos or bool(suffixes & AUDIO_SUFFIXES)
    pictures = videos or bool(suffixes & IMAGE_SUFFIXES)
    image, image_missing = build_media(config, IMAGE, pictures, bars)
    audio, audio_missing = build_media(config, AUDIO, recordings, bars)
    speech, speech_missing = build_speech(config, recordings, bars)
    unavailable = {
        kind: reason
        for kind, reason in (
            (IMAGE, image_missing),
            (AUDIO, audio_missing),
            (SPEECH, speech_missing),
        )
        if reason is not None
    }
    needed = {
        IMAGE: ("image files and video frames", pictures),
        AUDIO: ("sound windows of audio and video files", recordings),
        SPEECH: ("transcripts of audio and video files", recordings),
    }
    for kind, reason in unavailable.items():
        what, present = needed[kind]
        if present:
            print(f"no {what}: {reason}")
    text = build_text(config, bars)
    with open_store(config) as store:
        sparse = build_sparse(config, store, bars)
        if sparse is None and store.schema is not None and config.sparse_model != NO_SPARSE:
            print(
                "this store has no lexical vectors, so msearch search is dense-only here; "
                "index into a new store (--store NEW) to search by words too"
            )
        indexer = FolderIndexer(
            store,
            text,
            sparse=sparse,
            image=image,
            audio=audio,
            speech=speech,
            unavailable=unavailable,
            count_tokens=model_token_counter(config.text_model, config.text_backend),
            options=IndexOptions(
                chunk_tokens=config.chunk_tokens,
                chunk_overlap=config.chunk_overlap,
                max_file_bytes=config.max_file_bytes,
                max_media_bytes=config.max_media_bytes,
                frames=FrameSampling(every_s=config.frame_every_s),
                follow_links=config.follow_links,
                title_context=config.title_context,
                batch_size=config.batch_size,
                show_progress=False if args.quiet else None,
                verbose=args.verbose,
            ),
            report=lambda line: print(line, file=sys.stderr),
        )
        summary = indexer.index(root)
    for source, reason in summary.skipped:
        if reason != "not a supported file type" and not reason.startswith(tuple(unavailable)):
            print(f"skipped: {_shown(source)}: {reason}")
    print(summary.line())
    return 0


def _search(args: argparse.Namespace, config: Config) -> int:
    filters = dict(_key_value(item) for item in args.filter)
    folder = _store_folder(config)
    if not config.url and not folder.exists():  # searching must not create an empty store
        raise _input_error(f"there is no store at {folder}: run msearch index first (or --store)")
    with open_store(config) as store:
        found = search(
            store,
            config,
            args.query,
            args.modality,
            args.mode,
            args.k,
            filters,
            args.rerank,
            by=args.by,
        )
    if args.json:
        listed = [_as_json(hit, matches) for hit, matches in found]
        print(json.dumps(listed, indent=2, ensure_ascii=False))
        return 0
    if not found:
        print("no results")
    for rank, (hit, matches) in enumerate(found, start=1):
        snippet = " ".join((hit.content or "").split())[:100]
        more = f"  (+{matches - 1} more matching)" if matches and matches > 1 else ""
        print(
            f"{rank:2d}. {hit.score:.3f}  [{hit.modality}] {_shown(hit.source)}{_when(hit)}"
            f"{more}\n    {snippet}"
        )
    return 0


def search(
    store: Store,
    config: Config,
    query: str,
    modality: str = "text",
    mode: str = "auto",
    k: int = 5,
    filters: dict[str, Any] | None = None,
    rerank: bool = False,
    by: str = "file",
) -> list[tuple[Hit, int | None]]:
    """Search the store as ``msearch search`` does: (hit, matches) best first.

    ``by="file"``: one result per file (``source``), its best chunk (after reranking, with
    ``rerank``), and how many of its chunks were among the ``CHUNKS_PER_FILE * k`` read;
    ``by="chunk"``: one result per chunk, matches ``None``.
    """
    if k < 1:
        raise _input_error(f"-k must be >= 1, got {k}")
    if by not in ("file", "chunk"):
        raise _input_error(f"--by must be file or chunk, got {by!r}")
    if mode not in ("auto", "dense") and modality != "text":
        raise _input_error(f"--mode {mode} applies to --modality text only")
    if rerank and modality != "text":
        raise _input_error("--rerank applies to --modality text only")
    if rerank and not config.rerank_model:  # before any model loads
        raise _input_error("--rerank needs a reranker: set models.rerank in msearch.toml")
    schema = store.schema
    if schema is None:
        return []
    group_by = "source" if by == "file" else None
    fetch = fetch_size(k, None, rerank, group_by)
    if modality == "text":
        hits = _text_hits(store, config, query, mode, fetch, filters)
    else:
        queries = {}
        for kind in (TEXT, IMAGE, AUDIO) if modality == "all" else (modality,):
            if kind in schema.vectors:
                queries[kind] = _query_vector(config, kind, query)
        if not queries:
            raise _input_error(f"the collection has no {modality} vectors")
        if len(queries) == 1:
            ((name, vector),) = queries.items()
            hits = store.query(name, vector, fetch, filters)
        else:
            hits = store.fused_query(queries, fetch, filters)
    ranked = _reranked(config, query, hits) if rerank else None
    return [(hit, matches) for hit, _, matches in results(hits, ranked, k, group_by)]


def _text_hits(
    store: Store, config: Config, query: str, mode: str, k: int, filters: dict[str, Any] | None
) -> list[Hit]:
    # the sparse side first: a configuration error must not wait for the text model to load
    sparse_model = build_sparse(config, store) if mode != "dense" else None
    if sparse_model is None and mode in ("sparse", "hybrid"):
        raise _input_error(
            f"--mode {mode} needs lexical vectors, which this collection does not have (it was "
            'indexed without them, or with models.sparse = "none"): index the folder again '
            "into a new store (--store NEW) to add them"
        )
    if mode == "auto":
        mode = "hybrid" if sparse_model is not None else "dense"
    dense = build_text(config).embed_query(query) if mode != "sparse" else None
    if mode == "dense":
        return store.query(TEXT, dense, k, filters)
    assert sparse_model is not None  # hybrid or sparse, checked above
    sparse = sparse_model.embed_query_sparse(query)
    if mode == "sparse":
        return store.query(TEXT_SPARSE, sparse, k, filters)
    return store.hybrid_query(dense, sparse, k, filters)


def _query_vector(config: Config, kind: str, query: str) -> Any:
    if kind == TEXT:
        return build_text(config).embed_query(query)
    embedder, missing = build_media(config, kind, needed=True)
    if missing is not None:
        raise _input_error(missing)
    return embedder.embed_query(query)


def _reranked(config: Config, query: str, hits: list[Hit]) -> list[Hit]:
    """``hits`` reranked (``search`` has checked that a reranker is configured)."""
    from dataclasses import replace

    scored = build_reranker(config).rerank(query, [hit.content or "" for hit in hits])
    return [replace(hits[result.index], score=result.score) for result in scored]


def _models(args: argparse.Namespace, config: Config) -> int:
    from msearch.models import registered_models

    print(f"{'model':45s} {'kind':11s} {'modality':8s} {'dim':>5s}  local")
    for spec in registered_models():
        found = is_local(spec.name)
        dim, local = str(spec.dim or "?"), "yes" if found else "no"
        print(f"{spec.name:45s} {spec.kind:11s} {spec.modality:8s} {dim:>5s}  {local}")
    return 0


def _export(args: argparse.Namespace, config: Config) -> int:
    from qdrant_client import QdrantClient

    from msearch.store.export import export_collection

    with open_store(config) as store:
        if args.to_url:
            copied = export_collection(
                store,
                args.to_url,
                api_key=os.environ.get("MSEARCH_TO_API_KEY"),
                collection_name=args.to_collection,
                recreate=args.recreate,
            )
        else:
            _check_export_folder(Path(args.to_path), config)
            client = QdrantClient(path=args.to_path)
            try:
                copied = export_collection(
                    store, client=client, collection_name=args.to_collection, recreate=args.recreate
                )
            finally:
                client.close()
    print(f"exported {copied} points to {args.to_url or args.to_path}")
    return 0


def _check_export_folder(target: Path, config: Config) -> None:
    """An export folder is new, empty, or a qdrant-client store (which gains a collection):
    never the source itself, another engine's folder, or a folder of other files."""
    from msearch.store.folders import CLIENT, check_folder, detect

    if not config.url and target.expanduser().resolve() == _store_folder(config).resolve():
        raise _input_error(f"--to-path {target} is the store being exported")
    if target.exists() and not target.is_dir():
        raise _input_error(f"--to-path {target} is a file, not a folder")
    if target.is_dir() and any(target.iterdir()) and detect(target) is None:
        raise _input_error(
            f"--to-path {target} is a folder of other files; export into a new or empty folder"
        )
    check_folder(target, CLIENT)  # an Edge store there is refused, naming what it holds


def _info(args: argparse.Namespace, config: Config) -> int:
    with open_store(config) as store:
        where = config.url or str(_store_folder(config))
        print(f"store: {where}")
        schema = store.schema
        if schema is None:
            print(f"collection {config.collection!r}: not created yet")
            return 0
        points = store.count()
        print(f"collection {config.collection!r}: {points} points")
        recorded = store.recorded_count()
        if recorded is not None:
            verdict = "as recorded" if recorded == points else f"msearch recorded {recorded}"
            print(f"  check: {points} points found, {verdict}")
        checked = store.file_check()
        if checked is not None:
            print(f"  files: {checked}")
        from msearch.store.filters import own_fields

        # the modalities whose points each named vector holds (a video's frames are images)
        on_vector = {TEXT: [TEXT, SPEECH], IMAGE: [IMAGE, VIDEO], AUDIO: [AUDIO]}
        for name, spec in sorted(schema.vectors.items()):
            held = store.count(own_fields(modality=on_vector[name])) if name in on_vector else None
            count = "" if held is None else f", {held} points"
            absent = "" if not spec.model or is_local(spec.model) else " (not on this machine)"
            described = f"{spec.size} dims, {spec.distance}, model {spec.model}"
            print(f"  {name}: {described}{absent}{count}")
        for name, sparse in sorted(schema.sparse.items()):
            weights = ", IDF from Qdrant" if sparse.idf else ""
            print(f"  {name}: sparse, model {sparse.model}{weights}")
    return 0


# -- small helpers ------------------------------------------------------------------
def _key_value(item: str) -> tuple[str, Any]:
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise _input_error(f"--filter wants KEY=VALUE, got {item!r}")
    parsed: Any = value
    if value.lstrip("-").isdigit():
        parsed = int(value)
    elif value in ("true", "false"):
        parsed = value == "true"
    return key, parsed


def _as_json(hit: Hit, matches: int | None) -> dict[str, Any]:
    return {
        "id": hit.id,
        "source": hit.source,
        "modality": hit.modality,
        "score": hit.score,
        "content": hit.content,
        "chunk": hit.payload.get("chunk"),
        "matches": matches,
        "metadata": hit.metadata,
    }


def _when(hit: Hit) -> str:
    """`` @ 0:12-0:18`` for a hit with a place in a recording or video, else nothing."""
    start, end = hit.metadata.get("start"), hit.metadata.get("end")
    if not isinstance(start, int | float) or not isinstance(end, int | float):
        return ""
    from msearch.speech import timestamp

    return f" @ {timestamp(start)}-{timestamp(end)}"


def _shown(source: str | None) -> str:
    if not source:
        return "-"
    try:
        return os.path.relpath(source)
    except ValueError:
        return source


def _input_error(message: str) -> MSearchError:
    from msearch.errors import InvalidInputError

    return InvalidInputError(message)


if __name__ == "__main__":
    raise SystemExit(main())
