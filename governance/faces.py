"""Faces per image, from the NudeNet detections ingest already computed (no second model pass)."""

FACE_LABELS = ("FACE_FEMALE", "FACE_MALE")
FACE_MIN_SCORE = 0.4  # below this NudeNet's face boxes are mostly false positives on drawings


def count_faces(detections: list[dict], min_score: float = FACE_MIN_SCORE) -> int:
    """Number of face boxes (female or male) scoring at least `min_score`."""
    return sum(1 for d in detections if d["class"] in FACE_LABELS and d["score"] >= min_score)
