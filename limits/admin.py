"""Admin console for rate limits: the current window's counters shown, and resettable."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest

from core.errors import BadRequest
from limits import counters
from limits.api import check_limit
from limits.models import Limit
from limits.rules import LimitRule, rule_from
from services.models import Service


def _rule(limit: Limit) -> LimitRule:
    return rule_from(vars(limit))


VERB_CHOICES = [("", "every verb"), *((v, v) for v in ("GET", "POST", "PUT", "PATCH", "DELETE"))]


class LimitForm(ModelForm):
    """A limit with its verb picked from a list and its service among the database services."""

    verb = forms.ChoiceField(choices=VERB_CHOICES, required=False, help_text="count only this verb")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        service = self.fields.get("service")
        if isinstance(service, forms.ModelChoiceField):
            service.queryset = Service.objects.databases()

    class Meta:
        model = Limit
        fields = (
            "name",
            "description",
            "is_active",
            "type",
            "rate",
            "period",
            "user",
            "role",
            "service",
            "endpoint",
            "verb",
        )

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        for key, value in cleaned.items():
            setattr(self.instance, key, value)
        try:
            check_limit(self.instance)  # the system API's checks, with its messages
        except BadRequest as exc:
            raise ValidationError(exc.message) from None
        return cleaned


@admin.register(Limit)
class LimitAdmin(admin.ModelAdmin):
    form = LimitForm
    list_display = ("name", "type", "rate", "period", "is_active", "counters")
    list_filter = ("is_active", "type", "period")
    search_fields = ("name", "description", "endpoint")
    actions = ("reset_counters",)

    @admin.display(description="This window (attempts / rate)")
    def counters(self, obj: Limit) -> str:
        found = counters.current(_rule(obj))
        if not found:
            return "-"
        shown = ", ".join(
            f"{'everyone' if s == 'all' else 'user ' + s[1:]}: {n}/{obj.rate}" for s, n in found[:5]
        )
        return shown + (f" (+{len(found) - 5} more)" if len(found) > 5 else "")

    @admin.action(description="Reset the counters of the selected limits")
    def reset_counters(self, request: HttpRequest, queryset: QuerySet[Limit]) -> None:
        counters.reset_everywhere([_rule(limit) for limit in queryset])
        messages.success(request, f"Counters reset for {queryset.count()} limit(s).")
