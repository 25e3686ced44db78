"""The Django admin, scoped by `visible_to` like every other view.

Clinical models are read-only here: records are written through the app's own screens,
which validate them and never hard-delete. Practice admins manage the people, supervision
and consultation groups of their own practice.
"""

from __future__ import annotations

from typing import Any

from allauth.account.decorators import reauthentication_required
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Model, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse

from people import audit
from people.middleware import remember_practice_zone
from people.models import (
    ConsultationGroup,
    GroupMembership,
    Practice,
    SignalThresholds,
    Supervision,
    User,
)

ROLE_FIELDS = ["is_therapist", "is_supervisor", "is_practice_admin", "is_staff"]


class AuditedReadsAdmin(admin.ModelAdmin):
    """Records the admin's reads like the app's own pages (people.audit,
    docs/domain.md#who-sees-what): one
    event per list page shown (with its row count, no row-by-row events) and one per row
    opened. `detail` says "admin" and counts only, never clinical text."""

    audit_reads = True

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        changelist = (getattr(response, "context_data", None) or {}).get("cl")
        if self.audit_reads and changelist is not None:
            name = self.opts.verbose_name
            detail = f"admin rows={changelist.result_count}"
            audit.record(request, f"read {name} list", detail=detail)
        return response

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        response = super().change_view(request, object_id, form_url, extra_context)
        shown = (getattr(response, "context_data", None) or {}).get("original")
        if self.audit_reads and shown is not None and response.status_code == 200:
            name = self.opts.verbose_name
            audit.record(request, f"read {name}", shown, detail="admin")
        return response


class ScopedReadOnlyAdmin(AuditedReadsAdmin):
    """Shows only what `Model.objects.visible_to(user)` returns, and changes nothing; every
    page of rows it shows is recorded as a read (AuditedReadsAdmin)."""

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return self.model.objects.visible_to(request.user)  # type: ignore[attr-defined]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_staff)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self.has_module_permission(request)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class PracticeScopedAdmin(admin.ModelAdmin):
    """For a practice admin: their own practice's rows, with `practice` set for them."""

    def is_manager(self, request: HttpRequest) -> bool:
        user = request.user
        return bool(user.is_active and user.is_staff and getattr(user, "is_practice_admin", False))

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).filter(practice_id=request.user.practice_id)  # type: ignore[union-attr]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.is_manager(request)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self.is_manager(request)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return self.is_manager(request)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self.is_manager(request)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self.is_manager(request)

    def get_exclude(self, request: HttpRequest, obj: Model | None = None) -> list[str]:
        return ["practice"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        obj.practice_id = request.user.practice_id  # type: ignore[union-attr]
        super().save_model(request, obj, form, change)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.related_model is User:
            kwargs.setdefault("queryset", User.objects.visible_to(request.user))  # type: ignore[arg-type]
        if db_field.related_model is ConsultationGroup:
            kwargs["queryset"] = ConsultationGroup.objects.filter(
                practice_id=request.user.practice_id  # type: ignore[union-attr, misc]
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class PracticeVocabularyAdmin(ScopedReadOnlyAdmin):
    """A controlled list the practice extends (the emotion vocabulary): everyone with admin
    access reads the shared terms and their practice's own; the practice admin adds, changes
    and deletes their own practice's terms, never the shared ones or another practice's.
    A vocabulary is not a clinical record: its reads are not audited."""

    audit_reads = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        user = request.user
        if not user.is_authenticated:
            return self.model.objects.none()
        return self.model.objects.filter(Q(practice__isnull=True) | Q(practice_id=user.practice_id))

    def is_manager(self, request: HttpRequest) -> bool:
        user = request.user
        return bool(
            user.is_active
            and user.is_staff
            and getattr(user, "is_practice_admin", False)
            and getattr(user, "practice_id", None) is not None
        )

    def _own(self, request: HttpRequest, obj: Model | None) -> bool:
        """Obj is one of the manager's own practice's terms (or none yet, for the list)."""
        if not self.is_manager(request):
            return False
        return obj is None or obj.practice_id == request.user.practice_id  # type: ignore[attr-defined, union-attr]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return self.is_manager(request)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._own(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._own(request, obj)

    def get_exclude(self, request: HttpRequest, obj: Model | None = None) -> list[str]:
        return ["practice"]

    def get_form(
        self, request: HttpRequest, obj: Any | None = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        practice_id = request.user.practice_id  # type: ignore[union-attr]
        model = self.model

        class OncePerPractice(form):  # type: ignore[misc, valid-type]
            """A term the practice or the shared list already has is a message by the name,
            not a database error."""

            def clean_name(self) -> str:
                name = " ".join(str(self.cleaned_data.get("name", "")).split())
                taken = model.objects.filter(
                    Q(practice__isnull=True) | Q(practice_id=practice_id), name__iexact=name
                ).exclude(pk=self.instance.pk)
                if taken.exists():
                    raise ValidationError(f"“{name}” is already in the vocabulary.", code="taken")
                return name

        return OncePerPractice

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        obj.practice_id = request.user.practice_id  # type: ignore[union-attr]
        super().save_model(request, obj, form, change)


@admin.register(Practice)
class PracticeAdmin(admin.ModelAdmin):
    list_display = ["name", "time_zone", "date_format"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """Saved, the admin's own pages follow the new zone and date format at once; everyone
        else's at their next sign-in (people.middleware)."""
        super().save_model(request, obj, form, change)
        if obj.pk == getattr(request.user, "practice_id", None):
            remember_practice_zone(request.session, obj.pk)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Practice]:
        if request.user.is_superuser:
            return Practice.objects.all()
        return Practice.objects.filter(pk=request.user.practice_id)  # type: ignore[union-attr, misc]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser or getattr(request.user, "is_practice_admin", False))

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self.has_module_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self.has_module_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(User)
class PersonAdmin(PracticeScopedAdmin, DjangoUserAdmin):
    list_display = [
        "username",
        "display_name",
        "email",
        "is_therapist",
        "is_supervisor",
        "is_practice_admin",
        "is_active",
    ]
    list_filter = ["is_therapist", "is_supervisor", "is_practice_admin", "is_active"]
    search_fields = ["username", "display_name", "email"]
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Person", {"fields": ("display_name", "first_name", "last_name", "email")}),
        (
            "Roles",
            {
                "fields": (
                    "is_therapist",
                    "is_supervisor",
                    "is_practice_admin",
                    "is_active",
                    "is_staff",
                )
            },
        ),
    )
    add_fieldsets = (
        (None, {"fields": ("username", "password1", "password2")}),
        ("Person", {"fields": ("display_name", "email")}),
        ("Roles", {"fields": ("is_therapist", "is_supervisor", "is_practice_admin")}),
    )

    def get_exclude(self, request: HttpRequest, obj: Model | None = None) -> list[str]:
        return []

    def changeform_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        # Adding people and changing roles asks for a fresh check of who is at the keyboard.
        view = reauthentication_required(super().changeform_view)
        return view(request, *args, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> list[str]:
        # Nobody grants themselves a role: a practice admin who could tick "supervisor" on
        # their own record could then supervise anyone and read every record.
        if obj is not None and obj.pk == request.user.pk and not request.user.is_superuser:
            return [*ROLE_FIELDS, "is_active"]
        return []

    def user_change_password(self, request: HttpRequest, id: str, form_url: str = "") -> Any:
        # A practice admin who set a therapist's password could sign in as that therapist and
        # read their records; people change their own password, or a superuser resets it.
        if self.get_object(request, unquote(id)) is None:
            raise Http404("No such person in this practice.")
        if not request.user.is_superuser and str(request.user.pk) != str(id):
            raise PermissionDenied
        return super().user_change_password(request, id, form_url)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        # A superuser who belongs to a practice is still beyond its practice admin: else the
        # admin could reset the superuser's password (user_change_password goes through
        # get_object, hence this queryset) and sign in as them.
        people = super().get_queryset(request)
        if not request.user.is_superuser:
            people = people.filter(is_superuser=False)
        return people


@admin.register(Supervision)
class SupervisionAdmin(PracticeScopedAdmin):
    list_display = ["supervisor", "therapist", "started_on", "notes_need_cosign"]
    # Set on the therapist's person page or by the supervisor (Supervision.set_cosigning),
    # where it is audited; shown here, never edited.
    readonly_fields = ["notes_need_cosign"]

    def get_queryset(self, request: HttpRequest) -> Any:
        # Nobody edits or deletes their own supervision here: a supervised practice admin
        # would be exempting their own notes from their supervisor.
        return super().get_queryset(request).exclude(therapist=request.user)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        # Only supervisors supervise and only therapists are supervised; and an admin never
        # makes themselves anyone's supervisor (that would be reading records by the back door).
        people = User.objects.visible_to(request.user).exclude(pk=request.user.pk)  # type: ignore[arg-type, misc]
        if db_field.name == "supervisor":
            kwargs["queryset"] = people.filter(is_supervisor=True)
        elif db_field.name == "therapist":
            kwargs["queryset"] = people.filter(is_therapist=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class MembershipInline(admin.TabularInline):
    model = GroupMembership
    extra = 1

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "user":
            # Only clinicians join consultation groups.
            kwargs["queryset"] = User.objects.visible_to(request.user).filter(  # type: ignore[arg-type]
                Q(is_therapist=True) | Q(is_supervisor=True)
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return bool(getattr(request.user, "is_practice_admin", False))

    has_add_permission = has_change_permission = has_delete_permission = has_view_permission  # type: ignore[assignment]


@admin.register(ConsultationGroup)
class ConsultationGroupAdmin(PracticeScopedAdmin):
    list_display = ["name"]
    inlines = [MembershipInline]


@admin.register(SignalThresholds)
class SignalThresholdsAdmin(PracticeScopedAdmin):
    """The practice's own numbers behind the signals and flags (docs/signals.md)."""

    list_display = ["practice", "alliance_drop_points", "gone_quiet_days", "nightly_run_hour"]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        taken = SignalThresholds.objects.filter(practice_id=request.user.practice_id).exists()  # type: ignore[union-attr, misc]
        return self.is_manager(request) and not taken
