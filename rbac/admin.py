"""Admin console for users (with their per-app roles) and roles (with inline access rules).

`is_staff` is shown as "System admin". A rule's verbs are checkboxes stored as the spec's bit
mask; its row filters are JSON, validated like the system API validates them.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group
from django.db.models import Count, Field, QuerySet
from django.http import HttpRequest

from core.verbs import VERB_BITS, mask_of, verb_names
from rbac import component_choices
from rbac.component_choices import WILDCARDS
from rbac.models import Role, RoleServiceAccess, User, UserAppRole
from services.models import Service

SYSTEM_ADMIN = "System admin"
# the picker's choices for a rule without a service (rbac/system_rules.py)
SYSTEM_COMPONENTS = tuple(
    f"system/{name}{suffix}"
    for name in ("service", "role", "app", "user", "lookup", "limit", "cors", "cache")
    for suffix in ("", "/*")
)

# Access is roles and per-app roles here; Django's permission groups play no part in it.
admin.site.unregister(Group)


class UserAppRoleInline(admin.TabularInline):
    model = UserAppRole
    extra = 1
    fields = ("app", "role")
    verbose_name = "role for an app"
    verbose_name_plural = "Roles by app (the role this user gets when calling through the app)"


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ("email",)
    list_display = ("email", "name", "system_admin", "is_active", "source")
    search_fields = ("email", "name")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("first_name", "last_name", "name", "source")}),
        ("Access", {"fields": ("is_active", "is_staff")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    list_filter = ("is_staff", "is_active", "source")
    readonly_fields = ("source",)
    filter_horizontal = ()
    inlines = (UserAppRoleInline,)

    @admin.display(description=SYSTEM_ADMIN, boolean=True, ordering="is_staff")
    def system_admin(self, obj: User) -> bool:
        return bool(obj.is_staff)

    def formfield_for_dbfield(
        self, db_field: Field[Any, Any], request: HttpRequest | None, **kwargs: Any
    ) -> Any:
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)  # type: ignore[arg-type]  # Django passes one
        if db_field.name == "is_staff" and formfield is not None:
            formfield.label = SYSTEM_ADMIN
            formfield.help_text = (
                "May sign in to this admin console and the system API, with every permission."
            )
        if db_field.name == "name" and formfield is not None:
            formfield.label = "Display name"
            formfield.help_text = "What apps show (DreamFactory's `name`); blank: first and last."
        return formfield

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        """A system admin is one flag here: Django's superuser status follows it (as the
        system API's `system/admin` does), so no admin lacks a permission."""
        obj.is_superuser = bool(obj.is_staff)
        super().save_model(request, obj, form, change)

    def get_inlines(self, request: HttpRequest, obj: Any) -> Any:
        return () if obj is None else self.inlines  # per-app roles once the user exists


class RuleForm(forms.ModelForm):
    """An access rule with its verbs as checkboxes (stored as the verb mask)."""

    verbs = forms.MultipleChoiceField(
        choices=[(name, name) for name in VERB_BITS],
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    class Meta:
        model = RoleServiceAccess
        fields = ("service", "component", "verbs", "filters", "filter_op")
        widgets = {"filters": forms.Textarea(attrs={"rows": 2, "cols": 48})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        mask = self.instance.verb_mask if self.instance.pk else 1
        self.initial.setdefault("verbs", verb_names(mask))
        service = self.fields.get("service")
        if isinstance(service, forms.ModelChoiceField):
            service.queryset = Service.objects.databases()
        component = self.fields.get("component")
        if component is not None:  # the page's script points it at the service's datalist
            component.widget.attrs.update({"class": "rule-component", "autocomplete": "off"})

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        self.instance.verb_mask = mask_of(cleaned.get("verbs") or [])
        if cleaned.get("filters") is None:
            cleaned["filters"] = []
        service, component = cleaned.get("service"), cleaned.get("component")
        if service is not None and component:
            problem = component_choices.problem(service, component)
            if problem:
                self.add_error("component", problem)
        return cleaned


class RuleInline(admin.TabularInline):
    model = RoleServiceAccess
    form = RuleForm
    extra = 1
    verbose_name = "access rule"
    verbose_name_plural = (
        "Access rules (the most specific matching component wins: exact, then a wildcard "
        "such as _table/*, then *, then a rule for all services)"
    )


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin):
    list_display = ("name", "is_active", "rule_count", "db_role", "last_modified_date")
    ordering = ("id",)  # creation order, as DF lists roles (not r1, r10, r2)
    list_filter = ("is_active",)
    search_fields = ("name", "description")
    fields = ("name", "description", "is_active", "db_role")
    inlines = (RuleInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Role]:
        roles: QuerySet[Role] = super().get_queryset(request).annotate(_rules=Count("accesses"))
        return roles

    def render_change_form(
        self, request: HttpRequest, context: dict[str, Any], *args: Any, **kwargs: Any
    ) -> Any:
        """The picker's choices: each database service's components (tables, routines)."""
        context["component_lists"] = [
            (service.pk, component_choices.components(service) or list(WILDCARDS))
            for service in Service.objects.databases()
        ]
        context["system_components"] = ["*", "system", "system/*", *SYSTEM_COMPONENTS]
        return super().render_change_form(request, context, *args, **kwargs)

    @admin.display(description="Access rules", ordering="_rules")
    def rule_count(self, obj: Any) -> int:
        return int(obj._rules)


from rbac import oidc_admin, provider_admin, saml_admin  # noqa: E402, F401  (provider pages)
