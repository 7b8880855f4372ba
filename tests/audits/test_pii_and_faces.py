import numpy as np
import pytest
from skimage import data

from audits.faces import face_counts
from audits.pii import scan_caption, scan_captions


@pytest.mark.parametrize(
    ("caption", "kind"),
    [
        ("write to jane.doe@example.org", "email"),
        ("call +1 555-123-4567", "phone"),
        ("see https://example.org/x", "url"),
        ("by @someone_here", "handle"),
        ("Dr. Moreau at home", "honorific_name"),
        ("Anna Schmidt waving", "given_name"),
        ("ssn 123-45-6789", "ssn"),
    ],
)
def test_pii_patterns_find_personal_data(caption, kind):
    assert kind in scan_caption(caption)


def test_emoji_names_are_not_flagged():
    captions = [
        "rose",
        "check mark",
        "jack-o-lantern",
        "woman: dark skin tone",
        "keycap: 1",
        "clock face 12:30",
    ]
    assert scan_captions(captions) == []
    assert [i for i, _ in scan_captions(["rocket", "mail bob@example.com"])] == [1]


def test_haar_cascade_finds_the_astronauts_face_and_none_on_blank():
    photo = data.astronaut()
    blank = np.full_like(photo, 255)
    counts = face_counts(np.stack([photo, blank]))
    assert counts[0] >= 1 and counts[1] == 0
