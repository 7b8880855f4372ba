"""The NudeNet wrapper on real images: one session, explicit providers, batched, parity with NudeNet."""

import numpy as np
import skimage.data
from PIL import Image

from governance.config import NsfwConfig
from governance.faces import count_faces
from governance.nsfw import NsfwDetector, policy_hits
from governance.sources.emoji import assets_dir


def _emoji(stem: str) -> np.ndarray:
    rgba = Image.open(assets_dir() / f"{stem}.png").convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))


def test_astronaut_shows_a_female_face_and_an_emoji_nothing():
    detector = NsfwDetector(providers=["CPUExecutionProvider"])
    assert detector.session.get_providers() == ["CPUExecutionProvider"]
    astronaut, thumbs, heart = skimage.data.astronaut(), _emoji("1f44d"), _emoji("1f499")
    found = detector.detect([astronaut, thumbs, heart])
    labels = [d.label for d in found[0]]
    assert "FACE_FEMALE" in labels
    assert count_faces([d.as_dict() for d in found[0]]) == 1
    assert found[1] == []
    # The blue heart gets a faint box (NudeNet reports from 0.2) but nothing the default policy acts on.
    assert policy_hits([d.as_dict() for d in found[2]], NsfwConfig().thresholds) == []


def test_same_scores_as_nudenet_itself_on_a_large_image():
    from nudenet import NudeDetector

    astronaut = skimage.data.astronaut()
    ours = NsfwDetector(providers=["CPUExecutionProvider"]).detect([astronaut])[0]
    theirs = NudeDetector().detect(np.ascontiguousarray(astronaut[:, :, ::-1]))  # NudeNet takes BGR arrays
    assert [(d.label, round(d.score, 3)) for d in ours] == [
        (d["class"], round(d["score"], 3)) for d in theirs
    ]


def test_policy_thresholds():
    detections = [{"class": "BUTTOCKS_EXPOSED", "score": 0.45}, {"class": "FACE_MALE", "score": 0.9}]
    assert policy_hits(detections, {"BUTTOCKS_EXPOSED": 0.5}) == []
    assert policy_hits(detections, {"BUTTOCKS_EXPOSED": 0.4}) == [detections[0]]


def test_decoding_workers_get_the_cores_nudenet_leaves_free(monkeypatch):
    from governance.config import GovernanceConfig
    from governance.ingest import worker_count

    monkeypatch.setattr("os.cpu_count", lambda: 16)
    cfg = GovernanceConfig()  # shards of 256, NudeNet batches of 32: at most 8 concurrent runs
    assert worker_count(cfg, None) == 16  # NudeNet off: every core decodes
    assert worker_count(cfg, NsfwDetector(["CPUExecutionProvider"], threads=16)) == 8
    assert worker_count(cfg, NsfwDetector(["CPUExecutionProvider"], threads=2)) == 14
    # on 2 cores NudeNet takes both: decoding runs in the parent (1), never 0 workers
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert worker_count(cfg, NsfwDetector(["CPUExecutionProvider"], threads=2)) == 1
    assert worker_count(GovernanceConfig(num_proc=3), None) == 3  # an explicit count wins


def test_submissions_queue_on_the_same_runs_and_wait_independently():
    detector = NsfwDetector(providers=["CPUExecutionProvider"], threads=2, batch_size=1)
    astronaut, thumbs = skimage.data.astronaut(), _emoji("1f44d")
    expected = detector.detect([astronaut, thumbs])
    first = detector.submit([astronaut, thumbs])
    second = detector.submit([thumbs, astronaut])
    assert second() == expected[::-1] and first() == expected  # waited for in any order
    detector.close()
    assert detector.detect([astronaut]) == expected[:1]  # runs start again after close
    detector.close()
