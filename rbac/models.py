"""Gateway users (log in by email, as DreamFactory's admins and users do)."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from core.errors import BadRequest
from rbac.row_filters import check_rule
from services.fields import EncryptedTextField
from services.models import validate_service_name


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create(self, email: str, password: str | None, **extra: Any) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user: User = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra["is_staff"] = True
        extra["is_superuser"] = True
        return self._create(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who logs in; `is_sys_admin` (staff) admins bypass roles."""

    email = models.EmailField(unique=True)
    name = models.CharField(max_length=255, blank=True)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(
        default=False, help_text="System admin: may use the admin console and every API."
    )
    created_date = models.DateTimeField(default=timezone.now)
    last_login_date = models.DateTimeField(null=True, blank=True)
    phone = models.CharField(max_length=32, blank=True)
    security_question = models.CharField(
        max_length=255, blank=True, help_text="Asked by a password reset (user/password)."
    )
    security_answer = models.CharField(
        max_length=128, blank=True, help_text="Hashed, as a password is; never shown."
    )
    confirm_code = models.CharField(
        max_length=128, blank=True, help_text="Hash of a pending password-reset code."
    )
    confirm_expires = models.DateTimeField(null=True, blank=True)
    source = models.CharField(
        max_length=80,
        blank=True,
        help_text="Where the user signs in from: blank for a gateway password, "
        "'ldap:<provider>' for a directory.",
    )

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email

    @property
    def is_sys_admin(self) -> bool:
        return self.is_staff and self.is_active

    @property
    def display_name(self) -> str:
        full = f"{self.first_name} {self.last_name}".strip()
        return self.name or full or self.email.split("@")[0]


class Role(models.Model):
    """A named set of access rules; apps get one as default, users one per app (spec §8.1)."""

    name = models.CharField(max_length=64, unique=True)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    db_role = models.CharField(
        max_length=63,
        blank=True,
        help_text="PostgreSQL role to SET for this role's requests on services with "
        "database roles on (PostgreSQL row-level security and grants then apply).",
    )
    created_date = models.DateTimeField(auto_now_add=True)
    last_modified_date = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class RoleServiceAccess(models.Model):
    """One access rule: verbs on a component of a service (or of every service), with optional
    row filters (spec §8.1, §8.4)."""

    FILTER_OPS = [("AND", "AND"), ("OR", "OR")]

    role = models.ForeignKey(Role, on_delete=models.CASCADE, related_name="accesses")
    service = models.ForeignKey(
        "services.Service",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        help_text="Empty: every service (then the component must be *).",
    )
    component = models.CharField(
        max_length=255,
        default="*",
        blank=True,
        help_text="*, _table/*, _table/orders, _table/orders/*, _schema/*, _func/name, _sql, ...",
    )
    verb_mask = models.PositiveIntegerField(
        default=1, help_text="GET=1, POST=2, PUT=4, PATCH=8, DELETE=16 (all = 31)"
    )
    requestor_mask = models.PositiveSmallIntegerField(default=1, help_text="API=1, SCRIPT=2")
    filters = models.JSONField(
        default=list,
        blank=True,
        help_text='Row filters: [{"name": "owner_id", "operator": "=", "value": "{user.id}"}]',
    )
    filter_op = models.CharField(max_length=3, choices=FILTER_OPS, default="AND")

    class Meta:
        ordering = ["role", "id"]
        verbose_name = "service access rule"

    def __str__(self) -> str:
        return f"{self.service or 'all services'}: {self.component or '(root)'}"

    def clean(self) -> None:
        try:
            check_rule(self.service_id, self.component, self.filters, self.filter_op)
        except BadRequest as exc:
            raise ValidationError(exc.message) from None


class UserAppRole(models.Model):
    """The role a user gets when calling through an app (spec §8.1 user_to_app_to_role)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="app_roles")
    app = models.ForeignKey("apikeys.App", on_delete=models.CASCADE, related_name="user_roles")
    role = models.ForeignKey(Role, on_delete=models.CASCADE, related_name="user_apps")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "app"], name="one_role_per_user_and_app")
        ]
        verbose_name = "role for an app"

    def __str__(self) -> str:
        return f"{self.user} in {self.app}: {self.role}"


class RevokedToken(models.Model):
    """A session token ended by logout or refresh; kept until it could no longer be used."""

    jti = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField(db_index=True)
    created_date = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.jti


class UserCustom(models.Model):
    """A user's own name/value settings (DF `user/custom`, `user_custom_by_user_id`)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="custom")
    name = models.CharField(max_length=255)
    value = models.JSONField(null=True, blank=True)
    created_date = models.DateTimeField(auto_now_add=True)
    last_modified_date = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["user", "name"], name="one_custom_per_name")]
        verbose_name = "user custom setting"

    def __str__(self) -> str:
        return f"{self.user}: {self.name}"


LDAP_TYPES = [("ldap", "LDAP"), ("adldap", "Active Directory")]


class LdapProvider(models.Model):
    """An LDAP or Active Directory server users sign in with (issue #15, item 2): DF's `ldap`
    and `adldap` service types. Users are found by `user_filter` (search then bind, with
    `bind_dn`) or bound directly as `<username><account_suffix>`; their groups map to a role
    through `role_map` ([{"group": dn, "role_id": id}], first match) or `default_role`."""

    name = models.CharField(max_length=40, unique=True, validators=[validate_service_name])
    label = models.CharField(max_length=80, blank=True)
    description = models.TextField(blank=True)
    type = models.CharField(max_length=16, choices=LDAP_TYPES, default="ldap")
    is_active = models.BooleanField(default=True)
    host = models.CharField(max_length=255)
    port = models.PositiveIntegerField(default=389)
    base_dn = models.CharField(max_length=512)
    account_suffix = models.CharField(
        max_length=255, blank=True, help_text="Direct bind as <username><suffix> (AD: @corp.com)."
    )
    user_filter = models.CharField(
        max_length=512,
        blank=True,
        help_text="Search filter; {username} is replaced (escaped). Blank: the type's default.",
    )
    bind_dn = models.CharField(max_length=512, blank=True)
    bind_password = EncryptedTextField(blank=True, default="")
    use_tls = models.BooleanField(default=False, help_text="StartTLS after connecting.")
    use_ssl = models.BooleanField(default=False, help_text="LDAPS (TLS from the start).")
    tls_ca_file = models.CharField(
        max_length=1024,
        blank=True,
        help_text="A file holding the CA to verify the server's certificate against (blank: "
        "the system's CAs). The certificate is always verified.",
    )
    timeout = models.PositiveIntegerField(default=5, help_text="seconds to connect and to read")
    default_role = models.ForeignKey(
        Role, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    role_map = models.JSONField(default=list, blank=True)
    app_role_map = models.JSONField(
        default=dict, blank=True, help_text='Per app: {"<app id>": [{"group", "role_id"}]}.'
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.label:
            self.label = self.name
        super().save(*args, **kwargs)
