"""The change audit and the trail's protection (STACK.md checklist item 7,
docs/domain.md#who-sees-what).

Every insert, update and delete of a clinical row makes one people.ChangeEvent, written by
the database (bulk writes and upserts too), naming columns, never values; the acting person
comes from people.audit_db. Neither audit table can be updated or deleted, not even with raw
SQL. The practice admin searches and exports their own practice's trail.
"""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Callable
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.urls import include, path, reverse
from django.utils import timezone

from config import urls as project_urls
from cycles.models import CaseShare, Couple, CycleMap, CycleStep, Partner
from people import audit_views
from people import urls as people_urls
from people.audit_db import acting_as
from people.models import AccessEvent, ChangeEvent, User
from ruptures.models import (
    CaseloadSummary,
    Flag,
    FlagAcknowledgement,
    FlagKind,
    NightlyRun,
    Rupture,
    RuptureRepair,
    RuptureSummary,
)
from ruptures.services import rupture_repair
from sessions.models import (
    AllianceRating,
    MeasureDefinition,
    MeasureResponse,
    PostSessionReport,
    PrivateNote,
    TherapySession,
)
from sessions.services import private_note_write, session_update
from tests.exports import exported
from tests.factories import World, make_couple, make_session

pytestmark = pytest.mark.django_db

CANARY = "CANARY-a61d-audit"
MIDDLEWARE = "people.audit_db.ActingUserMiddleware"

# Until people/urls.py names the audit screens, this module serves as the URL conf with them
# added (the `wired` fixture); once it does, the project's own URL conf is tested.
AUDIT_URLS = [
    path("audit/", audit_views.audit, name="audit"),
    path("audit/export.csv", audit_views.audit_csv, name="audit_csv"),
]
LEAD_WIRED = any(getattr(p, "name", "") == "audit" for p in people_urls.urlpatterns)
urlpatterns = [
    path("practice/", include((people_urls.urlpatterns + AUDIT_URLS, "people")))
    if getattr(p, "urlconf_module", None) is people_urls
    else p
    for p in project_urls.urlpatterns
]


@pytest.fixture(autouse=True)
def wired(settings: Any) -> None:
    if MIDDLEWARE not in settings.MIDDLEWARE:
        after = settings.MIDDLEWARE.index("people.middleware.RequireMFAMiddleware") + 1
        settings.MIDDLEWARE = [
            *settings.MIDDLEWARE[:after],
            MIDDLEWARE,
            *settings.MIDDLEWARE[after:],
        ]
    if not LEAD_WIRED:
        settings.ROOT_URLCONF = __name__


@pytest.fixture
def world() -> World:
    return World.build()


def events(obj: Any) -> list[ChangeEvent]:
    return list(
        ChangeEvent.objects.filter(table_name=obj._meta.db_table, row_id=obj.pk).order_by("id")
    )


def last_event(obj: Any) -> ChangeEvent:
    found = events(obj)
    assert found, f"no change event for {obj._meta.db_table} #{obj.pk}"
    return found[-1]


# --- each clinical model: insert, update, delete ------------------------------------------------


def _definition() -> MeasureDefinition:
    return MeasureDefinition.objects.get(practice=None, code="csi4")


def _fresh_session(w: World) -> TherapySession:
    return make_session(w.couple, days_ago=2)


# model, a fresh row of it (with nothing depending on it), a column to change and its new value
CLINICAL: list[tuple[type[Any], Callable[[World], Any], str, Any]] = [
    (Couple, lambda w: make_couple(w.owner), "started_on", datetime.date(2020, 1, 6)),
    (Partner, lambda w: make_couple(w.owner).partners.get(label="A"), "pronouns", "they"),
    (
        CycleMap,
        lambda w: CycleMap.objects.create(couple=w.couple, revision=99, author=w.owner),
        "change_note",
        "re-mapped",
    ),
    (
        CycleStep,
        lambda w: CycleStep.objects.create(
            cycle_map=w.cycle_map,
            partner=w.couple.partners.first(),
            position=99,
            kind="trigger",
            text="a step",
        ),
        "text",
        "another step",
    ),
    (
        CaseShare,
        lambda w: CaseShare.objects.create(couple=w.couple, group=w.group, shared_by=w.owner),
        "withdrawn_at",
        timezone.now(),
    ),
    (TherapySession, _fresh_session, "duration_minutes", 75),
    (
        PrivateNote,
        lambda w: private_note_write(author=w.owner, session=_fresh_session(w), text="a note"),
        "text",
        "another note",
    ),
    (
        AllianceRating,
        lambda w: AllianceRating.objects.create(
            session=_fresh_session(w),
            partner="A",
            bond=5,
            goals=5,
            tasks=5,
            fit=5,
            entered_by="therapist",
        ),
        "bond",
        7,
    ),
    (
        PostSessionReport,
        lambda w: PostSessionReport.objects.create(
            session=_fresh_session(w),
            respondent="partner_a",
            tension=False,
            entered_by="therapist",
        ),
        "entered_by",
        "partner",
    ),
    (
        MeasureResponse,
        lambda w: MeasureResponse.objects.create(
            definition=_definition(),
            session=_fresh_session(w),
            partner="A",
            answers={},
            total=10,
            entered_by="therapist",
            recorded_by=w.owner,
        ),
        "total",
        12,
    ),
    (
        Rupture,
        lambda w: Rupture.objects.create(
            couple=w.couple,
            session=_fresh_session(w),
            rupture_type="withdrawal",
            who_moved="partner_a",
            toward="therapist",
            significance=2,
            created_by=w.owner,
        ),
        "significance",
        4,
    ),
    (
        RuptureRepair,
        lambda w: rupture_repair(
            rupture=w.rupture,
            repaired_in=_fresh_session(w),
            status="resolved",
            strategies=0,
            resolution_stage=2,
            recorded_by=w.owner,
        ).repair_log.get(),
        "resolution_stage",
        3,
    ),
    (
        RuptureSummary,
        lambda w: RuptureSummary.objects.create(
            couple=w.couple, period="week", on_date=timezone.localdate(), data={}
        ),
        "data",
        {"ruptures": 2},
    ),
    (
        Flag,
        lambda w: Flag.objects.create(
            couple=w.couple,
            kind=FlagKind.choices[0][0],
            opened_on=timezone.localdate(),
            detail="code only",
        ),
        "closed_on",
        timezone.localdate() + datetime.timedelta(days=1),
    ),
    (
        FlagAcknowledgement,
        lambda w: FlagAcknowledgement.objects.create(
            flag=Flag.objects.create(
                couple=w.couple,
                kind=FlagKind.choices[1][0],
                opened_on=timezone.localdate(),
                detail="code only",
            ),
            by=w.supervisor,
            comment="seen",
        ),
        "follow_up_on",
        timezone.localdate(),
    ),
    (
        NightlyRun,
        lambda w: NightlyRun.objects.create(practice=w.practice, for_date=timezone.localdate()),
        "status",
        "running",
    ),
    (
        CaseloadSummary,
        lambda w: CaseloadSummary.objects.create(
            practice=w.practice, person=w.owner, role="therapist", on_date=timezone.localdate()
        ),
        "data",
        {"couples": 1},
    ),
]


@pytest.mark.parametrize(
    ("model", "make", "column", "value"), CLINICAL, ids=[c[0].__name__ for c in CLINICAL]
)
def test_insert_update_and_delete_of_each_clinical_model_are_audited(
    world: World, model: type[Any], make: Callable[[World], Any], column: str, value: Any
) -> None:
    with acting_as("test", user_id=world.owner.pk):
        obj = make(world)
        table, pk = model._meta.db_table, obj.pk
        inserted = last_event(obj)
        assert (inserted.table_name, inserted.row_id, inserted.operation) == (table, pk, "INSERT")
        assert "id" in inserted.changed_columns
        assert inserted.actor_id == world.owner.pk
        assert inserted.actor_label == "test"
        assert inserted.practice_id == world.practice.pk
        if model is not NightlyRun and model is not CaseloadSummary:
            couple = obj if model is Couple else getattr(obj, "couple", world.couple)
            assert (inserted.couple_id, inserted.case_code) == (couple.pk, couple.case_code)

        db_column = model._meta.get_field(column).column
        setattr(obj, column, value)
        obj.save(update_fields=[column])
        updated = last_event(obj)
        assert updated.operation == "UPDATE"
        assert updated.changed_columns == [db_column]

        model.objects.filter(pk=pk).delete()
        deleted = ChangeEvent.objects.filter(table_name=table, row_id=pk).latest("id")
        assert (deleted.operation, deleted.row_id, deleted.changed_columns) == ("DELETE", pk, [])


def test_a_request_through_a_real_view_names_the_signed_in_person(client, world):
    client.force_login(world.owner)
    url = reverse("ruptures:withdraw", args=[world.rupture.pk])
    response = client.post(url, {"reason": "logged twice"})
    assert response.status_code == 302
    event = last_event(world.rupture)
    assert event.operation == "UPDATE"
    assert event.actor_id == world.owner.pk
    assert event.actor_label == ""
    assert event.practice_id == world.practice.pk
    assert set(event.changed_columns) == {"withdrawn_at", "withdrawn_by_id", "withdrawal_reason"}


def test_the_middleware_resets_the_setting_after_the_response(client, world):
    client.force_login(world.owner)
    client.get(reverse("home"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('app.user_id', true)")
        assert cursor.fetchone()[0] in ("", None)


def test_the_middleware_tells_the_database_who_writes_and_spares_reads(client, world, settings):
    from django.test.utils import CaptureQueriesContext

    client.force_login(world.owner)
    client.get(reverse("home"))
    with CaptureQueriesContext(connection) as queries:
        client.get(reverse("home"))
    assert not [q for q in queries.captured_queries if "app.user_id" in q["sql"]]
    with CaptureQueriesContext(connection) as queries:
        client.post(reverse("cycles:edit", args=[world.couple.case_code]), {})
    sql = [q["sql"] for q in queries.captured_queries if "app.user_id" in q["sql"]]
    assert len(sql) == 2  # one before the view, one after


def test_acting_as_labels_the_nightly_job_and_restores_what_it_found(world):
    with acting_as("outer", user_id=world.owner.pk):
        with acting_as("nightly"):
            world.summary.data = {"ruptures": 5}
            world.summary.save()
        world.couple.started_on = datetime.date(2020, 1, 6)
        world.couple.save(update_fields=["started_on"])
    nightly, outer = last_event(world.summary), last_event(world.couple)
    assert (nightly.actor_label, nightly.actor_id) == ("nightly", None)
    assert (outer.actor_label, outer.actor_id) == ("outer", world.owner.pk)
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('app.actor', true)")
        assert cursor.fetchone()[0] in ("", None)


def test_a_change_made_outside_the_app_names_the_database_role(world):
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE cycles_couple SET started_on = '2020-01-06' WHERE id = %s", [world.couple.pk]
        )
    event = last_event(world.couple)
    assert (event.actor_id, event.actor_label) == (None, "")
    assert event.db_user  # e.g. "postgres"
    assert event.changed_columns == ["started_on"]


# --- bulk writes and no-op updates --------------------------------------------------------------


def test_bulk_update_is_audited_row_by_row(world):
    other = make_couple(world.owner)
    flags = [
        Flag.objects.create(
            couple=c,
            kind=FlagKind.choices[0][0],
            opened_on=timezone.localdate(),
            detail="code only",
        )
        for c in (world.couple, other)
    ]
    for flag in flags:
        flag.closed_on = timezone.localdate() + datetime.timedelta(days=1)
    with acting_as("nightly"):
        Flag.objects.bulk_update(flags, ["closed_on", "detail"])
    for flag in flags:
        event = last_event(flag)
        assert (event.operation, event.changed_columns, event.actor_label) == (
            "UPDATE",
            ["closed_on"],
            "nightly",
        )


def test_one_statement_updating_many_derived_rows_writes_a_trail_row_per_changed_row(world):
    """The per-statement trail pairs old and new rows by id (people 0009: a hash join): every
    changed row gets its own event with its own columns; rows left as they were get none."""
    today = timezone.localdate()
    flags = Flag.objects.bulk_create(
        Flag(couple=world.couple, kind=FlagKind.GONE_QUIET, key=str(n), opened_on=today, detail="a")
        for n in range(60)
    )
    ids = [f.pk for f in flags]

    def updates() -> list[tuple[int, list[str]]]:
        found = ChangeEvent.objects.filter(
            table_name="ruptures_flag", operation="UPDATE", row_id__in=ids
        )
        return list(found.order_by("pk").values_list("row_id", "changed_columns"))

    with acting_as("nightly"):
        Flag.objects.filter(pk__in=ids[::2]).update(detail="b")
    assert updates() == [(pk, ["detail"]) for pk in ids[::2]]
    with acting_as("nightly"):
        Flag.objects.filter(pk__in=ids).update(detail=F("detail"))  # changes nothing
        Flag.objects.filter(pk__in=ids[:10]).update(detail="c", closed_on=today)
    assert updates()[30:] == [(pk, ["closed_on", "detail"]) for pk in ids[:10]]
    assert len(updates()) == 40


def test_bulk_create_with_update_conflicts_is_audited(world):
    day = timezone.localdate()
    existing = RuptureSummary.objects.create(
        couple=world.couple, period="week", on_date=day, data={"ruptures": 1}
    )
    other = make_couple(world.owner)
    with acting_as("nightly"):
        RuptureSummary.objects.bulk_create(
            [
                RuptureSummary(couple=world.couple, period="week", on_date=day, data={"r": 2}),
                RuptureSummary(couple=other, period="week", on_date=day, data={"r": 0}),
            ],
            update_conflicts=True,
            unique_fields=["couple", "period", "on_date"],
            update_fields=["data"],
        )
    upserted = last_event(existing)
    assert (upserted.operation, upserted.changed_columns) == ("UPDATE", ["data"])
    assert upserted.actor_label == "nightly"
    created = RuptureSummary.objects.get(couple=other, period="week", on_date=day)
    assert [e.operation for e in events(created)] == ["INSERT"]
    assert events(created)[0].couple_id == other.pk


def test_an_update_that_changes_nothing_writes_nothing(world):
    before = ChangeEvent.objects.count()
    world.couple.save()  # every column written, none changed
    world.session.save()  # only updated_at moves: ignored
    TherapySession.objects.filter(pk=world.session.pk).update(duration_minutes=50)
    assert world.session.duration_minutes == 50
    assert ChangeEvent.objects.count() == before


# --- the trail can't be changed ------------------------------------------------------------------


@pytest.fixture
def one_of_each(world: World) -> tuple[AccessEvent, ChangeEvent]:
    access = AccessEvent.objects.create(user=world.owner, practice=world.practice, action="read")
    return access, ChangeEvent.objects.filter(practice=world.practice).first()


@pytest.mark.parametrize("table", ["people_accessevent", "people_changeevent"])
@pytest.mark.parametrize(
    "sql", ["UPDATE {table} SET at = now() WHERE id = %s", "DELETE FROM {table} WHERE id = %s"]
)
def test_raw_sql_cannot_update_or_delete_the_trail(one_of_each, table, sql):
    row = one_of_each[0] if table == "people_accessevent" else one_of_each[1]
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql.format(table=table), [row.pk])
    assert type(row).objects.filter(pk=row.pk).exists()


@pytest.mark.parametrize("model", [AccessEvent, ChangeEvent])
def test_the_orm_cannot_update_or_delete_the_trail(one_of_each, model):
    rows = model.objects.filter(pk__in=[e.pk for e in one_of_each if isinstance(e, model)])
    field = "detail" if model is AccessEvent else "actor_label"
    with pytest.raises(DatabaseError), transaction.atomic():
        rows.update(**{field: "rewritten"})
    with pytest.raises(DatabaseError), transaction.atomic():
        rows.delete()
    with pytest.raises(DatabaseError), transaction.atomic():
        rows.get().delete()
    assert rows.count() == 1


# --- no clinical text in the trail --------------------------------------------------------------


def test_no_note_progress_note_or_reflection_reaches_the_trail(client, world):
    client.force_login(world.owner)
    session = make_session(world.couple, days_ago=1, private_note=f"private {CANARY}")
    session_update(
        session=session,
        author=world.owner,
        private_note=f"edited {CANARY}",
        read_version=session.version,
        progress_note=f"progress {CANARY}",
    )
    rupture = Rupture.objects.create(
        couple=world.couple,
        session=session,
        rupture_type="withdrawal",
        who_moved="partner_a",
        toward="therapist",
        significance=2,
        created_by=world.owner,
        note=f"note {CANARY}",
    )
    private_note_write(author=world.owner, session=session, text=f"again {CANARY}")
    client.post(reverse("ruptures:withdraw", args=[rupture.pk]), {"reason": f"reason {CANARY}"})
    assert ChangeEvent.objects.filter(table_name="therapy_sessions_privatenote").exists()
    assert ChangeEvent.objects.filter(table_name="therapy_sessions_therapysession").exists()
    with connection.cursor() as cursor:
        for table in ("people_changeevent", "people_accessevent"):
            sql = f"SELECT count(*) FROM {table} t WHERE t::text LIKE %s"  # noqa: S608
            cursor.execute(sql, [f"%{CANARY}%"])
            assert cursor.fetchone()[0] == 0, table


# --- the practice admin's search and export ------------------------------------------------------


@pytest.fixture
def trail(world: World) -> dict[str, Any]:
    """Events of two people on two couples over three days, and one of another practice."""
    other_couple = make_couple(world.colleague)
    now = timezone.now()
    made = {
        "owner_old": AccessEvent.objects.create(
            at=now - datetime.timedelta(days=10),
            user=world.owner,
            practice=world.practice,
            action="read couple",
            object_type="couple",
            object_id=str(world.couple.pk),
            case_code=world.couple.case_code,
        ),
        "owner_new": AccessEvent.objects.create(
            at=now,
            user=world.owner,
            practice=world.practice,
            action="read session",
            case_code=world.couple.case_code,
            detail='=HYPERLINK("http://evil")',
        ),
        "colleague": AccessEvent.objects.create(
            at=now,
            user=world.colleague,
            practice=world.practice,
            action="read couple",
            case_code=other_couple.case_code,
        ),
        "elsewhere": AccessEvent.objects.create(
            at=now,
            user=world.outsider,
            practice=world.outsider.practice,
            action="read couple",
            case_code="ELSEWHERE1",
        ),
    }
    with acting_as("web", user_id=world.colleague.pk):
        other_couple.started_on = datetime.date(2020, 1, 6)
        other_couple.save(update_fields=["started_on"])
    elsewhere = make_couple(world.outsider)
    return {**made, "other_couple": other_couple, "elsewhere_couple": elsewhere}


def audit_page(client: Any, admin: User, **params: Any) -> Any:
    client.force_login(admin)
    return client.get(reverse("people:audit"), params)


def test_the_admin_sees_only_their_practices_events(client, world, trail):
    response = audit_page(client, world.practice_admin)
    assert response.status_code == 200
    accesses, changes = response.context["accesses"], response.context["changes"]
    assert {e.pk for e in accesses} >= {
        trail[k].pk for k in ("owner_old", "owner_new", "colleague")
    }
    assert trail["elsewhere"].pk not in {e.pk for e in accesses}
    assert {e.practice_id for e in accesses} == {world.practice.pk}
    assert {e.practice_id for e in changes} == {world.practice.pk}
    assert trail["elsewhere_couple"].case_code not in {e.case_code for e in changes}


def test_the_search_filters_by_person(client, world, trail):
    response = audit_page(client, world.practice_admin, person=world.colleague.pk)
    assert {e.user_id for e in response.context["accesses"]} == {world.colleague.pk}
    assert {e.actor_id for e in response.context["changes"]} == {world.colleague.pk}


def test_the_search_filters_by_case_code(client, world, trail):
    code = trail["other_couple"].case_code
    response = audit_page(client, world.practice_admin, case_code=code.lower())
    assert [e.pk for e in response.context["accesses"]] == [trail["colleague"].pk]
    changes = response.context["changes"]
    assert changes
    assert {e.case_code for e in changes} == {code}


def test_the_search_filters_by_date(client, world, trail):
    old_day = timezone.localdate(trail["owner_old"].at)
    response = audit_page(client, world.practice_admin, date_from=old_day, date_to=old_day)
    assert [e.pk for e in response.context["accesses"]] == [trail["owner_old"].pk]
    assert response.context["changes"] == []
    response = audit_page(
        client, world.practice_admin, date_from=old_day + datetime.timedelta(days=1)
    )
    assert trail["owner_old"].pk not in {e.pk for e in response.context["accesses"]}


def test_a_person_of_another_practice_is_not_a_valid_filter(client, world, trail):
    response = audit_page(client, world.practice_admin, person=world.outsider.pk)
    assert response.status_code == 200
    assert response.context["form"].errors
    assert response.context["accesses"] == []


def test_each_list_is_one_query_and_paged(client, world, trail, django_assert_num_queries):
    AccessEvent.objects.bulk_create(
        AccessEvent(user=world.owner, practice=world.practice, action="read")
        for _ in range(audit_views.PAGE_SIZE + 5)
    )
    client.force_login(world.practice_admin)
    url = reverse("people:audit")
    client.get(url)
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, {"access_page": 2})
    lists = [q for q in queries.captured_queries if 'FROM "people_accessevent"' in q["sql"]]
    assert len(lists) == 1
    lists = [q for q in queries.captured_queries if 'FROM "people_changeevent"' in q["sql"]]
    assert len(lists) == 1
    assert response.context["access_prev"]
    assert 0 < len(response.context["accesses"]) <= audit_views.PAGE_SIZE


@pytest.mark.parametrize("who", ["owner", "supervisor", "colleague", "outsider"])
def test_anyone_but_a_practice_admin_gets_404(client, world, who):
    client.force_login(getattr(world, who))
    assert client.get(reverse("people:audit")).status_code == 404
    assert client.get(reverse("people:audit_csv")).status_code == 404


def csv_rows(response: Any) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_the_export_leads_to_the_date_range_form_with_the_search_kept(client, world):
    client.force_login(world.practice_admin)
    code = world.couple.case_code
    response = client.get(reverse("people:audit_csv"), {"case_code": code})
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('exports:audit')}?case_code={code}"
    form = client.get(response["Location"]).context["form"]
    assert form["case_code"].value() == code


def test_the_export_builds_the_filtered_events_formula_safe_and_is_recorded(client, world, trail):
    """Built in the background (exports), over the last 30 days unless asked otherwise."""
    client.force_login(world.practice_admin)
    code = world.couple.case_code
    response = exported(client, reverse("exports:audit"), {"case_code": code})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-')
    rows = csv_rows(response)
    assert rows[0] == audit_views.CSV_HEADER
    body = rows[1:]
    assert body
    assert {row[7] for row in body} == {code}
    assert {row[0] for row in body} == {"access", "change"}
    assert '\'=HYPERLINK("http://evil")' in {row[10] for row in body}
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in body for cell in row)
    recorded = AccessEvent.objects.get(action="export audit")
    assert recorded.user_id == world.practice_admin.pk
    assert recorded.practice_id == world.practice.pk
    assert f"case_code={code}" in recorded.detail


def test_the_export_asks_for_a_recent_check(client, world, trail):
    client.force_login(world.practice_admin)
    session = client.session
    for method in session["account_authentication_methods"]:
        method["at"] -= 3600
    session.save()
    for url in (reverse("people:audit_csv"), reverse("exports:audit")):
        response = client.get(url)
        assert response.status_code == 302
        assert reverse("account_reauthenticate") in response["Location"]
    response = client.post(reverse("exports:audit"))
    assert response.status_code == 302
    assert reverse("account_reauthenticate") in response["Location"]
    assert not AccessEvent.objects.filter(action="export audit").exists()


def test_reading_a_session_and_its_private_note_is_recorded_without_the_text(client, world):
    from people.models import AccessEvent

    client.force_login(world.owner)
    response = client.get(reverse("therapy_sessions:detail", args=[world.session.pk]))
    assert response.status_code == 200
    actions = set(
        AccessEvent.objects.filter(user=world.owner, case_code=world.couple.case_code).values_list(
            "action", flat=True
        )
    )
    assert {"read session", "read private note"} <= actions
    assert not AccessEvent.objects.filter(detail__icontains="Private process note").exists()

    client.force_login(world.supervisor)
    client.get(reverse("therapy_sessions:detail", args=[world.session.pk]))
    supervisor_reads = AccessEvent.objects.filter(user=world.supervisor).values_list(
        "action", flat=True
    )
    assert "read session" in supervisor_reads
    assert "read private note" not in supervisor_reads  # they never see it
