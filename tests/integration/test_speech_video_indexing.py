"""Recordings and videos in the folder indexer: transcripts, sound windows and frames, with times.

Real components: MiniLM for text, the packaged Whisper tiny.en, tiny CLIP and CLAP built by the
suite, PyAV-made videos, both embedded Qdrant engines.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile

from msearch import text_embedder
from msearch.crossmodal import MediaCollection
from msearch.indexing import FolderIndexer, IndexOptions
from msearch.lexical import BM25
from msearch.multimodal import audio_embedder, image_embedder
from msearch.sparse import sparse_embedder
from msearch.speech import transcriber
from msearch.store import AUDIO, IMAGE, TEXT, Store
from msearch.store import schema as s
from msearch.video import FrameSampling
from tests.support.media_fixtures import SPEECH_CLIP, speech_samples, write_video

RED, GREEN, BLUE = (220, 30, 30), (30, 200, 30), (30, 30, 220)
SCENES = [(RED, 2.5), (GREEN, 2.5), (BLUE, 3.0)]


@pytest.fixture(scope="module")
def models(minilm: str, tiny_clip: str, tiny_clap: str) -> dict[str, object]:
    return {
        "text": text_embedder(minilm),
        "sparse": sparse_embedder(BM25),
        "image": image_embedder(tiny_clip),
        "audio": audio_embedder(tiny_clap),
        "speech": transcriber(),
    }


@pytest.fixture(params=["qdrant-client", "edge"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    opened = Store("media", path=tmp_path / "db", engine=request.param)
    yield opened
    opened.close()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "media"
    root.mkdir()
    shutil.copy(SPEECH_CLIP, root / "cats.flac")
    write_video(root / "scenes.mp4", SCENES, sound=(speech_samples(), 16_000))
    write_video(root / "mute.webm", [(GREEN, 2.0)], codec="libvpx-vp9")
    soundfile.write(root / "silence.wav", np.zeros(16_000 * 12, dtype=np.float32), 16_000)
    soundfile.write(root / "blip.wav", np.full(1_600, 0.2, dtype=np.float32), 16_000)  # 0.1 s
    return root


def indexer(store: Store, models: dict[str, object], **without: None) -> FolderIndexer:
    chosen = {**models, **without}
    return FolderIndexer(
        store,
        chosen["text"],  # type: ignore[arg-type]
        sparse=chosen["sparse"],  # type: ignore[arg-type]
        image=chosen["image"],  # type: ignore[arg-type]
        audio=chosen["audio"],  # type: ignore[arg-type]
        speech=chosen["speech"],  # type: ignore[arg-type]
        options=IndexOptions(show_progress=False, batch_size=8),
    )


def points(store: Store, name: str) -> list:
    return sorted(
        (hit for hit in store.scan() if hit.source == name), key=lambda hit: hit.payload[s.CHUNK]
    )


def test_speech_is_found_where_it_was_said(store, models, folder) -> None:
    summary = indexer(store, models).index(folder)
    assert sorted(Path(p).name for p in summary.indexed) == [
        "blip.wav",
        "cats.flac",
        "mute.webm",
        "scenes.mp4",
        "silence.wav",
    ]
    assert not summary.failed and summary.media_s == pytest.approx(2 + 8 + 12 + 0.1 + 6.6, abs=1)
    assert "of audio and video" in summary.line()
    query = models["text"].embed_query("How long do cats sleep?")  # type: ignore[attr-defined]
    hits = store.query(TEXT, query, 3)
    spoken = [hit for hit in hits if hit.modality == "speech"]
    assert {Path(hit.source).name for hit in spoken} == {"cats.flac", "scenes.mp4"}
    for hit in spoken:
        assert 0 <= hit.metadata["start"] < hit.metadata["end"] <= 7.0
        assert "sleep" in hit.content.lower()
    # silence and a 0.1 s blip: sound windows only, no empty transcript passages
    for name in ("silence.wav", "blip.wav"):
        kinds = {hit.modality for hit in points(store, str(folder / name))}
        assert kinds == {"audio"}


def test_a_frame_is_found_by_its_picture_at_its_time(store, models, folder) -> None:
    from PIL import Image

    indexer(store, models).index(folder)
    video = str(folder / "scenes.mp4")
    frames = [hit for hit in points(store, video) if hit.modality == "video"]
    assert len(frames) == 3  # one per scene
    green = Image.new("RGB", (96, 96), GREEN)
    vector = models["image"].embed_images([green])[0]  # type: ignore[attr-defined]
    best = store.query(IMAGE, vector, 1, {"source": video})[0]
    look = FrameSampling().look_s
    assert best.modality == "video"
    assert best.metadata["start"] - look <= 3.0 <= best.metadata["end"] + look
    # the video's sound: CLAP windows cover it, and its transcript is on the text vector
    windows = [hit for hit in points(store, video) if hit.modality == "audio"]
    assert windows and windows[0].metadata["start"] == 0.0
    mute = {hit.modality for hit in points(store, str(folder / "mute.webm"))}
    assert mute == {"video"}  # no sound track: frames only


def test_reruns_skip_unchanged_files_and_redo_changed_or_cut_off_ones(
    store, models, folder
) -> None:
    first = indexer(store, models).index(folder)
    clean = {hit.id: hit.payload for hit in store.scan()}
    again = indexer(store, models).index(folder)
    assert again.indexed == [] and len(again.unchanged) == len(first.indexed)
    # a run killed mid-video wrote some points but not the last: the next run redoes the file
    video = str(folder / "scenes.mp4")
    last = [hit.id for hit in points(store, video) if hit.payload.get(s.LAST_CHUNK)]
    store.delete(ids=last)
    resumed = indexer(store, models).index(folder)
    assert resumed.indexed == [video]
    assert {hit.id: hit.payload for hit in store.scan()} == clean
    # a changed video is read again, and its old points go
    write_video(folder / "scenes.mp4", [(BLUE, 4.0)])
    changed = indexer(store, models).index(folder)
    assert changed.indexed == [video]
    assert {hit.modality for hit in points(store, video)} == {"video"}
    assert len(points(store, video)) == 1


def test_a_model_that_arrives_later_reads_the_files_again(store, models, folder) -> None:
    cats = str(folder / "cats.flac")
    indexer(store, models, speech=None).index(folder)
    assert {hit.modality for hit in points(store, cats)} == {"audio"}
    later = indexer(store, models).index(folder)
    assert cats in later.indexed
    assert {hit.modality for hit in points(store, cats)} == {"audio", "speech"}
    # a model that is missing now leaves what it wrote before
    gone = indexer(store, models, speech=None).index(folder)
    assert cats in gone.unchanged
    assert "speech" in {hit.modality for hit in points(store, cats)}


def test_speech_only_when_no_sound_model(store, models, folder) -> None:
    summary = indexer(store, models, audio=None, image=None).index(folder)
    cats = str(folder / "cats.flac")
    assert {hit.modality for hit in points(store, cats)} == {"speech"}
    skipped = dict(summary.skipped)
    assert skipped[str(folder / "silence.wav")] == "no speech"
    assert str(folder / "mute.webm") in skipped  # no image model, no sound: nothing reads it


def test_damaged_videos_are_reported_and_the_rest_indexed(store, models, folder) -> None:
    good = folder / "scenes.mp4"
    (folder / "cut.mp4").write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    (folder / "empty.mkv").write_bytes(b"")
    summary = indexer(store, models).index(folder)
    failed = dict(summary.failed)
    assert set(failed) == {str(folder / "cut.mp4"), str(folder / "empty.mkv")}
    assert all("cut.mp4" in reason or "empty.mkv" in reason for reason in failed.values())
    assert len(summary.indexed) == 5
    assert not points(store, str(folder / "cut.mp4"))


def test_frameworks_cite_the_file_and_the_time(store, models, folder, minilm) -> None:
    from langchain_msearch import MSearchEmbeddings, MSearchVectorStore
    from langchain_msearch import MSearchRetriever as LangChainRetriever
    from langchain_msearch.multimodal_retrievers import MSearchImageRetriever
    from llamaindex_msearch import MSearchEmbedding, MSearchRetriever
    from llamaindex_msearch import MSearchImageRetriever as LlamaImageRetriever
    from llamaindex_msearch import MSearchVectorStore as LlamaStore

    indexer(store, models).index(folder)
    lc = MSearchVectorStore(MSearchEmbeddings(model=minilm), "media", store=store)
    plain = lc.as_retriever(search_kwargs={"k": 2}).invoke("how long do cats sleep")
    assert {"source", "start", "end"} <= set(plain[0].metadata)  # enough to cite file and time
    docs = LangChainRetriever(vectorstore=lc, k=2).invoke("how long do cats sleep")
    assert docs[0].metadata["modality"] == "speech"
    assert docs[0].metadata["end"] > docs[0].metadata["start"]
    li = LlamaStore("media", store=store, embed_model=MSearchEmbedding(model=minilm))
    nodes = MSearchRetriever(li, k=2).retrieve("how long do cats sleep")
    assert nodes[0].node.metadata["modality"] == "speech"
    assert nodes[0].node.metadata["end"] > nodes[0].node.metadata["start"]
    video = str(folder / "scenes.mp4")
    only_video = {"source": video}
    frames = MSearchImageRetriever.from_store(store, models["image"], k=3, filter=only_video)
    shown = frames.invoke("green")
    assert len(shown) == 3 and all({"start", "end", "source"} <= set(d.metadata) for d in shown)
    li_frames = LlamaImageRetriever(store, models["image"], k=3, filter=only_video)
    for node in li_frames.retrieve("green"):
        assert str(node.node.video_resource.path) == video  # a video, not an image file
        assert node.node.metadata["modality"] == "video" and "start" in node.node.metadata
    # one text query over transcripts, frames and sound windows, fused by rank
    collection = MediaCollection(
        store, text=models["text"], image=models["image"], audio=models["audio"]
    )
    fused = collection.search("how long do cats sleep", k=10)
    assert {"speech", "video", "audio"} <= {hit.modality for hit in fused}
    assert all("start" in hit.metadata for hit in fused)


def test_sound_windows_equal_the_library_windows(store, models, tmp_path) -> None:
    """The indexer streams a recording's windows; they are the windows, and the vectors, that
    the library's MediaCollection makes from the whole clip."""
    folder = tmp_path / "long"
    folder.mkdir()
    speech = speech_samples()
    recording = np.concatenate([speech, np.zeros(16_000 * 5, np.float32), speech, speech])
    path = folder / "long.flac"
    soundfile.write(path, recording, 16_000)
    indexer(store, models, speech=None).index(folder)
    stored = [hit for hit in points(store, str(path)) if hit.modality == "audio"]
    library = MediaCollection(Store("other", location=":memory:"), audio=models["audio"])
    _, records = library.audio_records([path])
    assert len(stored) == len(records) >= 3
    for record in records:
        top = store.query(AUDIO, record.vectors[AUDIO], 1)[0]
        assert top.score == pytest.approx(1.0, abs=1e-5)
        assert top.metadata["start"] == round(record.metadata["start"], 2)


def test_long_media_shows_seconds_done(store, models, folder, capsys) -> None:
    """Bars count media seconds, per pass (on by default from ten minutes; forced here)."""
    FolderIndexer(
        store,
        models["text"],  # type: ignore[arg-type]
        image=models["image"],  # type: ignore[arg-type]
        audio=models["audio"],  # type: ignore[arg-type]
        speech=transcriber(show_progress=True),
        options=IndexOptions(show_progress=True),
    ).index(folder / "scenes.mp4")
    err = capsys.readouterr().err
    for bar in ("scenes.mp4: frames", "scenes.mp4: sound", "transcribing"):
        assert bar in err
    assert "s/s]" in err or "s/s " in err  # tqdm's rate in media seconds per second
