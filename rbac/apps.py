from django.apps import AppConfig


class RbacConfig(AppConfig):
    name = "rbac"
    verbose_name = "Users and access"

    def ready(self) -> None:
        from rbac import (
            ldap_login,
            oidc_login,
            provider_types,
            signals,  # noqa: F401  (connects the access-change handlers)
        )
        from rbac.saml_lazy import saml_login
        from rbac.sessions import issue_token
        from services.system import admin_views

        admin_views.set_token_issuer(issue_token)  # the data browser's session token

        provider_types.register(
            {
                "ldap": ldap_login.check,
                "adldap": ldap_login.check,
                "oidc": oidc_login.check,
                "saml": lambda provider: str(saml_login().check(provider)),
            }
        )
