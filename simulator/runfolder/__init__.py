"""runfolder stage: the run folder's one schema, one reader, one writer, and atomic replacement.

:mod:`~simulator.runfolder.schema` names the files, layers, columns and ``run.json`` keys;
:func:`read_run` reads a folder back into a :class:`RunFolder`; :func:`write_plan` writes one;
:func:`atomic_output_dir` makes every write all-or-nothing.
"""

from .atomic import atomic_output_dir
from .reader import RunFolder, as_bool, read_run
from .writer import json_default, versions, write_json, write_plan

__all__ = [
    "RunFolder",
    "as_bool",
    "atomic_output_dir",
    "json_default",
    "read_run",
    "versions",
    "write_json",
    "write_plan",
]
