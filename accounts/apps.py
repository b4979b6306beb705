from django.apps import AppConfig
from django.db.models.signals import post_delete


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in
        from django.contrib.sessions.models import Session

        from accounts import receivers

        user_logged_in.connect(receivers.on_login, dispatch_uid="accounts.session_record_login")
        post_delete.connect(
            receivers.session_deleted, sender=Session, dispatch_uid="accounts.session_deleted"
        )
