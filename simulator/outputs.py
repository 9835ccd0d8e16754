"""Writing results safely: everything goes to a temporary folder that replaces the target only when complete."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_output_dir(target: str | Path) -> Iterator[Path]:
    """Yield a temporary folder beside ``target``; on success it replaces ``target``, on error it is removed.

    Files already in ``target`` that this run does not write are kept (copied over first), so re-running one
    command never deletes another command's outputs, and a failed run leaves the old folder untouched.
    """
    target = Path(target).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if target.exists():
        for old in target.iterdir():
            if not (tmp / old.name).exists():
                if old.is_dir():
                    shutil.copytree(old, tmp / old.name)
                else:
                    shutil.copy2(old, tmp / old.name)
        backup = target.with_name(f".{target.name}.old")
        shutil.rmtree(backup, ignore_errors=True)
        target.rename(backup)
        tmp.rename(target)
        shutil.rmtree(backup, ignore_errors=True)
    else:
        tmp.rename(target)
