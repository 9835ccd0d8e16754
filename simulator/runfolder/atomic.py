"""Writing results safely: everything goes to a temporary folder that replaces the target only when complete."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_output_dir(target: str | Path, preserve: tuple[str, ...] | None = None) -> Iterator[Path]:
    """Yield a temporary folder beside ``target``; on success it replaces ``target``, on error it is removed.

    A failed run leaves the old folder untouched. Files of the old folder that this run does not write are carried
    over when ``preserve`` is ``None`` (all) or names them, so one command does not delete another command's
    outputs (``caregrid units`` and ``caregrid run`` may share a folder) while a run never leaves a stale file of
    its own contract (an old ``moves.csv`` or ``map.html``) beside new results.
    """
    target = Path(target).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    # mkdtemp creates 0700; give the folder the permissions a plain mkdir would have under this umask
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if target.exists():
        for old in target.iterdir():
            if not (tmp / old.name).exists() and (preserve is None or old.name in preserve):
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
