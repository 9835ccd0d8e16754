"""Writing output folders safely: complete or not at all, never over a folder caregrid did not write.

Guarantees of :func:`atomic_output_dir` (also stated in the README):

* **Only caregrid folders are replaced.** An existing target must be empty or carry the marker file
  ``.caregrid`` (or a ``run.json``, for run folders written before the marker existed); anything else — a project
  folder, a home folder, ``--out .`` — is refused with :class:`~simulator.errors.OutputError` and left untouched.
  Nothing outside the target folder is written, except the hidden lock file and temporary folder beside it.
* **Complete or not at all.** Everything is written into a hidden temporary folder beside the target, which then
  takes the target's place in one atomic exchange (Linux ``renameat2(RENAME_EXCHANGE)``). Where the file system
  cannot exchange, two renames are used and a run killed between them leaves ``.NAME.old``, which the next
  command restores. A failure or Ctrl-C before the exchange removes the temporary folder; the old output stays.
* **One writer at a time.** A second command writing the same folder is refused while the first holds the lock.
* **Left-overs are cleaned.** Temporary folders of killed runs (recognised by their own marker) are removed by
  the next command that writes the same target.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from ..errors import OutputError

#: marker file of every folder caregrid writes (JSON: tool, kind, time, files)
MARKER = ".caregrid"
#: marker of a temporary folder while it is being written (JSON: pid, target)
TMP_MARKER = ".caregrid-tmp"
#: ``errno`` values that mean "the output cannot be written here" rather than a bug
OUTPUT_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT, errno.ENOTDIR, errno.EEXIST}


def is_caregrid_folder(path: Path) -> bool:
    """True when ``path`` is a folder caregrid wrote (its marker, or a run folder's ``run.json``)."""
    return (path / MARKER).is_file() or (path / "run.json").is_file()


def check_output_target(target: Path) -> Path:
    """The real folder to write; refuse a file, a non-caregrid folder or a dangling link."""
    if target.is_symlink() and not target.exists():
        raise OutputError(f"{target}: broken symbolic link; expected a folder for the outputs")
    if target.exists() and not target.is_dir():
        raise OutputError(f"{target}: is a file; expected a folder for the outputs (choose another --out)")
    real = target.resolve()
    if real.is_dir() and any(real.iterdir()) and not is_caregrid_folder(real):
        raise OutputError(
            f"{target}: the folder exists and was not written by caregrid (no {MARKER} or run.json in it); "
            "caregrid replaces only its own output folders — choose a new or empty folder for --out"
        )
    return real


@contextlib.contextmanager
def _lock(real: Path) -> Iterator[None]:
    """Exclusive lock on ``.NAME.lock`` beside the target, removed again when released.

    After taking the lock the file must still be the one at the path: a command that opened it just before the
    previous holder removed it would otherwise hold a lock nobody else sees.
    """
    lock_path = real.with_name(f".{real.name}.lock")
    busy = OutputError(
        f"{real}: another caregrid command is writing this folder now; wait for it or choose another --out"
    )
    try:
        fh = open(lock_path, "a+")  # noqa: SIM115 - held for the whole write
    except OSError as exc:
        raise OutputError(f"{real}: cannot write beside the output folder ({exc.strerror})") from exc
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            same = os.fstat(fh.fileno()).st_ino == os.stat(lock_path).st_ino
        except (BlockingIOError, FileNotFoundError) as exc:
            raise busy from exc
        if not same:
            raise busy
        try:
            yield
        finally:
            lock_path.unlink(missing_ok=True)
    finally:
        fh.close()


def _recover(real: Path) -> list[str]:
    """Undo what a killed command left beside ``real``; returns what was done (for notes)."""
    done = []
    old = real.with_name(f".{real.name}.old")
    if old.is_dir() and is_caregrid_folder(old):
        if not real.exists():
            old.rename(real)
            done.append(f"restored {real} from {old.name} (a previous command was killed while replacing it)")
        else:
            shutil.rmtree(old, ignore_errors=True)
    for stale in real.parent.glob(f".{real.name}.tmp-*"):
        # the lock is held: no other command is writing this target, so a temporary folder with our marker is stale
        if stale.is_dir() and (stale / TMP_MARKER).is_file():
            shutil.rmtree(stale, ignore_errors=True)
            done.append(f"removed {stale.name}, left by a killed command")
    return done


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    rc = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _swap_into_place(tmp: Path, real: Path) -> None:
    if not real.exists():
        tmp.rename(real)
        return
    if _exchange(tmp, real):
        shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the old output
        return
    backup = real.with_name(f".{real.name}.old")
    shutil.rmtree(backup, ignore_errors=True)
    real.rename(backup)
    tmp.rename(real)  # a kill between these two renames leaves .NAME.old, restored by the next command
    shutil.rmtree(backup, ignore_errors=True)


def _carry_over(real: Path, tmp: Path, preserve: tuple[str, ...] | None) -> None:
    if not real.is_dir():
        return
    for old in real.iterdir():
        if old.name == MARKER or (tmp / old.name).exists():
            continue
        if preserve is None or old.name in preserve:
            if old.is_dir():
                shutil.copytree(old, tmp / old.name, symlinks=True)
            else:
                shutil.copy2(old, tmp / old.name, follow_symlinks=False)


def _make_tmp(real: Path) -> Path:
    tmp = Path(tempfile.mkdtemp(prefix=f".{real.name}.tmp-", dir=real.parent))
    # mkdtemp creates 0700; give the folder the permissions a plain mkdir would have under this umask
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)
    (tmp / TMP_MARKER).write_text(json.dumps({"pid": os.getpid(), "target": str(real)}), encoding="utf-8")
    return tmp


def _as_output_error(exc: OSError, real: Path) -> OutputError:
    what = exc.strerror or str(exc)
    return OutputError(f"{real}: cannot write the outputs ({what}); the previous output, if any, is unchanged")


@contextlib.contextmanager
def atomic_output_dir(
    target: str | Path, preserve: tuple[str, ...] | None = None, *, kind: str = "run"
) -> Iterator[Path]:
    """Yield a temporary folder beside ``target``; on success it replaces ``target``, on error it is removed.

    Parameters
    ----------
    target : the output folder (created, or replaced when it is a caregrid folder)
    preserve : files of the old folder this command does not write that are carried over: ``None`` = all
        (``caregrid units`` and ``caregrid run`` may share a folder), ``()`` = none, or the names to keep
    kind : what the folder holds (``run``, ``units``, ``compare``, ``sweep``), recorded in the marker

    Raises
    ------
    OutputError
        the target is a file or a folder caregrid did not write, another command is writing it, or the
        file system refuses the write (read-only, full, no permission); the old output is unchanged.
    """
    real = check_output_target(Path(target).absolute())
    try:
        real.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _as_output_error(exc, real) from exc
    with _lock(real):
        try:
            _recover(real)
            check_output_target(real)  # a restored folder is checked like any other
            tmp = _make_tmp(real)
        except OSError as exc:
            raise _as_output_error(exc, real) from exc
        try:
            yield tmp
            _carry_over(real, tmp, preserve)
            (tmp / TMP_MARKER).unlink()
            files = sorted(p.name for p in tmp.iterdir())
            marker = {"tool": "caregrid", "kind": kind, "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "files": files}
            (tmp / MARKER).write_text(json.dumps(marker, ensure_ascii=False, indent=1), encoding="utf-8")
            _swap_into_place(tmp, real)
        except BaseException as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(exc, OSError) and exc.errno in OUTPUT_ERRNOS:
                raise _as_output_error(exc, real) from exc
            raise
