"""Path containment: a metadata `file_name` may only name a regular file inside the dataset folder."""

import os
import stat
from pathlib import Path

from governance.reasons import Reason


def resolve_inside(root: Path, file_name: str) -> tuple[Path | None, Reason | None, str]:
    """Resolve `file_name` against `root`, following symlinks, and check it stays inside `root`.

    Returns (path, None, "") for a regular file inside the folder, else (None, reason, explanation).
    Only `stat` is called here: nothing is opened.
    """
    root = root.resolve()
    if not file_name or "\x00" in file_name:
        return None, Reason.INVALID_METADATA, "file name is empty or contains NUL"
    if (
        os.path.isabs(file_name)
        or file_name.startswith(("\\", "~"))
        or (len(file_name) > 1 and file_name[1] == ":")
    ):
        return (
            None,
            Reason.PATH_OUTSIDE_DATASET,
            "absolute path; file names must be relative to the dataset folder",
        )
    candidate = root / file_name
    try:
        # resolve() follows every symlink on the way, so a link pointing outside is caught here.
        resolved = candidate.resolve(strict=False)
    except (OSError, RuntimeError) as exc:  # symlink loops
        return None, Reason.FILE_MISSING, f"cannot resolve: {exc.__class__.__name__}"
    if not resolved.is_relative_to(root):
        what = "symlink points" if candidate.is_symlink() or _any_link(root, file_name) else "path climbs"
        return None, Reason.PATH_OUTSIDE_DATASET, f"{what} outside the dataset folder"
    try:
        st = resolved.stat()
    except FileNotFoundError:
        return None, Reason.FILE_MISSING, "no such file"
    except OSError as exc:
        return None, Reason.FILE_MISSING, f"cannot stat: {exc.__class__.__name__}"
    if not stat.S_ISREG(st.st_mode):
        # Directories, FIFOs and devices are never opened: a FIFO would block the reader.
        return None, Reason.NOT_AN_IMAGE, "not a regular file"
    return resolved, None, ""


def _any_link(root: Path, file_name: str) -> bool:
    current = root
    for part in Path(file_name).parts:
        current = current / part
        if current.is_symlink():
            return True
    return False
