"""Quality measurements of swaps and lip-syncs (``deepstudio evaluate``): JSON + a PNG plot.

Swap: identity distance of the result to the source person and to the target person (dlib
128-d descriptors), expression fidelity (correlation of mouth/eye openness and head pose with
the original), and temporal flicker of the face region compared with the original's.

Lip-sync: the audio/video offset (the lag, in frames, at which mouth opening best follows the
driving audio's speech energy), that correlation, and when the original clip is given (driven
by its own audio) the correlation of mouth opening and PSNR/SSIM of the mouth region.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from deepstudio.engine.analyse import analyse_media
from deepstudio.engine.av_sync import best_lag, pearson, speech_energy
from deepstudio.errors import MediaError
from deepstudio.media.decode import VideoReader
from deepstudio.persistence.atomic import atomic_write_text
from deepstudio.types import BBox, ProgressCallback
from deepstudio.vision.align import align_face, region_mask, transform_points
from deepstudio.vision.analysis import FaceAnalysis
from deepstudio.vision.identity import FaceEmbedder, embedding_distance
from deepstudio.vision.measures import eye_openness, head_pose, mouth_openness

MAX_EMBEDDED_FRAMES = 400


@dataclass
class Evaluation:
    """Overall figures, per-frame series and the files written."""

    kind: str
    summary: dict[str, Any]
    per_frame: dict[str, list] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "summary": self.summary, "per_frame": self.per_frame}

    def write(self, json_path: Path | None, plot_path: Path | None) -> None:
        if json_path is not None:
            atomic_write_text(json_path, json.dumps(self.to_dict(), indent=1, default=_json))
        if plot_path is not None:
            _plot(self, plot_path)


def primary_faces(analysis: FaceAnalysis) -> dict[int, Any]:
    """Frame -> the face of the longest track on that frame (the person being edited)."""
    if not analysis.tracks:
        return {}
    track = max(analysis.tracks.values(), key=lambda t: len(t.frames))
    return {k: next(f for f in analysis.faces_at(k) if f.track_id == track.track_id)
            for k in map(int, track.frames)}


# --- swap --------------------------------------------------------------------------------

def evaluate_swap(original: Path, swapped: Path, source: Path, cache_dir: Path,
                  progress: ProgressCallback | None = None) -> Evaluation:
    """Compare a swapped video with its original and with the source person's faces."""
    embedder = FaceEmbedder()
    source_embedding = _mean_embedding(source, embedder, cache_dir)
    orig_faces = primary_faces(analyse_media(original, cache_dir, progress))
    swap_faces = primary_faces(analyse_media(swapped, cache_dir, progress))
    frames = sorted(set(orig_faces) & set(swap_faces))
    if not frames:
        raise MediaError("no frame shows a face in both videos", swapped)
    embed_frames = set(frames[:: max(1, len(frames) // MAX_EMBEDDED_FRAMES)])
    target_embedding = _video_embedding(original, orig_faces, sorted(embed_frames)[:60], embedder)
    d_src, d_tgt, flicker_swap, flicker_orig = [], [], [], []
    series: dict[str, list[list[float]]] = {k: [[], []] for k in
                                             ("mouth", "eyes", "yaw", "pitch", "roll")}
    prev: tuple[np.ndarray, np.ndarray] | None = None
    with VideoReader(original) as orig_reader, VideoReader(swapped) as swap_reader:
        for k in frames:
            a, b = orig_faces[k], swap_faces[k]
            for i, lm in enumerate((a.landmarks, b.landmarks)):
                series["mouth"][i].append(mouth_openness(lm))
                series["eyes"][i].append(eye_openness(lm))
                for name, value in zip(("yaw", "pitch", "roll"), head_pose(lm)):
                    series[name][i].append(value)
            frame_o, frame_s = orig_reader.read(k), swap_reader.read(k)
            if k in embed_frames:
                e = embedder.embed(frame_s, b.bbox)
                d_src.append(embedding_distance(e, source_embedding))
                d_tgt.append(embedding_distance(e, target_embedding))
            else:
                d_src.append(float("nan"))
                d_tgt.append(float("nan"))
            region = _crop_box(frame_s, b.bbox)
            crops = (_gray(frame_o, region), _gray(frame_s, region))
            if prev is not None and prev[0].shape == crops[0].shape:
                flicker_orig.append(float(np.abs(crops[0] - prev[0]).mean()))
                flicker_swap.append(float(np.abs(crops[1] - prev[1]).mean()))
            else:
                flicker_orig.append(float("nan"))
                flicker_swap.append(float("nan"))
            prev = crops
    src, tgt = np.array(d_src), np.array(d_tgt)
    measured = np.isfinite(src)
    summary = {
        "frames_compared": len(frames),
        "frames_embedded": int(measured.sum()),
        "fraction_closer_to_source": float((src[measured] < tgt[measured]).mean()),
        "mean_distance_to_source": float(np.nanmean(src)),
        "mean_distance_to_target": float(np.nanmean(tgt)),
        "correlation": {name: pearson(*pair) for name, pair in series.items()},
        "flicker_swapped": float(np.nanmean(flicker_swap)),
        "flicker_original": float(np.nanmean(flicker_orig)),
    }
    summary["flicker_excess"] = summary["flicker_swapped"] - summary["flicker_original"]
    per_frame = {"frame": frames, "distance_to_source": d_src, "distance_to_target": d_tgt,
                 "mouth_original": series["mouth"][0], "mouth_swapped": series["mouth"][1],
                 "flicker_original": flicker_orig, "flicker_swapped": flicker_swap}
    return Evaluation("swap", summary, per_frame)


def _mean_embedding(source: Path, embedder: FaceEmbedder, cache_dir: Path) -> np.ndarray:
    """The source person's descriptor from a faceset folder, a video or a photo."""
    if source.is_dir():
        faces = sorted((source / "faces").glob("*.png"))[:40]
        if not faces:
            raise MediaError("is not a faceset (no faces/*.png)", source)
        vectors = []
        for path in faces:
            image = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
            h, w = image.shape[:2]
            vectors.append(embedder.embed(image, BBox(w * 0.1, h * 0.1, w * 0.9, h * 0.95)))
        return np.mean(vectors, axis=0)
    from deepstudio.media.probe import probe

    info = probe(source)
    if info.frame_count <= 1:
        from deepstudio.vision.facemesh import FaceMeshDetector

        with VideoReader(info) as reader, FaceMeshDetector(max_faces=1, static=True) as det:
            image = reader.read(0)
            found = det.detect(image)
        if not found:
            raise MediaError("no face found in the source photo", source)
        return embedder.embed(image, found[0].bbox)
    faces = primary_faces(analyse_media(source, cache_dir))
    if not faces:
        raise MediaError("no face found in the source video", source)
    picks = sorted(faces)[:: max(1, len(faces) // 40)]
    return _video_embedding(source, faces, picks, embedder)


def _video_embedding(path: Path, faces: dict[int, Any], frames: list[int],
                     embedder: FaceEmbedder) -> np.ndarray:
    with VideoReader(path) as reader:
        return np.mean([embedder.embed(reader.read(k), faces[k].bbox) for k in frames], axis=0)


def _crop_box(frame: np.ndarray, bbox: BBox) -> tuple[int, int, int, int]:
    h, w = frame.shape[:2]
    return (max(0, int(bbox.x0)), max(0, int(bbox.y0)), min(w, int(bbox.x1)),
            min(h, int(bbox.y1)))


def _gray(frame: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    x0, y0, x1, y1 = box
    return cv2.cvtColor(frame[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY).astype(np.float32)


# --- lip-sync ----------------------------------------------------------------------------

def evaluate_lipsync(video: Path, cache_dir: Path, audio: Path | None = None,
                     original: Path | None = None, audio_start_s: float = 0.0,
                     progress: ProgressCallback | None = None) -> Evaluation:
    """Measure how well the mouth in ``video`` follows ``audio`` (default: its own audio)."""
    analysis = analyse_media(video, cache_dir, progress)
    faces = primary_faces(analysis)
    n = analysis.frame_count
    mouth = np.full(n, np.nan)
    for k, face in faces.items():
        mouth[k] = mouth_openness(face.landmarks)
    energy = speech_energy(audio or video, analysis.fps, n, audio_start_s)
    lag, r_best, r_zero = best_lag(mouth, energy)
    summary: dict[str, Any] = {
        "frames": n, "frames_with_face": len(faces), "av_offset_frames": lag,
        "mouth_energy_correlation": r_zero, "mouth_energy_correlation_at_offset": r_best,
    }
    per_frame: dict[str, list] = {"mouth": mouth.tolist(), "speech_energy": energy.tolist()}
    if original is not None:
        orig_faces = primary_faces(analyse_media(original, cache_dir))
        orig_mouth = np.full(n, np.nan)
        for k, face in orig_faces.items():
            if k < n:
                orig_mouth[k] = mouth_openness(face.landmarks)
        summary["mouth_correlation_with_original"] = pearson(mouth, orig_mouth)
        psnr, ssim = _mouth_region_quality(video, original, orig_faces, n)
        summary["mouth_psnr_db"], summary["mouth_ssim"] = psnr, ssim
        per_frame["mouth_original"] = orig_mouth.tolist()
    return Evaluation("lipsync", summary, per_frame)


def _mouth_region_quality(video: Path, original: Path, faces: dict[int, Any],
                          n: int) -> tuple[float, float]:
    """PSNR and SSIM of the aligned lower face, output vs original, over shared frames."""
    from skimage.metrics import structural_similarity

    psnrs, ssims = [], []
    size = 96
    with VideoReader(video) as out_reader, VideoReader(original) as orig_reader:
        for k in sorted(faces)[:: max(1, len(faces) // 150)]:
            if k >= n:
                continue
            landmarks = faces[k].landmarks
            reference = align_face(orig_reader.read(k), landmarks, size)
            output = cv2.warpAffine(out_reader.read(k), reference.matrix, (size, size),
                                    flags=cv2.INTER_LINEAR)
            points = transform_points(landmarks, reference.matrix)
            mask = region_mask(points, (size, size), "mouth", 0.0, -6.0) > 0.5
            diff = (reference.image.astype(float) - output.astype(float))[mask]
            mse = float((diff ** 2).mean()) if diff.size else 0.0
            psnrs.append(99.0 if mse == 0 else 10 * np.log10(255 ** 2 / mse))
            ssims.append(structural_similarity(
                cv2.cvtColor(reference.image, cv2.COLOR_RGB2GRAY),
                cv2.cvtColor(output, cv2.COLOR_RGB2GRAY)))
    return (float(np.mean(psnrs)) if psnrs else float("nan"),
            float(np.mean(ssims)) if ssims else float("nan"))


# --- output ------------------------------------------------------------------------------

def _json(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _plot(evaluation: Evaluation, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p = evaluation.per_frame
    if evaluation.kind == "swap":
        fig, axes = plt.subplots(3, 1, figsize=(10, 8), sharex=True)
        axes[0].plot(p["frame"], p["distance_to_source"], ".", label="to source person")
        axes[0].plot(p["frame"], p["distance_to_target"], ".", label="to target person")
        axes[0].axhline(0.6, color="grey", lw=0.8, ls="--")
        axes[0].set_ylabel("identity distance")
        axes[1].plot(p["frame"], p["mouth_original"], label="original")
        axes[1].plot(p["frame"], p["mouth_swapped"], label="swapped")
        axes[1].set_ylabel("mouth openness")
        axes[2].plot(p["frame"], p["flicker_original"], label="original")
        axes[2].plot(p["frame"], p["flicker_swapped"], label="swapped")
        axes[2].set_ylabel("face flicker")
        axes[2].set_xlabel("frame")
    else:
        fig, axes = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
        axes[0].plot(p["mouth"], label="output")
        if "mouth_original" in p:
            axes[0].plot(p["mouth_original"], label="original")
        axes[0].set_ylabel("mouth openness")
        axes[1].plot(p["speech_energy"], color="tab:green", label="driving audio")
        axes[1].set_ylabel("speech energy (log)")
        axes[1].set_xlabel("frame")
    for ax in axes:
        ax.legend(loc="upper right", fontsize=8)
        ax.grid(alpha=0.3)
    summary = evaluation.summary
    title = ", ".join(f"{k}={v:.3g}" for k, v in summary.items()
                      if isinstance(v, float))[:160]
    fig.suptitle(f"deepstudio evaluate {evaluation.kind}\n{title}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
