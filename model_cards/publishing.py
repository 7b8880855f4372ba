"""Publishing a rendered card folder to DEST/<model-name>/, atomically."""

import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path, PurePosixPath

from model_cards.layout import CARD_JSON, README

# The Hub's repo-name rule, which also keeps the name a single safe path component.
MODEL_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?$")


class CardPublishError(RuntimeError):
    """Publishing was refused or failed; nothing was written at the destination."""


def _check_model_name(model_name: str) -> None:
    if not MODEL_NAME.match(model_name) or ".." in model_name:
        raise ValueError(
            f"model_name {model_name!r} is not a valid card folder name: use 1-96 letters, digits, '.', '_' "
            "or '-', starting and ending with a letter or digit (set it with `--set model_name=...`)"
        )


def card_files(card_dir: Path) -> list[str]:
    """The card's files (relative paths) as listed in its card.json; raises if the card is incomplete."""
    json_path = card_dir / CARD_JSON
    if not (card_dir / README).is_file() or not json_path.is_file():
        raise CardPublishError(
            f"{card_dir} is not a rendered card: it needs {README} and {CARD_JSON}; render it first "
            "(`pipeline card RUN_ID`)"
        )
    try:
        listed = json.loads(json_path.read_text(encoding="utf-8"))["derived"]["card_files"]
    except (ValueError, KeyError, TypeError) as exc:
        raise CardPublishError(
            f"{json_path}: cannot read derived.card_files ({exc}); re-render the card"
        ) from exc
    files = []
    for rel in listed:
        pure = PurePosixPath(rel)
        if pure.is_absolute() or ".." in pure.parts:
            raise CardPublishError(
                f"{json_path}: card file {rel!r} is outside the card folder; re-render the card"
            )
        if not (card_dir / rel).is_file():
            raise CardPublishError(
                f"{card_dir / rel} is listed in {CARD_JSON} but missing; re-render the card"
            )
        files.append(rel)
    return files


def _digests(root: Path, files: list[str]) -> dict[str, str]:
    return {rel: hashlib.sha256((root / rel).read_bytes()).hexdigest() for rel in files}


def _all_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def publish(card_dir: Path, dest: Path, model_name: str, force: bool = False) -> Path:
    """Copy a rendered card to dest/<model_name>/ atomically (nothing partial on failure).

    The card is built in a temporary folder beside the destination and renamed into place. Publishing
    the same card again is a no-op; a different card already there is refused unless `force=True`.
    Returns the published folder.
    """
    card_dir, dest = Path(card_dir), Path(dest)
    _check_model_name(model_name)
    files = card_files(card_dir)
    target = dest / model_name
    if target.exists():
        if not target.is_dir():
            raise CardPublishError(
                f"{target} exists and is not a folder; remove it or choose another --publish DIR"
            )
        if _digests(target, _all_files(target)) == _digests(card_dir, files):
            return target
        if not force:
            raise CardPublishError(
                f"{target} already holds a different card; pass force=True (`--force`) to replace it, "
                "or publish under another model name"
            )
    dest.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{model_name}.", suffix=".partial", dir=dest))
    try:
        for rel in files:
            (staging / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(card_dir / rel, staging / rel)
        os.chmod(staging, 0o755)  # mkdtemp makes it 0700; a published folder is meant to be read
        if target.exists():
            _swap(staging, target, dest, model_name)
        else:
            os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _swap(staging: Path, target: Path, dest: Path, model_name: str) -> None:
    """Replace the folder `target` with `staging`; on failure the old card is put back."""
    old = Path(tempfile.mkdtemp(prefix=f".{model_name}.", suffix=".old", dir=dest)) / "card"
    os.replace(target, old)
    try:
        os.replace(staging, target)
    except BaseException:
        os.replace(old, target)
        raise
    finally:
        shutil.rmtree(old.parent, ignore_errors=True)
