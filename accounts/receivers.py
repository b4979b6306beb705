"""Django's own code ends sessions (logout on the pages, the API and the admin; flush;
cycle_key; clearsessions; a deletion in the shell), and none of it goes through a service of
ours: the deletion of the session row is the one place every path passes. The receiver
only hands over to the service, which rings after commit."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session

from accounts import services


def session_deleted(sender: type[Session], instance: Session, **kwargs: Any) -> None:
    raw_id = instance.get_decoded().get(SESSION_KEY)
    if isinstance(raw_id, str) and raw_id.isdigit():
        services.session_ended(user_id=int(raw_id), session_key=instance.session_key)
