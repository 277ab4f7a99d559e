from __future__ import annotations

import cv2
import numpy as np
import pytest

from deepstudio.vision import align
from deepstudio.vision import facemesh as fm
from deepstudio.vision.align import (
    TEMPLATE,
    TEMPLATE_INDICES,
    align_face,
    face_mask,
    paste_back,
    region_mask,
    transform_points,
    umeyama,
)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def test_umeyama_recovers_a_known_similarity():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 100, (9, 2))
    angle, scale, shift = 0.3, 1.7, np.array([12.0, -5.0])
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = scale * src @ rot.T + shift
    matrix = umeyama(src, dst)
    np.testing.assert_allclose(matrix[:, :2], scale * rot, atol=1e-9)
    np.testing.assert_allclose(matrix[:, 2], shift, atol=1e-9)


def test_template_matches_the_mean_of_real_faces(talk_faces):
    """The stored template is close to the Procrustes mean of talk_b's faces (another head,
    other expressions than most of the template's sources)."""
    points = TEMPLATE * 256
    aligned = [transform_points(f.landmarks[list(TEMPLATE_INDICES), :2],
                                umeyama(f.landmarks[list(TEMPLATE_INDICES), :2], points))
               for f in talk_faces]
    residual = np.linalg.norm(np.mean(aligned, axis=0) - points, axis=1) / 256
    assert residual.max() < 0.05  # 5 % of the face height


@pytest.mark.parametrize("size", [64, 256])
def test_align_puts_landmarks_on_the_template(talk_frames, talk_faces, size):
    face = talk_faces[0]
    aligned = align_face(talk_frames[0], face.landmarks, size)
    assert aligned.image.shape == (size, size, 3) and aligned.image.dtype == np.uint8
    crop_points = transform_points(face.landmarks, aligned.matrix)
    expected = align.template_points(size)
    error = np.linalg.norm(crop_points[list(TEMPLATE_INDICES), :2] - expected, axis=1)
    assert error.mean() < 0.05 * size
    # The whole face oval lands inside the crop at the default coverage.
    oval = crop_points[list(fm.FACE_OVAL), :2]
    assert oval.min() > 0 and oval.max() < size
    np.testing.assert_allclose(transform_points(crop_points, aligned.inverse), face.landmarks,
                               atol=1e-2)


def test_align_then_paste_back_reproduces_the_face(talk_frames, talk_faces):
    frame, face = talk_frames[10], talk_faces[10]
    # A crop at about the face's own resolution loses little to resampling.
    aligned = align_face(frame, face.landmarks, 384)
    mask = face_mask(face.landmarks, frame.shape, feather_px=6, erode_px=2)
    pasted = paste_back(frame, aligned.image, aligned.inverse, mask)
    inside = mask > 0
    assert inside.sum() > 20000
    assert psnr(pasted[inside], frame[inside]) > 35
    assert np.array_equal(pasted[~inside], frame[~inside])
    # Pasting a different image changes exactly the masked pixels.
    black = paste_back(frame, np.zeros_like(aligned.image), aligned.inverse, mask)
    assert np.all(black[mask == 1] == 0)


def test_paste_back_with_a_crop_space_mask(talk_frames, talk_faces):
    frame, face = talk_frames[0], talk_faces[0]
    aligned = align_face(frame, face.landmarks, 128)
    crop_mask = np.zeros((128, 128), np.float32)
    crop_mask[32:96, 32:96] = 1
    white = paste_back(frame, np.full_like(aligned.image, 255), aligned.inverse, crop_mask)
    centre = transform_points(np.array([[64.0, 64.0]]), aligned.inverse)[0].astype(int)
    corner = transform_points(np.array([[4.0, 4.0]]), aligned.inverse)[0].astype(int)
    assert np.all(white[centre[1], centre[0]] == 255)
    assert np.array_equal(white[corner[1], corner[0]], frame[corner[1], corner[0]])


def test_mask_feathering_is_monotonic(talk_faces):
    landmarks = talk_faces[0].landmarks
    shape = (524, 524)
    sharp = face_mask(landmarks, shape, feather_px=0)
    soft = face_mask(landmarks, shape, feather_px=20)
    eroded = face_mask(landmarks, shape, feather_px=20, erode_px=10)
    assert set(np.unique(sharp)) == {0.0, 1.0}
    assert soft.dtype == np.float32 and soft.min() == 0 and soft.max() == 1
    # Feathering and erosion only ever take away, never add outside the hull.
    assert np.all(soft <= sharp) and np.all(eroded <= soft)
    assert (soft > 0).sum() > (soft == 1).sum()
    # Walking from the nose tip outwards in any direction, the mask never increases
    # (beyond what rounding the ray to whole pixels can add: under one pixel of ramp).
    cx, cy = landmarks[fm.NOSE_TIP, :2]
    for angle in np.linspace(0, 2 * np.pi, 16, endpoint=False):
        radii = np.arange(0, 260)
        xs = np.clip(np.round(cx + radii * np.cos(angle)).astype(int), 0, 523)
        ys = np.clip(np.round(cy + radii * np.sin(angle)).astype(int), 0, 523)
        assert np.all(np.diff(soft[ys, xs]) < 1 / 20)


def test_region_masks_for_lip_sync(talk_faces):
    landmarks = talk_faces[0].landmarks
    face = face_mask(landmarks, (524, 524), feather_px=0)
    mouth = region_mask(landmarks, (524, 524), "mouth", feather_px=0)
    lower = region_mask(landmarks, (524, 524), "lower_face", feather_px=0)
    grown = region_mask(landmarks, (524, 524), "mouth", feather_px=0, erode_px=-8)
    assert 0 < mouth.sum() < lower.sum() < face.sum()
    assert np.all(mouth <= lower)
    assert grown.sum() > mouth.sum()
    # The lower face stays below the eyes.
    eye_y = landmarks[fm.RIGHT_EYE_INNER, 1]
    assert not lower[: int(eye_y)].any()


@pytest.mark.parametrize("shape", [(333, 501), (97, 131)])
def test_odd_frame_sizes_and_faces_cut_by_the_edge(talk_frames, talk_faces, shape):
    landmarks = talk_faces[0].landmarks.copy()
    # Move the face so that it hangs over the bottom-right corner of the small frame.
    landmarks[:, :2] += np.array(shape[::-1]) - landmarks[fm.NOSE_TIP, :2]
    frame = cv2.resize(talk_frames[0], shape[::-1])
    aligned = align_face(frame, landmarks, 97)
    assert aligned.image.shape == (97, 97, 3)
    mask = face_mask(landmarks, frame.shape, feather_px=5)
    assert mask.shape == shape and mask.max() == 1
    pasted = paste_back(frame, aligned.image, aligned.inverse, mask)
    assert pasted.shape == frame.shape
    # A face entirely outside the frame gives an empty mask and an untouched frame.
    far = landmarks + 10000
    assert not face_mask(far, frame.shape).any()
    assert np.array_equal(paste_back(frame, aligned.image, align_face(frame, far, 97).inverse,
                                     np.ones(shape, np.float32)), frame)
