"""NudeNet behind the project's own wrapper: one onnxruntime session, explicit providers, batches.

We use NudeNet's bundled `320n.onnx` (YOLOv8n) but not its `NudeDetector` class, which ignores the
`providers` argument and post-processes box by box in Python. The pre- and post-processing below
follow nudenet 3.4.2 (`nudenet/nudenet.py`): letterbox to a square with black padding on the right and
bottom, resize to 320 (bilinear), values in 0..1; boxes with class score >= 0.2, then OpenCV NMS (0.25,
0.45). Channel order: NudeNet reads files with `cv2.imread` (BGR), swaps with `COLOR_RGBA2BGR` and
again with `blobFromImage(swapRB=True)`, so its network sees BGR. We feed BGR too, so that scores and
the policy thresholds mean what they mean for NudeNet (feeding RGB turns yellow emoji faces into
`BUTTOCKS_EXPOSED` at 0.8).
"""

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

import cv2
import numpy as np

from governance.skin import box_fraction, is_grayscale, skin_mask

LABELS = (
    "FEMALE_GENITALIA_COVERED",
    "FACE_FEMALE",
    "BUTTOCKS_EXPOSED",
    "FEMALE_BREAST_EXPOSED",
    "FEMALE_GENITALIA_EXPOSED",
    "MALE_BREAST_EXPOSED",
    "ANUS_EXPOSED",
    "FEET_EXPOSED",
    "BELLY_COVERED",
    "FEET_COVERED",
    "ARMPITS_COVERED",
    "ARMPITS_EXPOSED",
    "FACE_MALE",
    "BELLY_EXPOSED",
    "MALE_GENITALIA_EXPOSED",
    "ANUS_COVERED",
    "FEMALE_BREAST_COVERED",
    "BUTTOCKS_COVERED",
)
INPUT_SIDE = 320
STRIDE = 32  # YOLOv8's largest stride: input sides must be multiples of it
MIN_SCORE = 0.2
NMS_SCORE, NMS_IOU = 0.25, 0.45


def model_path() -> Path:
    """The detector weights bundled in the nudenet wheel."""
    return Path(str(resources.files("nudenet"))) / "320n.onnx"


def default_providers() -> list[str]:
    """CUDA when onnxruntime offers it, then CPU."""
    import onnxruntime

    available = onnxruntime.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]


@dataclass(frozen=True)
class Detection:
    label: str
    score: float
    box: tuple[int, int, int, int]  # x, y, w, h in original-image pixels
    # Share of skin-coloured pixels in the box (governance.skin); None when the image is grayscale.
    skin: float | None = None

    def as_dict(self) -> dict:
        skin = None if self.skin is None else round(self.skin, 4)
        return {"class": self.label, "score": round(self.score, 4), "box": list(self.box), "skin": skin}


class NsfwDetector:
    """One onnxruntime session over NudeNet's 320n model; `detect` takes batches of RGB arrays.

    On the CPU the session runs single-threaded and `detect` spreads its batches over `threads`
    concurrent runs of the same session (onnxruntime allows that, and releases the GIL): on 2 cores
    that took 4.0 s for the 3,764 emoji against 4.85 s with one run at a time on 2 intra-op threads,
    whose workers wait for each other at every operator. On a GPU the batches run one after another.
    """

    def __init__(
        self,
        providers: list[str] | None = None,
        threads: int | None = None,
        upscale_small: bool = False,
        batch_size: int = 32,
    ):
        import onnxruntime

        self.providers = providers or default_providers()
        threads = threads or os.cpu_count() or 1
        on_gpu = self.providers[0] != "CPUExecutionProvider"
        self.concurrent_runs = 1 if on_gpu else threads
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads if on_gpu else 1
        options.log_severity_level = 3
        # Idle onnxruntime threads spin by default; beside the decoding workers that steals their cores.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(
            str(model_path()), sess_options=options, providers=self.providers
        )
        self.input_name = self.session.get_inputs()[0].name
        self.upscale_small = upscale_small
        self.batch_size = batch_size
        self._runs: ThreadPoolExecutor | None = None  # started on first use, ended by close()

    def preprocess(self, image: np.ndarray) -> tuple[np.ndarray, float]:
        """Letterbox an RGB uint8 image into a 3xSxS float32 BGR blob; returns it and the scale back.

        S is 320 for images at least that large (NudeNet's behaviour). Smaller images are not
        upscaled: S is their longest side rounded up to a multiple of 32 (the network's stride), so a
        72-px emoji runs at 96x96. Upscaling 72-px drawings 4.4x made NudeNet see skin in smooth
        round shapes (15 of the 3,764 emoji flagged: hearts, circles, a peach; none at native size),
        and the small input is ~10x cheaper. `upscale_small=True` restores NudeNet's resizing.
        """
        image = np.ascontiguousarray(image[:, :, ::-1])  # RGB -> BGR, as NudeNet's network receives
        h, w = image.shape[:2]
        side = max(h, w)
        padded = cv2.copyMakeBorder(image, 0, side - h, 0, side - w, cv2.BORDER_CONSTANT, value=(0, 0, 0))
        if side >= INPUT_SIDE or self.upscale_small:
            # Bilinear, as cv2.dnn.blobFromImage in NudeNet: the policy thresholds were tuned on that input.
            target = INPUT_SIDE
            padded = cv2.resize(padded, (target, target), interpolation=cv2.INTER_LINEAR)
        else:
            target = -(-side // STRIDE) * STRIDE
            padded = cv2.copyMakeBorder(
                padded, 0, target - side, 0, target - side, cv2.BORDER_CONSTANT, value=(0, 0, 0)
            )
        return padded.transpose(2, 0, 1).astype(np.float32) / 255.0, side / target

    @staticmethod
    def postprocess(
        output: np.ndarray, scale: float, width: int, height: int, to_original: float
    ) -> list[Detection]:
        """Boxes of one image from the raw (22, N) output, in original-image pixels."""
        rows = output.T
        class_scores = rows[:, 4:]
        best = class_scores.argmax(axis=1)
        score = class_scores[np.arange(len(rows)), best]
        keep = score >= MIN_SCORE
        if not keep.any():
            return []
        cx, cy, bw, bh = (rows[keep, i] * scale for i in range(4))
        x = np.clip(cx - bw / 2, 0, width)
        y = np.clip(cy - bh / 2, 0, height)
        bw = np.minimum(bw, width - x)
        bh = np.minimum(bh, height - y)
        boxes = np.stack([x, y, bw, bh], axis=1)
        kept_scores, kept_classes = score[keep], best[keep]
        chosen = cv2.dnn.NMSBoxes(boxes.tolist(), kept_scores.tolist(), NMS_SCORE, NMS_IOU)
        detections = []
        for i in np.asarray(chosen, dtype=int).reshape(-1):
            bx = boxes[i] * to_original
            detections.append(
                Detection(LABELS[kept_classes[i]], float(kept_scores[i]), tuple(int(v) for v in bx))  # type: ignore[arg-type]
            )
        return detections

    def submit(
        self, images: list[np.ndarray], original_sizes: list[tuple[int, int]] | None = None
    ) -> Callable[[], list[list[Detection]]]:
        """Start detecting; returns a function that waits for and returns each image's detections.

        The images run in forward passes of `batch_size`, on the CPU `concurrent_runs` at a time.
        Passes of successive calls queue on the same runs, so a run that finishes early takes the
        next call's first batch instead of waiting for this call's last one. `original_sizes`
        (width, height) scales boxes back when the arrays are small copies.
        """
        sizes = original_sizes if original_sizes is not None else [None] * len(images)
        step = self.batch_size
        if self._runs is None:
            self._runs = ThreadPoolExecutor(self.concurrent_runs, thread_name_prefix="nudenet")
        passes = [
            self._runs.submit(self._detect_one_run, images[i : i + step], sizes[i : i + step])
            for i in range(0, len(images), step)
        ]
        return lambda: [dets for done in passes for dets in done.result()]

    def detect(
        self, images: list[np.ndarray], original_sizes: list[tuple[int, int]] | None = None
    ) -> list[list[Detection]]:
        """Detections for each RGB uint8 image (`submit`, then wait). Give it many images at once."""
        return self.submit(images, original_sizes)()

    def close(self) -> None:
        """End the runs' threads; passes not started yet are cancelled."""
        if self._runs is not None:
            self._runs.shutdown(cancel_futures=True)
            self._runs = None

    def _detect_one_run(
        self, images: list[np.ndarray], sizes: list[tuple[int, int] | None]
    ) -> list[list[Detection]]:
        if not images:
            return []
        prepared = [self.preprocess(im) for im in images]
        results: list[list[Detection]] = [[] for _ in images]
        # One forward pass per input size (all emoji share one).
        for side in sorted({blob.shape[-1] for blob, _ in prepared}):
            members = [j for j, (blob, _) in enumerate(prepared) if blob.shape[-1] == side]
            outputs = self.session.run(None, {self.input_name: np.stack([prepared[j][0] for j in members])})[
                0
            ]
            for row, j in enumerate(members):
                h, w = images[j].shape[:2]
                size = sizes[j]
                to_original = 1.0 if size is None else size[0] / w
                found = self.postprocess(outputs[row], prepared[j][1], w, h, to_original)
                results[j] = with_skin(found, images[j], to_original)
        return results


def with_skin(detections: list[Detection], image: np.ndarray, to_original: float = 1.0) -> list[Detection]:
    """The detections with the skin share of each box, measured on `image` (the array NudeNet saw).

    Computed here, with the pixels at hand, so that every engine records it per record; the policy
    pass later reads only the stored detections. `to_original` is the scale from `image` to the
    pixels the boxes are given in.
    """
    if not detections:
        return detections
    if is_grayscale(image):
        return [replace(d, skin=None) for d in detections]
    mask = skin_mask(image)
    return [
        replace(d, skin=box_fraction(mask, tuple(v / to_original for v in d.box)))  # type: ignore[arg-type]
        for d in detections
    ]


def policy_hits(detections: list[dict], thresholds: dict[str, float]) -> list[dict]:
    """The detections at or above their label's threshold in the NSFW policy."""
    return [d for d in detections if d["class"] in thresholds and d["score"] >= thresholds[d["class"]]]


def policy_score(detections: list[dict], thresholds: dict[str, float]) -> float:
    """The highest score over the labels the policy names (0 when none was detected)."""
    return max((d["score"] for d in detections if d["class"] in thresholds), default=0.0)
