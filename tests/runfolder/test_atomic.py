"""Output folders: only caregrid's own are replaced, complete or not at all, one writer at a time, kills recovered."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from simulator import cli
from simulator.errors import OutputError
from simulator.runfolder import atomic
from simulator.runfolder.atomic import MARKER, atomic_output_dir

ROOT = Path(__file__).resolve().parents[2]


def _write(target: Path, value: str, **kw) -> None:
    with atomic_output_dir(target, **kw) as tmp:
        (tmp / "a.txt").write_text(value, encoding="utf-8")
        (tmp / "b.txt").write_text(value, encoding="utf-8")


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_new_folder_gets_the_files_and_a_marker(tmp_path):
    _write(tmp_path / "out", "1")
    marker = json.loads((tmp_path / "out" / MARKER).read_text(encoding="utf-8"))
    assert marker["tool"] == "caregrid" and marker["files"] == ["a.txt", "b.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no lock, no temporary folder left


def test_a_folder_caregrid_did_not_write_is_refused_and_untouched(tmp_path):
    project = tmp_path / "project"
    (project / "scenarios").mkdir(parents=True)
    (project / "README.md").write_text("mine", encoding="utf-8")
    (project / "scenarios" / "x.toml").write_text("name = 'x'", encoding="utf-8")
    before = _tree(project)
    with pytest.raises(OutputError, match="was not written by caregrid"):
        _write(project, "1")
    assert _tree(project) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["project"]


def test_out_dot_inside_a_project_is_refused_by_the_cli(tmp_path, monkeypatch, capsys):
    project = tmp_path / "project"
    project.mkdir()
    (project / "README.md").write_text("keep", encoding="utf-8")
    monkeypatch.chdir(project)
    rc = cli.main(["units", str(ROOT / "scenarios" / "panjin.toml"), "--out", ".", "--set", "units.resolution=5"])
    err = capsys.readouterr().err
    assert rc == 2 and "was not written by caregrid" in err
    assert sorted(p.name for p in project.iterdir()) == ["README.md"]


def test_a_symlink_to_a_foreign_folder_is_refused(tmp_path):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "thesis.docx").write_bytes(b"years of work")
    (tmp_path / "link").symlink_to(foreign)
    with pytest.raises(OutputError):
        _write(tmp_path / "link", "1")
    assert _tree(foreign) == {"thesis.docx": b"years of work"}


def test_output_path_that_is_a_file(tmp_path):
    f = tmp_path / "out"
    f.write_text("a file", encoding="utf-8")
    with pytest.raises(OutputError, match="is a file"):
        _write(f, "1")
    assert f.read_text(encoding="utf-8") == "a file"


def test_an_empty_folder_is_used(tmp_path):
    (tmp_path / "out").mkdir()
    _write(tmp_path / "out", "1")
    assert (tmp_path / "out" / "a.txt").read_text(encoding="utf-8") == "1"


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
def test_disk_full_or_read_only_is_an_output_error_and_the_old_output_stays(tmp_path, code):
    _write(tmp_path / "out", "old")
    before = _tree(tmp_path / "out")
    with pytest.raises(OutputError, match="cannot write the outputs"):
        with atomic_output_dir(tmp_path / "out") as tmp:
            (tmp / "a.txt").write_text("new", encoding="utf-8")
            raise OSError(code, os.strerror(code))
    assert _tree(tmp_path / "out") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_read_only_parent_is_an_output_error(tmp_path, monkeypatch):
    def refuse(*a, **k):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(atomic.tempfile, "mkdtemp", refuse)
    with pytest.raises(OutputError, match="Read-only file system"):
        _write(tmp_path / "out", "1")


def test_ctrl_c_while_writing_keeps_the_old_output(tmp_path):
    _write(tmp_path / "out", "old")
    before = _tree(tmp_path / "out")
    with pytest.raises(KeyboardInterrupt):
        with atomic_output_dir(tmp_path / "out") as tmp:
            (tmp / "a.txt").write_text("new", encoding="utf-8")
            raise KeyboardInterrupt
    assert _tree(tmp_path / "out") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_second_writer_is_refused_while_the_first_holds_the_lock(tmp_path):
    _write(tmp_path / "out", "old")
    with open(tmp_path / ".out.lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        with pytest.raises(OutputError, match="another caregrid command is writing"):
            _write(tmp_path / "out", "new")
    assert (tmp_path / "out" / "a.txt").read_text(encoding="utf-8") == "old"


def test_left_overs_of_a_killed_run_are_recovered_and_cleaned(tmp_path):
    _write(tmp_path / "out", "old")
    # a kill between the two renames of the fallback path: only .out.old is left
    (tmp_path / "out").rename(tmp_path / ".out.old")
    stale = tmp_path / ".out.tmp-abc"
    stale.mkdir()
    (stale / atomic.TMP_MARKER).write_text("{}", encoding="utf-8")
    (stale / "a.txt").write_text("half", encoding="utf-8")
    foreign = tmp_path / ".out.tmp-notours"  # same name pattern, not our marker: never deleted
    foreign.mkdir()
    with atomic_output_dir(tmp_path / "out") as tmp:
        (tmp / "c.txt").write_text("new", encoding="utf-8")
    assert (tmp_path / "out" / "a.txt").read_text(encoding="utf-8") == "old"  # restored, then carried over
    assert (tmp_path / "out" / "c.txt").read_text(encoding="utf-8") == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".out.tmp-notours", "out"]


def test_fallback_without_exchange_gives_the_same_result(tmp_path, monkeypatch):
    monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)
    _write(tmp_path / "out", "old")
    _write(tmp_path / "out", "new")
    assert (tmp_path / "out" / "a.txt").read_text(encoding="utf-8") == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


WRITER = """
import sys
from simulator.runfolder.atomic import atomic_output_dir
target, n = sys.argv[1], 0
while True:
    n += 1
    with atomic_output_dir(target, preserve=()) as tmp:
        for k in range(20):
            (tmp / f"f{k}.txt").write_text(str(n))
"""


def test_killing_a_writer_at_random_moments_never_leaves_a_broken_folder(tmp_path):
    """SIGKILL a process that rewrites one folder in a loop; the folder is always one complete version."""
    target = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    rng = __import__("random").Random(7)
    for _ in range(12):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], env=env)
        time.sleep(0.3 + rng.random() * 0.5)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        with atomic_output_dir(target, preserve=()) as tmp:  # the next command recovers and cleans
            (tmp / "check.txt").write_text("ok")
        # what the killed writer left was one complete version (or recovered); now the check run replaced it
        files = _tree(target)
        assert set(files) == {"check.txt", MARKER}
        assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
        # write a complete version back for the next round to kill
        with atomic_output_dir(target, preserve=()) as tmp:
            for k in range(20):
                (tmp / f"f{k}.txt").write_text("0")


def test_a_killed_writer_leaves_the_previous_or_the_next_complete_version(tmp_path):
    target = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for delay in (0.35, 0.5, 0.65, 0.8):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], env=env)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if not target.exists():
            # only possible between the fallback's two renames; the backup is then complete
            target = tmp_path / ".out.old"
        if target.exists():
            values = {p.read_text() for p in target.glob("f*.txt")}
            assert len(values) == 1 and len(list(target.glob("f*.txt"))) == 20, values
        target = tmp_path / "out"
