"""Web Push: the server's public key and the caller's browser subscriptions."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja import Router, Schema, Status

from accounts.models import User
from api.errors import ApiError, invalid
from api.schemas import In, error_responses
from api.security import session_auth
from chats import selectors as chat_selectors
from chats.models import Chat
from push import mutes, selectors, services
from push.models import PushSubscription
from push.validation import SubscriptionRefused, endpoint_check, keys_check
from push.vapid import public_key_of

router = Router(tags=["push"], auth=session_auth)


class PushKeyOut(Schema):
    public_key: str


class PushKeysIn(Schema):
    p256dh: str
    auth: str


class PushSubscriptionIn(Schema):
    """The browser's `PushSubscription.toJSON()`; other members (expirationTime) are ignored."""

    endpoint: str
    keys: PushKeysIn


class PushSubscriptionOut(Schema):
    id: int
    endpoint: str
    user_agent: str
    created_at: str
    last_used_at: str | None


def _out(subscription: PushSubscription) -> dict[str, Any]:
    used = subscription.last_used_at
    return {
        "id": subscription.pk,
        "endpoint": subscription.endpoint,
        "user_agent": subscription.user_agent,
        "created_at": subscription.created_at.isoformat(),
        "last_used_at": used.isoformat() if used else None,
    }


@router.get("/push/key", response={200: PushKeyOut, **error_responses(401)})
def push_key(request: HttpRequest) -> dict[str, str]:
    """The VAPID application server key for `pushManager.subscribe()`, base64url."""
    return {"public_key": public_key_of(settings.VAPID_PRIVATE_KEY)}


@router.get(
    "/push/subscriptions/", response={200: list[PushSubscriptionOut], **error_responses(401)}
)
def push_subscriptions(request: HttpRequest) -> list[dict[str, Any]]:
    user: User = request.auth  # type: ignore[attr-defined]
    return [_out(s) for s in selectors.subscriptions_of(user=user)]


@router.post(
    "/push/subscriptions/",
    response={200: PushSubscriptionOut, 201: PushSubscriptionOut, **error_responses(400, 401, 403)},
)
def push_subscribe(request: HttpRequest, payload: PushSubscriptionIn) -> Status[dict[str, Any]]:
    """Subscribe this browser; the same endpoint again updates it (200) instead of adding one."""
    user: User = request.auth  # type: ignore[attr-defined]
    try:
        endpoint = endpoint_check(payload.endpoint)
        p256dh, auth = keys_check(p256dh=payload.keys.p256dh, auth=payload.keys.auth)
    except SubscriptionRefused as refused:
        raise invalid(refused.field, refused.detail) from None
    try:
        subscription, created = services.subscription_save(
            user=user,
            endpoint=endpoint,
            p256dh=p256dh,
            auth=auth,
            session_key=request.session.session_key or "",
            user_agent=request.headers.get("User-Agent", ""),
        )
    except services.TooManySubscriptions:
        detail = f"At most {settings.PUSH_MAX_SUBSCRIPTIONS} browsers; remove one first."
        raise ApiError(400, "too_many", detail) from None
    return Status(201 if created else 200, _out(subscription))


class ChatPatchIn(In):
    muted: bool


class ChatMuteOut(Schema):
    id: int
    muted: bool


@router.patch(
    "/chats/{chat_id}/",
    response={200: ChatMuteOut, **error_responses(400, 401, 403, 404)},
    tags=["chats"],
)
def chat_update(request: HttpRequest, chat_id: int, payload: ChatPatchIn) -> dict[str, Any]:
    """Mute (no push, toast or sound; unread still counts) or unmute one of your chats."""
    user: User = request.auth  # type: ignore[attr-defined]
    try:
        chat = chat_selectors.chat_get_for_member(user_id=user.pk, chat_id=chat_id)
    except Chat.DoesNotExist:
        raise ApiError(404, "not_found", "No such chat.") from None
    muted = mutes.chat_mute_set(user=user, chat_id=chat.pk, muted=payload.muted)
    return {"id": chat.pk, "muted": muted}


@router.delete(
    "/push/subscriptions/{subscription_id}/",
    response={204: None, **error_responses(400, 401, 403, 404)},
)
def push_unsubscribe(request: HttpRequest, subscription_id: int) -> Status[None]:
    user: User = request.auth  # type: ignore[attr-defined]
    try:
        services.subscription_remove(user=user, subscription_id=subscription_id)
    except services.SubscriptionNotFound:
        raise ApiError(404, "not_found", "No such subscription.") from None
    return Status(204, None)
