"""Fine schedule (KoAP article, MRP amounts), repeat-offence escalation and the auto-issue/review decision."""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from autofine.contract import VIOLATION_TYPES
from autofine.errors import UserError

REJECT_REASONS: dict[str, str] = {
    "no_violation": "The footage shows no violation.",
    "wrong_person": "The flagged person is not the offender.",
    "evidence_insufficient": "Evidence is unclear, cropped or too short to decide.",
    "detector_error": "The detector mistook an object or person.",
    "duplicate": "The same incident is already a case.",
    "exempt": "An exemption applies (e.g. authorised worker, emergency).",
    "privacy": "Evidence cannot be used (privacy or redaction problem).",
    "other": "Other (explain in the text).",
}
OVERRIDE_REASONS: dict[str, str] = {
    "wrong_type": "The violation is of another type.",
    "wrong_amount": "The amount does not match the schedule for this case.",
    "mitigating": "Mitigating circumstances.",
    "other": "Other (explain in the text).",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ViolationSchedule(_Strict):
    article: str = Field(min_length=1, description="Legal basis printed on the fine.")
    amount_mrp: float | None = Field(default=None, gt=0, le=10_000, description="First offence, in MRP.")
    amount_kzt: int | None = Field(default=None, gt=0, le=100_000_000, description="First offence, in KZT.")
    repeat_amount_mrp: float | None = Field(default=None, gt=0, le=10_000, description="Repeat offence, MRP.")
    repeat_amount_kzt: int | None = Field(default=None, gt=0, le=100_000_000, description="Repeat, in KZT.")
    verified: bool = Field(default=False, description="A lawyer confirmed article and amounts.")
    note: str = Field(default="", description="Free text for reviewers and auditors.")

    @model_validator(mode="after")
    def _one_unit(self) -> ViolationSchedule:
        if (self.amount_mrp is None) == (self.amount_kzt is None):
            raise ValueError("give exactly one of amount_mrp / amount_kzt")
        if self.repeat_amount_mrp is not None and self.repeat_amount_kzt is not None:
            raise ValueError("give at most one of repeat_amount_mrp / repeat_amount_kzt")
        return self


class FineSchedule(_Strict):
    version: str = Field(min_length=1, description="Recorded on every fine computed from this schedule.")
    mrp_by_year: dict[int, int] = Field(description="MRP in KZT per calendar year.")
    repeat_window_months: int = Field(default=12, ge=1, le=60, description="Repeat-offence look-back.")
    violations: dict[str, ViolationSchedule]

    @model_validator(mode="after")
    def _complete(self) -> FineSchedule:
        missing = sorted(set(VIOLATION_TYPES) - set(self.violations))
        unknown = sorted(set(self.violations) - set(VIOLATION_TYPES))
        if missing or unknown:
            raise ValueError(
                f"violations must be exactly {list(VIOLATION_TYPES)} (missing {missing}, unknown {unknown})"
            )
        if not self.mrp_by_year or any(v <= 0 for v in self.mrp_by_year.values()):
            raise ValueError("mrp_by_year needs at least one positive value")
        return self

    def mrp_for(self, year: int) -> tuple[int, int]:
        """(year used, MRP) — the offence year's MRP, else the latest earlier year's."""
        known = [y for y in self.mrp_by_year if y <= year]
        if not known:
            raise UserError(
                f"fine schedule {self.version} has no MRP for {year} or earlier; add it to mrp_by_year"
            )
        used = max(known)
        return used, self.mrp_by_year[used]


def load_schedule(path: Path) -> FineSchedule:
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError as exc:
        raise UserError(f"fine schedule not found: {path}; set AUTOFINE_FINE_SCHEDULE_PATH") from exc
    except yaml.YAMLError as exc:
        raise UserError(f"fine schedule {path} is not valid YAML: {exc}") from exc
    try:
        return FineSchedule.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise UserError(f"fine schedule {path}: {where}: {first['msg']}") from exc


@dataclass(frozen=True)
class FineAmount:
    article: str
    amount_mrp: float | None
    amount_kzt: int
    mrp_year: int
    repeat_offence: bool
    schedule_version: str


def months_before(moment: datetime, months: int) -> datetime:
    """The same wall-clock moment `months` calendar months earlier (day clamped to the month's length)."""
    total = moment.year * 12 + (moment.month - 1) - months
    year, month = divmod(total, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def is_repeat(*, onset: datetime, prior_onsets: Iterable[datetime], window_months: int) -> bool:
    """True when an earlier offence by the same subject lies within the window before `onset`."""
    start = months_before(onset, window_months)
    return any(start <= prior < onset for prior in prior_onsets)


def compute_amount(
    schedule: FineSchedule, *, violation_type: str, onset: datetime, repeat: bool
) -> FineAmount:
    entry = schedule.violations.get(violation_type)
    if entry is None:
        raise UserError(f"fine schedule {schedule.version} has no entry for '{violation_type}'")
    mrp_year, mrp = schedule.mrp_for(onset.year)
    use_repeat = repeat and (entry.repeat_amount_mrp is not None or entry.repeat_amount_kzt is not None)
    amount_mrp = entry.repeat_amount_mrp if use_repeat else entry.amount_mrp
    amount_kzt = entry.repeat_amount_kzt if use_repeat else entry.amount_kzt
    if use_repeat and amount_mrp is None and amount_kzt is None:
        amount_mrp = entry.amount_mrp
    kzt = int(round(amount_mrp * mrp)) if amount_mrp is not None else int(amount_kzt or 0)
    return FineAmount(
        article=entry.article,
        amount_mrp=amount_mrp,
        amount_kzt=kzt,
        mrp_year=mrp_year,
        repeat_offence=use_repeat,
        schedule_version=schedule.version,
    )


def route(
    *, confidence: float, review_all: bool, auto_enabled: bool, threshold: float
) -> Literal["review", "auto"]:
    """Auto-issue only where an admin enabled the type, confidence reaches it, and review_all is off."""
    if review_all or not auto_enabled:
        return "review"
    return "auto" if confidence >= threshold else "review"
