"""All typed exceptions of caregrid, in one small module (the CLI maps each to its exit code).

======================  =========  ===========================================================================
class                   exit code  meaning
======================  =========  ===========================================================================
``CaregridError``       1          base class; an unexpected failure that is still explained in one line
``InputError``          2          bad input data, scenario or command line; names file, row/feature, field
``OutputError``         2          the output folder cannot be written (a file, read-only, disk full, not a run)
``PlanningError``       3          no plan satisfies the rules; says which rule fails and why, with the facts
``SolverTimeLimit``     4          the solver hit its time limit before it found any plan; says what to change
``SolverError``         5          the solver back-end failed or returned an inconsistent answer
``RenderError``         6          the plan was written but a map or report could not be drawn
``VerificationFailed``  7          ``caregrid verify``: the run folder breaks a rule or disagrees with its own files
======================  =========  ===========================================================================

Any other exception is a bug: the CLI prints one line and exits 1 (the traceback only with ``--debug``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


class CaregridError(Exception):
    """Base class of every error caregrid raises on purpose."""

    exit_code: int = 1
    #: short bilingual label the CLI prints before the message
    label: str = "error 错误"


class InputError(CaregridError, ValueError):
    """Bad input data or scenario.

    Parameters
    ----------
    path : file the problem is in (or ``None`` for in-memory data)
    message : what was expected and what was found
    row : 1-based data row (CSV, header excluded) or 0-based feature index, when one row is at fault
    field : column / key at fault
    """

    exit_code = 2
    label = "error 输入错误"

    def __init__(
        self,
        path: str | Path | None,
        message: str,
        *,
        row: int | str | None = None,
        field: str | None = None,
    ) -> None:
        self.path = None if path is None else str(path)
        self.row = row
        self.field = field
        self.detail = message
        where = [self.path or "<in-memory data>"]
        if row is not None:
            where.append(f"{row}" if isinstance(row, str) else f"row {row}")
        if field is not None:
            where.append(f"field '{field}'")
        super().__init__(f"{': '.join(where)}: {message}")


class OutputError(CaregridError, OSError):
    """The output cannot be written where asked; nothing of the previous output was changed."""

    exit_code = 2
    label = "error 输出错误"


@dataclass(frozen=True)
class RuleFailure:
    """One failing rule, as structured data (the text for people is in ``message``).

    Parameters
    ----------
    rule_id : id from the rule catalogue (``rules/*.toml``), e.g. ``"R3.member"``
    message : the facts, in one sentence
    fix : what a planner can change to make a plan possible (may be empty)
    """

    rule_id: str
    message: str
    fix: str = ""


class PlanningError(CaregridError, RuntimeError):
    """No plan satisfies the rules; the message says which rule fails and why, with the facts.

    ``failures`` holds the same facts as structured records, so callers never parse the message.
    """

    exit_code = 3
    label = "no plan 无可行方案"

    def __init__(self, message: str = "", failures: list[RuleFailure] | tuple[RuleFailure, ...] = ()) -> None:
        self.failures: tuple[RuleFailure, ...] = tuple(failures)
        if not message:
            if len(self.failures) == 1:
                message = self.failures[0].message
            else:
                message = "\n  - " + "\n  - ".join(f.message for f in self.failures)
        super().__init__(message)

    @property
    def rule_ids(self) -> list[str]:
        return [f.rule_id for f in self.failures]


class SolverTimeLimit(CaregridError):
    """The solver stopped at its time limit without any plan (a plan may still exist)."""

    exit_code = 4
    label = "time limit 求解超时"


class SolverError(CaregridError):
    """The solver back-end failed, is missing, or returned an answer that does not check out."""

    exit_code = 5
    label = "solver error 求解器错误"


class RenderError(CaregridError):
    """A map or the report could not be drawn (the plan files themselves were written)."""

    exit_code = 6
    label = "render error 制图错误"


class VerificationFailed(CaregridError):
    """``caregrid verify``: the independent verifier found violations in a run folder (listed on stdout)."""

    exit_code = 7
    label = "verification failed 核验未通过"


@dataclass
class ErrorRecord:
    """Plain record of an error for sweeps and reports (class name, exit code, one-line message)."""

    kind: str
    exit_code: int
    message: str
    rule_ids: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, exc: BaseException) -> ErrorRecord:
        code = exc.exit_code if isinstance(exc, CaregridError) else 1
        ids = list(exc.rule_ids) if isinstance(exc, PlanningError) else []
        return cls(type(exc).__name__, code, str(exc), ids)
