"""The controlled vocabularies of rupture coding (docs/domain.md#alliance-ruptures-3rs).

Markers follow the Rupture Resolution Rating System (3RS; Eubanks, Muran & Safran 2015);
strategies and resolution stages follow Safran & Muran; the metacommunication principles
follow Safran & Kraus (2014). Member names are stable codes stored as bits: never renumber,
only add.
"""

from __future__ import annotations

from django.db import models

from core.fields import LabelledFlag


class RuptureType(models.TextChoices):
    WITHDRAWAL = "withdrawal", "Withdrawal (moving away)"
    CONFRONTATION = "confrontation", "Confrontation (moving against)"


class WithdrawalMarker(LabelledFlag):
    DENIAL = 1 << 0, "Denial"
    MINIMAL_RESPONSE = 1 << 1, "Minimal response"
    ABSTRACT_COMMUNICATION = 1 << 2, "Abstract communication"
    AVOIDANT_STORYTELLING = 1 << 3, "Avoidant storytelling or shifting topic"
    DEFERENTIAL = 1 << 4, "Deferential and appeasing"
    CONTENT_AFFECT_SPLIT = 1 << 5, "Content/affect split"
    SELF_CRITICISM = 1 << 6, "Self-criticism or hopelessness"


class ConfrontationMarker(LabelledFlag):
    COMPLAINS_ABOUT_THERAPIST = 1 << 0, "Complaints or concerns about the therapist"
    REJECTS_INTERVENTION = 1 << 1, "Rejects a therapist intervention"
    COMPLAINS_ABOUT_ACTIVITIES = 1 << 2, "Complaints about the activities of therapy"
    COMPLAINS_ABOUT_PARAMETERS = (
        1 << 3,
        "Complaints about the parameters (time, fees, scheduling, length)",
    )
    COMPLAINS_ABOUT_PROGRESS = 1 << 4, "Complaints about progress"
    DEFENDS_SELF = 1 << 5, "Defends self against the therapist"
    CONTROLS_OR_PRESSURES = 1 << 6, "Efforts to control or pressure the therapist"


class ResolutionStrategy(LabelledFlag):
    CLARIFIES_MISUNDERSTANDING = 1 << 0, "Clarifies a misunderstanding"
    CHANGES_TASKS_OR_GOALS = 1 << 1, "Changes tasks or goals"
    GIVES_RATIONALE = 1 << 2, "Illustrates tasks or gives a rationale"
    INVITES_DISCUSSION = (
        1 << 3,
        "Invites discussion of thoughts and feelings about the therapist or therapy",
    )
    ACKNOWLEDGES_CONTRIBUTION = 1 << 4, "Acknowledges own contribution"
    DISCLOSES_EXPERIENCE = 1 << 5, "Discloses own internal experience"
    LINKS_TO_THERAPY_PATTERN = (
        1 << 6,
        "Links the rupture to patterns in the relationship with the therapist",
    )
    LINKS_TO_OTHER_RELATIONSHIPS = 1 << 7, "Links the rupture to patterns in other relationships"
    VALIDATES_DEFENSIVE_POSTURE = 1 << 8, "Validates the defensive posture"
    REDIRECTS = 1 << 9, "Redirects or refocuses"


class MetacommunicationPrinciple(LabelledFlag):
    TENTATIVE = 1 << 0, "Be tentative and own your subjectivity"
    NO_ASSUMED_PARALLELS = 1 << 1, "Don't assume parallels with other relationships"
    ACCEPTS_RESPONSIBILITY = 1 << 2, "Accept responsibility"
    STARTS_WHERE_YOU_ARE = 1 << 3, "Start where you are"
    STAYS_CONCRETE = 1 << 4, "Stay concrete"
    EXPLORES_RESPONSE = 1 << 5, "Explore the client's response to each intervention"
    CLARIFIES_RELATIONAL_MEANING = 1 << 6, "Clarify the relational meaning of the intervention"
    BUILDS_WENESS = 1 << 7, "Build \u201cwe-ness\u201d"
    DISCLOSES_JUDICIOUSLY = 1 << 8, "Disclose your own experience judiciously"
    EXPECTS_NEW_RUPTURES = 1 << 9, "Expect new ruptures and revisited impasses"


class WhoMoved(models.TextChoices):
    PARTNER_A = "partner_a", "Partner A"
    PARTNER_B = "partner_b", "Partner B"
    BOTH = "both", "Both partners"
    THERAPIST = "therapist", "Therapist"


class Toward(models.TextChoices):
    THERAPIST = "therapist", "The therapist"
    PARTNER_A = "partner_a", "Partner A"
    PARTNER_B = "partner_b", "Partner B"
    BOTH_PARTNERS = "both_partners", "Both partners"


class ResolutionStage(models.IntegerChoices):
    NONE = 0, "0. Not yet addressed"
    AWARE = 1, "1. Therapist became aware of the rupture"
    EXPLORED = 2, "2. Explored it together"
    PAST_AVOIDANCE = 3, "3. Helped the client past avoiding feelings about it"
    UNDERLYING_NEED = 4, "4. Explored the underlying wish or need"


class RuptureStatus(models.TextChoices):
    UNRESOLVED = "unresolved", "Unresolved"
    PARTLY_RESOLVED = "partly_resolved", "Partly resolved"
    RESOLVED = "resolved", "Resolved"


class SummaryPeriod(models.TextChoices):
    DAY = "day", "The day just ended"
    FOUR_WEEKS = "four_weeks", "The last four weeks"
    TREATMENT = "treatment", "The whole treatment"
