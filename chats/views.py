from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect
from django_htmx.middleware import HtmxDetails

from accounts.models import User
from chats import limits, moderation, selectors, services
from chats.forms import SendForm, StartChatForm
from chats.models import Chat
from chats.validation import Refused, clean_body, clean_client_id, parse_seq
from chatsite import htmx


class AuthedRequest(HttpRequest):
    user: User  # type: ignore[assignment]
    htmx: HtmxDetails


def _member_chat(request: AuthedRequest, chat_id: int) -> Chat:
    try:
        return selectors.chat_get_for_member(user_id=request.user.pk, chat_id=chat_id)
    except Chat.DoesNotExist:
        raise Http404("No such chat.") from None


def _partial(request: AuthedRequest) -> str | None:
    """What part of a page an htmx request asks for: the chat slot (switching chats in
    place), another part, or None for the whole page (also for a history restore, which
    htmx fills its `hx-history-elt` from)."""
    if not htmx.wants_fragment(request):
        return None
    return "slot" if request.htmx.target == "chat-slot" else "part"


@login_required
@require_GET
@htmx.vary_on_fragment
def chat_list(request: AuthedRequest) -> HttpResponse:
    """The chats page; for htmx, just the list (the client refreshes it with that), or the
    empty panel when the chat slot asks."""
    partial = _partial(request)
    if partial == "slot":
        return render(request, "chats/list.html#placeholder")
    summaries = selectors.chat_summaries(user_id=request.user.pk)
    context = {"summaries": summaries, "unread_total": selectors.unread_total(summaries)}
    template = "chats/list.html#chatlist" if partial else "chats/list.html"
    return render(request, template, context)


@login_required
@require_GET
def chat_new(request: AuthedRequest) -> HttpResponse:
    form = StartChatForm(initial={"username": request.GET.get("username", "")})
    return render(request, "chats/new.html", {"form": form})


@login_required
@require_POST
def chat_start(request: AuthedRequest) -> HttpResponse:
    form = StartChatForm(request.POST)
    if form.is_valid():
        try:
            chat, _created = services.chat_start(
                user=request.user, username=form.cleaned_data["username"]
            )
        except Refused as refused:
            form.add_error("username", refused.detail)
        else:
            if request.htmx:
                return HttpResponseClientRedirect(chat.get_absolute_url())
            return redirect(chat.get_absolute_url())
    return render(request, "chats/new.html", {"form": form}, status=400)


@login_required
@require_GET
@htmx.vary_on_fragment
def chat_detail(request: AuthedRequest, chat_id: int) -> HttpResponse:
    """The chat page; for htmx, older history, or the chat's panel when the chat slot asks
    (switching chats from the list without reloading). Each counts against the history
    budget, as the API's history does."""
    before_seq = parse_seq(request.GET.get("before"))
    try:
        limits.check_budget("history", user_id=request.user.pk)
    except Refused as refused:
        return _rate_limited(request, refused, before_seq)
    chat = _member_chat(request, chat_id)
    after_seq = parse_seq(request.GET.get("after"))
    history = selectors.history_page(
        chat_id=chat.pk,
        before=before_seq,
        after=after_seq,
        around=parse_seq(request.GET.get("around")),
    )
    page = history.messages
    peer = selectors.peer_of(chat, request.user.pk)
    peer_membership = selectors.membership_get(user_id=peer.pk, chat_id=chat.pk)
    receipts = selectors.read_receipts_shared(viewer=request.user, subject=peer)
    context: dict[str, Any] = {
        "chat": chat,
        "peer": peer,
        "before": before_seq,
        "peer_read_seq": peer_membership.read_seq if receipts else 0,
        "i_blocked": selectors.is_blocked(blocker_id=request.user.pk, blocked_id=peer.pk),
        "peer_delivered_seq": peer_membership.delivered_seq,
        "messages_page": selectors.with_reactions(page),
        "has_more": history.has_older,
        "has_newer": history.has_newer,
        "around": history.around,
        "oldest_seq": page[0].seq if page else None,
        "newest_seq": page[-1].seq if page else None,
        "membership": selectors.membership_get(user_id=request.user.pk, chat_id=chat.pk),
    }
    partial = _partial(request)
    if (before_seq is not None or after_seq is not None) and partial:
        return render(request, "chats/detail.html#history", context)
    context["new_client_id"] = str(uuid.uuid4())
    if partial == "slot":
        return render(request, "chats/detail.html#panel", context)
    context["summaries"] = selectors.chat_summaries(user_id=request.user.pk)
    context["unread_total"] = selectors.unread_total(context["summaries"])
    return render(request, "chats/detail.html", context)


def _rate_limited(request: AuthedRequest, refused: Refused, before: int | None) -> HttpResponse:
    """429: for an htmx load of older or newer messages, its link again (htmx swaps a 429)
    saying why, on a click only."""
    after = parse_seq(request.GET.get("after"))
    if _partial(request) == "part" and (before is not None or after is not None):
        older = before is not None
        context: dict[str, Any] = {
            "id": "load-older" if older else "load-newer",
            "param": "before" if older else "after",
            "seq": before if older else after,
            "limited": refused.detail,
        }
        response = render(request, "chats/detail.html#limited", context, status=429)
    else:
        response = HttpResponse(refused.detail, status=429, content_type="text/plain")
    response["Retry-After"] = str(refused.retry_after)
    return response


@login_required
@require_POST
def chat_send(request: AuthedRequest, chat_id: int) -> HttpResponse:
    chat = _member_chat(request, chat_id)
    form = SendForm(request.POST)
    if form.is_valid():
        try:
            body = clean_body(form.cleaned_data["body"])
            client_id = clean_client_id(form.client_id_or_new())
            limits.check_budget("send", user_id=request.user.pk)
            services.message_send(
                sender=request.user, chat_id=chat.pk, client_id=client_id, body=body
            )
        except Refused as refused:
            messages.error(request, refused.detail)
    else:
        messages.error(request, _send_problem(request.POST.get("body")))
    return redirect(chat.get_absolute_url())


def _send_problem(body: str | None) -> str:
    """Why the send form was invalid, in the words every other edge uses."""
    try:
        clean_body(body)
    except Refused as refused:
        return refused.detail
    return "The message could not be sent."


@login_required
@require_POST
def chat_read(request: AuthedRequest, chat_id: int) -> HttpResponse:
    chat = _member_chat(request, chat_id)
    seq = parse_seq(request.POST.get("seq"))
    if seq is None:
        return HttpResponse("seq must be a non-negative integer.", status=400)
    services.chat_mark_read(user=request.user, chat_id=chat.pk, seq=seq)
    return HttpResponse(status=204)


@login_required
@require_POST
def message_report(request: AuthedRequest, chat_id: int, seq: int) -> HttpResponse:
    """Report the other member's message; a missing or foreign message is a 404."""
    try:
        moderation.report_create(
            reporter=request.user, chat_id=chat_id, seq=seq, reason=request.POST.get("reason")
        )
    except Refused as refused:
        if refused.code == "not_found":
            raise Http404("No such message.") from None
        ok, detail = False, refused.detail
    else:
        ok, detail = True, "Thank you. A moderator will look at this message."
    if request.htmx:
        # 200 either way: htmx does not swap error responses, and the outcome is the content.
        context = {"ok": ok, "detail": detail, "seq": seq}
        return render(request, "chats/_report.html#result", context)
    (messages.success if ok else messages.error)(request, detail)
    return redirect(reverse("chats:detail", args=[chat_id]))


@login_required
@require_POST
def chat_block(request: AuthedRequest, chat_id: int) -> HttpResponse:
    chat = _member_chat(request, chat_id)
    peer = selectors.peer_of(chat, request.user.pk)
    services.block_user(blocker=request.user, blocked=peer)
    messages.success(request, f"You blocked {peer.display_name}. They can no longer message you.")
    return _back_to(request, chat)


@login_required
@require_POST
def chat_unblock(request: AuthedRequest, chat_id: int) -> HttpResponse:
    chat = _member_chat(request, chat_id)
    peer = selectors.peer_of(chat, request.user.pk)
    services.unblock_user(blocker=request.user, blocked=peer)
    messages.success(request, f"You unblocked {peer.display_name}.")
    return _back_to(request, chat)


def _back_to(request: AuthedRequest, chat: Chat) -> HttpResponse:
    if request.htmx:
        return HttpResponseClientRedirect(chat.get_absolute_url())
    return redirect(chat.get_absolute_url())
