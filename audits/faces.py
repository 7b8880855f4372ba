"""Share of images with a face, with OpenCV's Haar cascade (no learned weights beyond OpenCV's own)."""

from functools import cache

import cv2
import numpy as np

from governance.components import Component, library

CASCADE = "haarcascade_frontalface_default.xml"
DETECTION = f"OpenCV {cv2.__version__} Haar cascade {CASCADE}, images upscaled to 128 px, minNeighbors=5"


@cache
def _cascade() -> cv2.CascadeClassifier:
    path = cv2.data.haarcascades + CASCADE
    classifier = cv2.CascadeClassifier(path)
    if classifier.empty():
        raise FileNotFoundError(
            f"{path} did not load: install opencv-python-headless<5 (OpenCV 5 drops Haar)"
        )
    return classifier


def face_counts(images: np.ndarray, side: int = 128) -> np.ndarray:
    """Number of frontal faces found in each uint8 RGB image (N,H,W,3)."""
    counts = np.zeros(len(images), dtype=np.int64)
    for i, img in enumerate(images):
        gray = cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGB2GRAY)
        if gray.shape[0] < side:  # the cascade's smallest window is 24 px: small images are upscaled
            gray = cv2.resize(gray, (side, side), interpolation=cv2.INTER_LINEAR)
        found = _cascade().detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(24, 24))
        counts[i] = len(found)
    return counts


def opencv_component() -> Component:
    """Licence disclosure of OpenCV and its Haar cascade."""
    return library(
        "opencv-python-headless",
        name="OpenCV Haar cascade (frontal face)",
        note="cascade file under OpenCV's Intel licence (BSD-style), shipped in the wheel",
    )
