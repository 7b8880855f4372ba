"""Plain words for verdicts and reason codes, as the card shows them."""

from governance.reasons import Reason

VERDICT_HEADLINES = {
    "approved": "APPROVED: every gate passed",
    "not_approved": "NOT APPROVED: the model was trained but failed at least one gate, or a required check "
    "could not be measured; do not deploy it",
    "blocked": "BLOCKED AT THE DATA GATE: no model was trained",
    "incomplete": "INCOMPLETE: not every stage ran, so this model is not approved",
}

REASON_WORDS: dict[str, str] = {
    Reason.FILE_MISSING: "the image file named in the metadata does not exist",
    Reason.PATH_OUTSIDE_DATASET: "the file path points outside the dataset folder",
    Reason.NOT_AN_IMAGE: "the file is not an image",
    Reason.UNREADABLE_IMAGE: "the image could not be decoded",
    Reason.IMAGE_TOO_LARGE: "the file or image is larger than the configured limit",
    Reason.IMAGE_TOO_SMALL: "the image is smaller than the configured minimum side",
    Reason.EMPTY_FILE: "the file is empty",
    Reason.DUPLICATE_FILE_NAME: "another record names the same file",
    Reason.INVALID_METADATA: "the metadata row has wrong types or is malformed",
    Reason.CAPTION_MISSING: "the record has no caption",
    Reason.CAPTION_INVALID: "the caption is too long or not text",
    Reason.LICENSE_UNKNOWN: "the licence is missing or not recognised",
    Reason.LICENSE_NOT_ALLOWED: "the licence is not allowed by the licence policy",
    Reason.PROVENANCE_MISSING: "a required provenance field (licence, source, author) is missing",
    Reason.SOURCE_URL_INVALID: "the source URL names no source (a script, data or unknown scheme, or no host)",
    Reason.HASH_MISMATCH: "the file does not match its declared sha256",
    Reason.OPT_OUT: "the author, source or file opted out of training",
    Reason.AI_GENERATED: "the image is marked as AI-generated",
    Reason.DUPLICATE_EXACT: "an exact duplicate of a kept record",
    Reason.DUPLICATE_NEAR: "a near duplicate of a kept record",
    Reason.EVAL_LEAK: "the image also appears in the evaluation set",
    Reason.NSFW: "the NSFW detector found content above the policy threshold",
    Reason.NSFW_UNCONFIRMED: "the NSFW detector flagged the image but skin could not be confirmed in its box "
    "(too little skin colour, or a grayscale image); held for a human",
}


def reason_words(code: str) -> str:
    """What a reason code means; unknown codes are shown as they are rather than hidden."""
    return REASON_WORDS.get(code, "see the list of reason codes in docs/governance.md")
