"""Gateway users (log in by email, as DreamFactory's admins and users do)."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models, transaction
from django.utils import timezone

from core.errors import BadRequest
from rbac.row_filters import check_rule
from services.fields import EncryptedTextField
from services.models import Service


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
PROVIDER_TYPES = ("ldap", "adldap", "oidc", "saml")  # Service.type of a sign-in provider


SERVICE_FIELDS = ("name", "label", "description", "is_active", "type")


class ProviderManager(models.Manager[Any]):
    """Providers come with their Service row; `create()` takes the Service's fields too."""

    def get_queryset(self) -> models.QuerySet[Any]:
        return super().get_queryset().select_related("service")

    def create(self, **fields: Any) -> Any:

        known = {k: fields.pop(k) for k in SERVICE_FIELDS if k in fields}
        known.setdefault("type", self.model.default_type)
        with transaction.atomic():
            service = Service(**known)
            service.full_clean(exclude=["host", "database"])
            service.save()
            return super().create(service=service, **fields)


class Provider(models.Model):
    """A sign-in provider (issue #15): a `services.Service` row of a provider type (its id,
    name, label, description, is_active and type, as DF's `system/service` records) plus the
    settings of its kind in a subclass. Groups map to a role through `role_map`
    ([{"group": ..., "role_id": id}], first match; `app_role_map` per app first) or
    `default_role`."""

    service = models.OneToOneField(
        "services.Service",
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="%(class)s",
    )
    default_role = models.ForeignKey(
        Role, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    role_map = models.JSONField(
        default=list, blank=True, help_text='[{"group": "<group>", "role_id": <id>}], first match.'
    )
    app_role_map = models.JSONField(
        default=dict, blank=True, help_text='Per app: {"<app id>": [{"group", "role_id"}]}.'
    )

    default_type: ClassVar[str] = ""
    objects = ProviderManager()

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return str(self.service.name)

    @property
    def label(self) -> str:
        return str(self.service.label or self.service.name)

    @property
    def type(self) -> str:
        return str(self.service.type)

    @property
    def is_active(self) -> bool:
        return bool(self.service.is_active)

    @property
    def source(self) -> str:
        """What `User.source` says of a user who signed in here."""
        return f"{self.type}:{self.name}"


class LdapProvider(Provider):
    """An LDAP or Active Directory server (DF's `ldap` and `adldap` types). Users are found by
    `user_filter` (search then bind, with `bind_dn`) or bound directly as
    `<username><account_suffix>`."""

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
    default_type = "ldap"

    class Meta:
        verbose_name = "LDAP provider"


class OidcProvider(Provider):
    """An OpenID Connect provider (DF's `oidc` type): discovery from `issuer`, the
    authorization code flow with PKCE, and optionally its tokens accepted as bearer tokens on
    the data API (`accept_bearer_tokens`)."""

    issuer = models.CharField(
        max_length=512,
        validators=[URLValidator(schemes=["http", "https"])],
        help_text="The issuer URL; discovery reads <issuer>/.well-known/openid-configuration.",
    )
    client_id = models.CharField(max_length=255)
    client_secret = EncryptedTextField(blank=True, default="")
    scopes = models.CharField(max_length=512, default="openid email profile")
    redirect_url = models.CharField(
        max_length=1024,
        blank=True,
        help_text="Where the browser goes after sign-in, with ?session_token=… (blank: the "
        "callback answers the session as JSON).",
    )
    email_claim = models.CharField(max_length=80, default="email")
    groups_claim = models.CharField(max_length=80, default="groups")
    accept_bearer_tokens = models.BooleanField(
        default=False,
        help_text="Accept the provider's access or ID tokens (JWKS-verified) as bearer tokens "
        "on the data API, without a gateway sign-in.",
    )
    audience = models.CharField(
        max_length=255,
        blank=True,
        help_text="The `aud` bearer tokens must carry (blank: client_id).",
    )
    admin_sign_in = models.BooleanField(
        default=False,
        help_text="Offer 'Sign in with' on the admin console's login page: an existing, active "
        "admin whose (verified) email the provider vouches for is signed in.",
    )
    timeout = models.PositiveIntegerField(default=5, help_text="seconds for each provider call")
    default_type = "oidc"

    class Meta:
        verbose_name = "OpenID Connect provider"


class SamlProvider(Provider):
    """A SAML 2.0 identity provider (DF's `saml` type): SP-initiated sign-in with signed
    AuthnRequests; the Response and Assertion must be signed by the IdP."""

    idp_metadata = models.TextField(
        help_text="The IdP's metadata: its XML, or an http(s) URL to fetch it from."
    )
    sp_certificate = models.TextField(blank=True, help_text="PEM certificate of the SP key.")
    sp_private_key = EncryptedTextField(blank=True, default="")
    email_attribute = models.CharField(max_length=255, default="email")
    first_name_attribute = models.CharField(max_length=255, default="givenName", blank=True)
    last_name_attribute = models.CharField(max_length=255, default="sn", blank=True)
    groups_attribute = models.CharField(max_length=255, default="groups", blank=True)
    redirect_url = models.CharField(
        max_length=1024,
        blank=True,
        help_text="Where the browser goes after sign-in, with ?session_token=… (blank: the "
        "assertion consumer answers the session as JSON).",
    )
    default_type = "saml"

    class Meta:
        verbose_name = "SAML provider"


class SignInState(models.Model):
    """A sign-in sent to a provider and not back yet (OIDC `state`, SAML request ID): kept in
    the metadata DB so any instance can finish it, used once (deleted when it returns) and
    refused once older than rbac.sso_state.MAX_AGE."""

    key = models.CharField(
        max_length=64, primary_key=True, help_text="SHA-256 of the state or request ID."
    )
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="+")
    purpose = models.CharField(max_length=16, default="user", help_text="user or admin")
    nonce = models.CharField(max_length=128, blank=True)
    verifier = EncryptedTextField(blank=True, default="", help_text="PKCE code_verifier")
    app_id = models.PositiveIntegerField(null=True, blank=True)
    return_to = models.CharField(max_length=1024, blank=True)
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return f"{self.purpose} sign-in at service {self.service_id}"
