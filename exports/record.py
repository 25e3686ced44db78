"""The whole record of a couple (the designated record set), for a client's right of access
(HIPAA 164.524, GDPR Art. 15): what exports.build_views.whole_record packs into one archive.

1. Choose the sessions of the copy: every session for the joint record; for one partner's
   copy the conjoint sessions and that partner's own individual sessions, never the other's.
2. Read each table of the record set (whole_record) once, limited to those sessions:
   ruptures and repairs, measures (for one partner's copy, only that partner's answers and
   the therapist's; safety screens, only the partner's own), sign-off events and amendments;
   the couple, partners, cycle maps, plans, flags and the case's history are the joint
   record (for one partner's copy, without the flags read from the partners' answers or
   naming a session left out, and never a safety concern).
3. Each table's columns come from its model (every concrete field but the write guards and
   the tenant), so a new field is exported, and listed in the codebook, without an edit here.

Private psychotherapy notes and rupture reflections (sessions.models.PrivateNote) are another
table, never read here: no column of the record set holds them.
"""

from __future__ import annotations

import datetime
import decimal
import io
import json
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db import models

from core.csv import streamed_lines
from core.fields import FlagSetField
from cycles.models import CaseEvent, Couple, CycleMap, CycleStep, EmotionTerm, Partner
from people.models import User
from plans.models import PlanGoal, PlanRevision
from ruptures.models import (
    PRIVATE_FLAG_KINDS,
    Flag,
    FlagAcknowledgement,
    FlagKind,
    Rupture,
    RuptureRepair,
)
from sessions.models import (
    AllianceRating,
    Amendment,
    MeasureDefinition,
    MeasureResponse,
    PostSessionReport,
    Respondent,
    SafetyReview,
    SafetyScreen,
    SessionFormat,
    SignOffEvent,
    TherapySession,
)

if TYPE_CHECKING:
    from django.db.models import QuerySet

# ExportJob.params["copy"]: the joint record, or one partner's copy.
JOINT = "joint"
COPIES = {
    JOINT: "The joint record (both partners)",
    "A": "Partner A's copy",
    "B": "Partner B's copy",
}
# Write guards and the tenant: how the product stores a row, not what the record says.
LEFT_OUT = {"version", "request_token", "applying", "practice"}
# Flags read from the partners' own answers: left out of one partner's copy, since they
# would tell the other partner's answers (an alliance drop, a widening gap, a mismatch).
FROM_ANSWERS = {FlagKind.ALLIANCE_DROP, FlagKind.SPLIT_ALLIANCE_WIDENING, FlagKind.REPORT_MISMATCH}
# Flags for the therapist and supervisor only (a safety concern): in the joint record kept by
# the practice, never in a partner's copy, not even the partner's own (sessions/safety.py).
NOT_IN_A_PARTNERS_COPY = FROM_ANSWERS | PRIVATE_FLAG_KINDS


@dataclass
class Table:
    """One file of the archive: a model's rows, as cells, with the columns' meanings."""

    name: str
    title: str
    model: type[models.Model]
    rows: Sequence[models.Model] = field(default_factory=list)
    fields: list[models.Field[Any, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.fields = [
            f
            for f in self.model._meta.concrete_fields
            if f.name not in LEFT_OUT  # type: ignore[union-attr]
        ]

    @property
    def columns(self) -> list[str]:
        return [f.name for f in self.fields]


@dataclass
class Record:
    couple: Couple
    copy: str
    tables: list[Table]
    labels: dict[type[models.Model], dict[Any, str]]
    session_ids: set[int]
    # The questionnaires answered, for the codebook's meaning of each answer's key.
    definitions: list[MeasureDefinition] = field(default_factory=list)

    def table(self, name: str) -> Table:
        return next(t for t in self.tables if t.name == name)

    def value(self, row: models.Model, f: models.Field[Any, Any]) -> Any:
        """A cell as JSON holds it: codes for choices, names for flag sets, the person's or
        term's name for a reference to them, ids for the record's own rows."""
        raw = getattr(row, f.attname)
        if raw is None:
            return None
        if f.is_relation:
            related = f.related_model
            if related in self.labels:
                return self.labels[related].get(raw, "")  # type: ignore[index]
            if related is TherapySession and raw not in self.session_ids:
                return None  # a session left out of this copy (another partner's)
            return raw
        if isinstance(f, FlagSetField):
            return f.flag(raw).names()
        if isinstance(raw, datetime.datetime | datetime.date):
            return raw.isoformat()
        if isinstance(raw, decimal.Decimal):
            return str(raw)
        return raw

    def shown(self, row: models.Model, f: models.Field[Any, Any]) -> str:
        """A cell as the PDF shows it: the meaning of a code, not the code."""
        value = self.value(row, f)
        if value is None or value == "":
            return "—"
        if f.choices and not f.is_relation:
            return str(dict(f.flatchoices).get(getattr(row, f.attname), value))
        if isinstance(f, FlagSetField):
            return ", ".join(f.flag(getattr(row, f.attname)).labels()) or "—"
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, dict | list):
            return json.dumps(value, ensure_ascii=False)
        return str(value)

    def as_json(self) -> dict[str, Any]:
        return {
            "case_code": self.couple.case_code,
            "copy": self.copy,
            "tables": {
                t.name: [{f.name: self.value(row, f) for f in t.fields} for row in t.rows]
                for t in self.tables
            },
        }


def sessions_of(couple: Couple, copy: str) -> QuerySet[TherapySession]:
    sessions = TherapySession.objects.filter(couple=couple)
    if copy == "A":
        sessions = sessions.filter(format__in=[SessionFormat.CONJOINT, SessionFormat.INDIVIDUAL_A])
    elif copy == "B":
        sessions = sessions.filter(format__in=[SessionFormat.CONJOINT, SessionFormat.INDIVIDUAL_B])
    return sessions


def whole_record(user: User, case_code: str, copy: str) -> Record:
    """The couple's record set as the couple's own therapist may export it (a couple no
    longer theirs is Couple.DoesNotExist). One query per table and per kind of name."""
    if copy not in COPIES:
        raise ValueError("unknown copy")
    couple = Couple.objects.editable_by(user).get(case_code=case_code)
    sessions = list(sessions_of(couple, copy).order_by("ordinal", "pk"))
    in_copy = sessions_of(couple, copy).values("pk")
    own: dict[str, Any] = {} if copy == JOINT else {"partner": copy}
    respondents = (
        {}
        if copy == JOINT
        else {"respondent__in": [Respondent.THERAPIST, f"partner_{copy.lower()}"]}
    )
    ruptures = list(Rupture.objects.filter(couple=couple, session__in=in_copy).order_by("pk"))
    flags = list(Flag.objects.filter(couple=couple).order_by("opened_on", "pk"))
    if copy != JOINT:
        ordinals = {s.ordinal for s in sessions}
        rupture_ids = {r.pk for r in ruptures}
        flags = [
            f
            for f in flags
            if f.kind not in NOT_IN_A_PARTNERS_COPY
            and set(f.evidence.get("sessions", [])) <= ordinals
            and set(f.evidence.get("ruptures", [])) <= rupture_ids
        ]
    tables = [
        Table("couple", "The couple", Couple, [couple]),
        Table("partners", "Partners", Partner, list(couple.partners.order_by("label"))),
        Table("sessions", "Sessions and progress notes", TherapySession, sessions),
        Table(
            "cycle_maps",
            "Cycle-map revisions",
            CycleMap,
            list(CycleMap.objects.filter(couple=couple).order_by("revision")),
        ),
        Table(
            "cycle_map_steps",
            "Cycle-map steps",
            CycleStep,
            list(
                CycleStep.objects.filter(cycle_map__couple=couple).order_by(
                    "cycle_map__revision", "partner__label", "position"
                )
            ),
        ),
        Table("ruptures", "Ruptures", Rupture, ruptures),
        Table(
            "repairs",
            "Repairs",
            RuptureRepair,
            list(
                RuptureRepair.objects.filter(
                    rupture__couple=couple, rupture__session__in=in_copy, session__in=in_copy
                ).order_by("recorded_at", "pk")
            ),
        ),
        Table(
            "alliance_ratings",
            "Session alliance ratings",
            AllianceRating,
            list(
                AllianceRating.objects.filter(session__in=in_copy, **own).order_by(
                    "session__ordinal", "partner"
                )
            ),
        ),
        Table(
            "post_session_reports",
            "Post-session reports",
            PostSessionReport,
            list(
                PostSessionReport.objects.filter(session__in=in_copy, **respondents).order_by(
                    "session__ordinal", "respondent"
                )
            ),
        ),
        Table(
            "questionnaire_answers",
            "Questionnaire answers",
            MeasureResponse,
            list(
                MeasureResponse.objects.filter(session__in=in_copy, **own).order_by(
                    "session__ordinal", "partner", "pk"
                )
            ),
        ),
        # One partner's copy holds that partner's own safety screens and nothing of the
        # other's: not their answers, nor whether they were screened (sessions/safety.py).
        Table(
            "safety_screens",
            "Safety screens",
            SafetyScreen,
            list(SafetyScreen.objects.filter(couple=couple, **own).order_by("recorded_at", "pk")),
        ),
        Table(
            "safety_reviews",
            "Safety concern reviews",
            SafetyReview,
            list(SafetyReview.objects.filter(couple=couple, **own).order_by("reviewed_at", "pk")),
        ),
        Table(
            "plan_revisions",
            "Treatment plan revisions",
            PlanRevision,
            list(PlanRevision.objects.filter(couple=couple).order_by("revision")),
        ),
        Table(
            "plan_goals",
            "Treatment plan goals",
            PlanGoal,
            list(
                PlanGoal.objects.filter(plan__couple=couple).order_by("plan__revision", "position")
            ),
        ),
        Table("flags", "Flags", Flag, flags),
        Table(
            "flag_acknowledgements",
            "Flag acknowledgements",
            FlagAcknowledgement,
            list(
                FlagAcknowledgement.objects.filter(flag__in=[f.pk for f in flags]).order_by(
                    "at", "pk"
                )
            ),
        ),
        Table(
            "sign_off_events",
            "Sign-off events",
            SignOffEvent,
            list(SignOffEvent.objects.filter(session__in=in_copy).order_by("at", "pk")),
        ),
        Table(
            "amendments",
            "Amendments (the original words kept)",
            Amendment,
            list(Amendment.objects.filter(session__in=in_copy).order_by("at", "pk")),
        ),
        Table(
            "case_events",
            "Case history: closings, reopenings, transfers",
            CaseEvent,
            list(CaseEvent.objects.filter(couple=couple).order_by("at", "pk")),
        ),
    ]
    if copy != JOINT:
        # A partner never screened gets no safety tables at all, rather than empty ones.
        tables = [t for t in tables if t.rows or t.model not in (SafetyScreen, SafetyReview)]
    named = _named(tables)
    labels = {model: {obj.pk: NAMED[model](obj) for obj in objs} for model, objs in named.items()}
    definitions = sorted(named.get(MeasureDefinition, []), key=lambda d: d.code)
    return Record(couple, copy, tables, labels, {s.pk for s in sessions}, definitions)


def _named(tables: list[Table]) -> dict[type[models.Model], list[Any]]:
    """The people, emotion terms and measures the tables refer to, for their names: one query
    each kind referred to."""
    wanted: dict[type[models.Model], set[Any]] = {}
    for table in tables:
        for f in table.fields:
            if f.is_relation and f.related_model in NAMED:
                ids = {getattr(row, f.attname) for row in table.rows} - {None}
                wanted.setdefault(f.related_model, set()).update(ids)  # type: ignore[arg-type]
    return {
        model: list(model._default_manager.filter(pk__in=ids))
        for model, ids in wanted.items()
        if ids
    }


NAMED: dict[type[models.Model], Callable[[Any], str]] = {
    User: str,
    EmotionTerm: lambda term: term.name,
    MeasureDefinition: lambda definition: definition.code,
}


def csv_text(record: Record, table: Table) -> str:
    """One table as CSV, every cell safe to open in a spreadsheet (core.csv): a flag set's
    names joined by ";", a JSON value as JSON, true or false, an empty cell for none."""

    def cell(value: Any) -> Any:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return ";".join(value)
        if isinstance(value, list | dict):
            return json.dumps(value, ensure_ascii=False, sort_keys=True)
        return value

    rows = ([cell(record.value(row, f)) for f in table.fields] for row in table.rows)
    return "".join(streamed_lines(table.columns, rows))


def _kind(f: models.Field[Any, Any]) -> str:
    if isinstance(f, FlagSetField):
        return "codes separated by ;"
    if f.is_relation:
        if f.related_model in NAMED:
            return "name"
        return f"id of a row of {RELATED_FILES.get(f.related_model, 'another table')}"  # type: ignore[arg-type]
    return {
        "DateTimeField": "date and time (ISO 8601, UTC offset)",
        "DateField": "date (ISO 8601)",
        "BooleanField": "true or false",
        "JSONField": "JSON",
        "TextField": "text",
        "CharField": "text",
        "DecimalField": "decimal number",
        "BigAutoField": "id",
        "AutoField": "id",
    }.get(f.get_internal_type(), "whole number")


def codebook(record: Record) -> str:
    """README.txt: every file of the archive, every column, and what each code means."""
    lines = [
        f"Whole record of {record.couple.case_code}: {COPIES[record.copy]}",
        "",
        "Files",
        "  record.pdf   the record to read",
        "  record.json  everything below in one file: {case_code, copy, tables: {name: [rows]}}",
    ]
    lines += [f"  {t.name}.csv  {t.title} ({len(t.rows)} rows)" for t in record.tables]
    lines += [
        "",
        "Not in this record: the therapist's private psychotherapy notes and reflections, "
        "which are kept apart from the record.",
    ]
    if record.copy != JOINT:
        lines.append(
            "One partner's copy: the conjoint sessions and this partner's own individual "
            "sessions and answers; the other partner's individual sessions and answers, and "
            "the flags read from the partners' answers, are not in it."
        )
    for definition in record.definitions:
        kind, where = ("Questionnaire", "questionnaire_answers")
        if definition.is_safety_screen:
            kind, where = ("Safety screen", "safety_screens")
        lines += ["", f"{kind} {definition.code}: {definition.name}"]
        if definition.citation:
            lines.append(f"  {definition.citation}")
        lines.append(f"  answers (in {where}): item key = the item's words (range)")
        for item in definition.items:
            scale = f"{item.get('min')}–{item.get('max')}"
            lines.append(f"      {item.get('key')} = {item.get('text')} ({scale})")
    for table in record.tables:
        lines += ["", f"{table.name}.csv: {table.title}"]
        for f in table.fields:
            label = str(f.verbose_name)
            help_text = f" ({f.help_text})" if f.help_text else ""
            lines.append(f"  {f.name}: {label}{help_text}; {_kind(f)}")
            if isinstance(f, FlagSetField):
                codes = [(m.name or "", m.label) for m in f.flag]
            elif f.choices and not f.is_relation:
                codes = [(str(code), str(label)) for code, label in f.flatchoices if code != ""]
                if record.copy != JOINT and table.model is Flag and f.name == "kind":
                    codes = [(c, m) for c, m in codes if c not in PRIVATE_FLAG_KINDS]
            else:
                codes = []
            lines += [f"      {code} = {meaning}" for code, meaning in codes]
    return "\n".join(lines) + "\n"


def archive(record: Record, pdf: bytes) -> bytes:
    """The zip: the PDF, the JSON, a CSV per table and the codebook."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("README.txt", codebook(record))
        zipped.writestr("record.pdf", pdf)
        zipped.writestr(
            "record.json", json.dumps(record.as_json(), ensure_ascii=False, indent=2) + "\n"
        )
        for table in record.tables:
            zipped.writestr(f"{table.name}.csv", csv_text(record, table))
    return out.getvalue()


RELATED_FILES: dict[type[models.Model], str] = {
    Couple: "couple.csv",
    Partner: "partners.csv",
    TherapySession: "sessions.csv",
    CycleMap: "cycle_maps.csv",
    CycleStep: "cycle_map_steps.csv",
    Rupture: "ruptures.csv",
    PlanRevision: "plan_revisions.csv",
    Flag: "flags.csv",
}
