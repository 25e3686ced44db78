"""The demo practice behind `manage.py seed_demo`: invented people and couples only.

Everything is drawn from `random.Random` generators with fixed seeds in a fixed order, and dates
are counted back from today, so the demo always looks current and two fresh databases get the
same record. The command skips when the practice exists, which is what makes a second run a
no-op.

Clinical rows are written through the services (`couple_create`, `session_log`,
`cycle_map_save`, `rupture_record`, `rupture_repair`), so the demo obeys the same rules as the
app's own screens; the many measure rows are checked against the same rules and bulk-inserted.
The building steps (builder.py):

1. People: a practice admin, a supervisor, three therapists (two of them supervised), and a
   consultation group of the therapists.
2. For each `CoupleSpec` (data.py): the couple, a weekly run of sessions ending `last_days_ago`
   before today, ruptures in the sessions that took place (some repaired in a later session,
   ruptures.py), cycle map revisions after the assessment and later in the work, then the
   couple's status.
3. Two couples' runs are partly scripted rather than drawn (scripts.py): docs/domain.md#flags's
   seed case (walk-out, no-show, repair) and the dropout (a confrontation left unrepaired, then
   absence).
4. Per-partner measures for every couple (measures.py): session alliance, post-session reports
   and the CSI-4, shaped so each derived signal shows up where the story says it should.
"""

from __future__ import annotations

from demo.builder import build_demo, demo_exists, missing_emotion_terms, taken_usernames
from demo.data import (
    COUPLES,
    DEMO_LOGINS,
    DEMO_PASSWORD,
    DEMO_PRACTICE_NAME,
    DEMO_SEED,
    DEMO_TOTP_SECRET,
    CoupleSpec,
    DemoLogin,
    DemoSummary,
)
from demo.measures import missing_measures
from demo.scripts import NO_SHOW, REPAIR, WALK_OUT

__all__ = [
    "COUPLES",
    "DEMO_LOGINS",
    "DEMO_PASSWORD",
    "DEMO_PRACTICE_NAME",
    "DEMO_SEED",
    "DEMO_TOTP_SECRET",
    "NO_SHOW",
    "REPAIR",
    "WALK_OUT",
    "CoupleSpec",
    "DemoLogin",
    "DemoSummary",
    "build_demo",
    "demo_exists",
    "missing_emotion_terms",
    "missing_measures",
    "taken_usernames",
]
