"""`GET /api/v2/system/package` (the configuration export) and `POST /api/v2/system/import`
(apply one, `?dry_run=true` to only see what would change): admins only
(gateway/config_export.py, gateway/config_import.py)."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.flags import as_bool
from gateway.config_export import export_config
from gateway.config_format import dumps
from gateway.config_import import import_config
from gateway.config_secrets import secret_mode


class ConfigPackage(APIView):
    """The configuration file `manage.py export_config` writes (`?secrets=encrypted` to include
    secrets, encrypted with this gateway's key). Admins only (rbac.system_rules.ADMIN_ONLY)."""

    @extend_schema(responses={200: dict})
    def get(self, request: Request) -> HttpResponse:
        mode = secret_mode(request.query_params.get("secrets", "omit"))
        body = dumps(export_config(mode)).encode()
        response = HttpResponse(body, content_type="application/json")
        response["Content-Disposition"] = 'attachment; filename="gateway-config.json"'
        return response


class ConfigImport(APIView):
    """Apply a configuration file (the body); answers one `{kind, key, action}` per record."""

    @extend_schema(request=dict, responses={200: dict})
    def post(self, request: Request) -> Response:
        dry_run = as_bool(request.query_params.get("dry_run", ""))
        changes = import_config(request.data, dry_run=dry_run)
        return Response({"dry_run": dry_run, "resource": [change.as_dict() for change in changes]})
