"""Therapy sessions and what is recorded in them: records, private notes and measures."""

from sessions.models.measures import (
    AllianceRating,
    MeasureDefinition,
    MeasureKind,
    MeasureResponse,
    PostSessionReport,
    Respondent,
)
from sessions.models.records import (
    TOOK_PLACE,
    Attendance,
    CancelledBy,
    CosignState,
    EFTChangeEvent,
    Horseman,
    LeftBy,
    NoteKind,
    PrivateNote,
    SessionFormat,
    TherapySession,
)
from sessions.models.safety import SafetyOutcome, SafetyReview, SafetyScreen
from sessions.models.signing import Amendment, SignOffEvent, SignOffKind

__all__ = [
    "TOOK_PLACE",
    "AllianceRating",
    "Amendment",
    "Attendance",
    "CancelledBy",
    "CosignState",
    "EFTChangeEvent",
    "Horseman",
    "LeftBy",
    "MeasureDefinition",
    "MeasureKind",
    "MeasureResponse",
    "NoteKind",
    "PostSessionReport",
    "PrivateNote",
    "Respondent",
    "SafetyOutcome",
    "SafetyReview",
    "SafetyScreen",
    "SessionFormat",
    "SignOffEvent",
    "SignOffKind",
    "TherapySession",
]
