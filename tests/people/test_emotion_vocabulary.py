"""A practice admin extends their practice's emotion vocabulary in the admin: adds, renames
and deletes their own practice's terms; the shared EFT terms and other practices' terms stay
out of reach, and a duplicate is a message by the name, not an error page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from cycles.models import EmotionKind, EmotionTerm
from tests.factories import make_emotion, make_practice, make_user

pytestmark = pytest.mark.django_db

ADD = reverse("admin:cycles_emotionterm_add")


def change_url(term: EmotionTerm) -> str:
    return reverse("admin:cycles_emotionterm_change", args=[term.pk])


@pytest.fixture
def practice():
    return make_practice()


@pytest.fixture
def admin_client(client, practice):
    person = make_user(practice, "Pat Admin", practice_admin=True, is_staff=True)
    client.force_login(person)
    return client


def test_a_practice_admin_adds_a_term_for_their_own_practice(admin_client, practice):
    assert admin_client.get(ADD).status_code == 200

    response = admin_client.post(ADD, {"name": "Heartache", "kind": EmotionKind.PRIMARY})

    assert response.status_code == 302
    term = EmotionTerm.objects.get(name="Heartache")
    assert term.practice == practice
    assert term.kind == EmotionKind.PRIMARY
    listing = admin_client.get(reverse("admin:cycles_emotionterm_changelist")).content.decode()
    assert "Heartache" in listing


def test_a_duplicate_term_is_a_message_by_the_name_with_nothing_added(admin_client, practice):
    make_emotion("Ache", EmotionKind.PRIMARY, practice=practice)
    make_emotion("Dread", EmotionKind.PRIMARY, practice=None)
    before = EmotionTerm.objects.count()

    for name in ("ache", "Dread"):
        response = admin_client.post(ADD, {"name": name, "kind": EmotionKind.PRIMARY})
        text = response.content.decode()
        assert response.status_code == 200
        assert "is already in the vocabulary." in text
        assert f'value="{name}"' in text  # what was typed is kept
    assert EmotionTerm.objects.count() == before


def test_own_terms_change_and_delete_shared_and_other_practices_terms_dont(admin_client, practice):
    own = make_emotion("Ache", EmotionKind.PRIMARY, practice=practice)
    shared = make_emotion("Dread", EmotionKind.PRIMARY, practice=None)
    elsewhere = make_emotion("Woe", EmotionKind.PRIMARY, practice=make_practice())

    renamed = admin_client.post(change_url(own), {"name": "Aching", "kind": own.kind})
    assert renamed.status_code == 302
    own.refresh_from_db()
    assert own.name == "Aching"

    # The shared term opens read-only: a post changes nothing.
    admin_client.post(change_url(shared), {"name": "Terror", "kind": shared.kind})
    shared.refresh_from_db()
    assert shared.name == "Dread"
    delete_shared = reverse("admin:cycles_emotionterm_delete", args=[shared.pk])
    assert admin_client.post(delete_shared, {"post": "yes"}).status_code == 403
    assert EmotionTerm.objects.filter(pk=shared.pk).exists()

    # Another practice's term is not there at all.
    assert admin_client.get(change_url(elsewhere)).status_code == 302
    elsewhere.refresh_from_db()
    assert elsewhere.name == "Woe"

    delete_own = reverse("admin:cycles_emotionterm_delete", args=[own.pk])
    assert admin_client.post(delete_own, {"post": "yes"}).status_code == 302
    assert not EmotionTerm.objects.filter(pk=own.pk).exists()


def test_a_staff_therapist_still_only_reads_the_vocabulary(client, practice):
    therapist = make_user(practice, "Sam Therapist", therapist=True, is_staff=True)
    client.force_login(therapist)
    assert client.get(reverse("admin:cycles_emotionterm_changelist")).status_code == 200
    assert client.get(ADD).status_code == 403
    assert client.post(ADD, {"name": "Ache", "kind": EmotionKind.PRIMARY}).status_code == 403
    assert not EmotionTerm.objects.filter(name="Ache").exists()
