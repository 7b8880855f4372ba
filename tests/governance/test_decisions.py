"""The one shared mechanism: findings -> one decision per record, most severe wins."""

import json

import pytest

from governance.decisions import FindingsLog, decisions_so_far, load_findings, resolve
from governance.reasons import Decision, Reason


def test_most_severe_wins_and_reasons_accumulate(tmp_path):
    a = FindingsLog("a")
    a.add("r1", "license", Decision.QUARANTINE, Reason.LICENSE_UNKNOWN, {"raw": "?"})
    a.add("r1", "hash", Decision.DROP, Reason.HASH_MISMATCH)
    a.add("r2", "license", Decision.QUARANTINE, Reason.LICENSE_UNKNOWN)
    a.add("r3", "ai_generated", Decision.KEEP, None, {"policy": "keep"})
    a.write(tmp_path)
    b = FindingsLog("b")
    b.add("r2", "required_fields", Decision.QUARANTINE, Reason.PROVENANCE_MISSING)
    b.write(tmp_path)
    out = resolve(["r1", "r2", "r3", "r4"], load_findings(tmp_path))
    assert list(out["decision"]) == ["drop", "quarantine", "keep", "keep"]
    # the passes' cheaper view agrees, in the order asked for
    assert decisions_so_far(["r4", "r3", "r2", "r1"], load_findings(tmp_path)) == [
        Decision.KEEP, Decision.KEEP, Decision.QUARANTINE, Decision.DROP
    ]  # fmt: skip
    assert out.at["r1", "reasons"] == ["hash_mismatch", "license_unknown"]
    assert out.at["r2", "reasons"] == ["license_unknown", "provenance_missing"]
    assert out.at["r3", "reasons"] == [] and json.loads(out.at["r3", "evidence"]) == {
        "ai_generated": {"policy": "keep"}
    }
    assert json.loads(out.at["r1", "evidence"])["license"] == {"raw": "?"}


def test_counts_and_validation():
    log = FindingsLog("s")
    log.add("r1", "x", Decision.DROP, Reason.NSFW)
    log.add("r1", "y", Decision.QUARANTINE, Reason.OPT_OUT)
    log.add("r2", "y", Decision.QUARANTINE, Reason.OPT_OUT)
    counts = log.counts("s", records_in=5)
    assert counts.decided == {"drop": 1, "quarantine": 1}
    assert counts.reasons == {"nsfw": 1, "opt_out": 2}
    with pytest.raises(ValueError, match="needs a reason"):
        log.add("r3", "x", Decision.DROP)


def test_unknown_record_in_findings_is_an_error(tmp_path):
    log = FindingsLog("a")
    log.add("ghost", "x", Decision.DROP, Reason.NSFW)
    with pytest.raises(ValueError, match="ghost"):
        resolve(["r1"], log.to_frame())
    with pytest.raises(ValueError, match="ghost"):
        decisions_so_far(["r1"], log.to_frame())
