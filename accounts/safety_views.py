"""Pages of account safety: recovery codes, the recovery itself, two-factor sign-in and
sessions. Thin: a form, a service, a template."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import checks, selectors, services, throttling, twofactor
from accounts.export import export_response
from accounts.forms import (
    DeleteAccountForm,
    OtpForm,
    PasswordConfirmForm,
    RecoverForm,
    RecoveryCodesDownloadForm,
    TotpConfirmForm,
    TwoFactorDisableForm,
)
from accounts.models import User

CODES_FILENAME = "chatsite-recovery-codes.txt"
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def recovery_codes_page(request: HttpRequest, codes: list[str], *, next_url: str) -> HttpResponse:
    """The freshly made codes, shown once, with a download and the way on."""
    context = {"codes": codes, "codes_text": " ".join(codes), "next_url": next_url}
    return render(request, "accounts/recovery_codes.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def recovery_codes(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    form = PasswordConfirmForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        codes = services.recovery_codes_create(user=user)
        return recovery_codes_page(request, codes, next_url="/accounts/profile/")
    return render(request, "accounts/recovery_codes_new.html", {"form": form})


@login_required
@require_POST
def recovery_codes_download(request: HttpRequest) -> HttpResponse:
    form = RecoveryCodesDownloadForm(request.POST)
    if not form.is_valid():
        return HttpResponse("These are not recovery codes.", status=400, content_type="text/plain")
    lines = [
        f"Chatsite recovery codes for {request.user.get_username()}",
        "Each code works once: /accounts/recover/ (or at the sign-in code step).",
        "",
        *form.cleaned_data["codes"],
    ]
    response = HttpResponse("\n".join(lines) + "\n", content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{CODES_FILENAME}"'
    response["Cache-Control"] = "no-store"
    return response


@require_http_methods(["GET", "POST"])
def recover(request: HttpRequest) -> HttpResponse:
    form = RecoverForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        username = form.cleaned_data["username"].strip()
        if not throttling.attempt_allowed(request, username=username):
            return HttpResponse(status=429)  # AxesMiddleware answers with the lockout page
        try:
            left = services.user_recover(
                username=username,
                code=form.cleaned_data["code"],
                password=form.cleaned_data["new_password1"],
            )
        except services.RecoveryFailed:
            throttling.attempt_failed(request, username=username)
            form.add_error(None, checks.RECOVERY_FAILED)
        else:
            return render(request, "accounts/recovered.html", {"codes_left": left})
    return render(request, "accounts/recover.html", {"form": form})


@require_http_methods(["GET", "POST"])
def login_code(request: HttpRequest) -> HttpResponse:
    """The second sign-in step; the only page a half-signed-in visitor can use."""
    pending = twofactor.pending_user(session=request.session)
    if pending is None:
        twofactor.pending_end(session=request.session)
        messages.info(request, "Please log in again.")
        return redirect("accounts:login")
    user, next_url = pending
    form = OtpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if not throttling.attempt_allowed(request, username=user.username):
            return HttpResponse(status=429)  # AxesMiddleware answers with the lockout page
        if twofactor.second_factor_check(user=user, code=form.cleaned_data["code"]):
            twofactor.pending_end(session=request.session)
            login(request, user, backend=MODEL_BACKEND)
            return redirect(next_url or settings.LOGIN_REDIRECT_URL)
        throttling.attempt_failed(request, username=user.username)
        form.add_error("code", checks.WRONG_CODE)
    return render(request, "accounts/login_code.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def twofactor_setup(request: HttpRequest) -> HttpResponse:
    """Off: the password starts a set-up (QR code and secret), confirmed by one code.
    On: the form that turns it off."""
    user: User = request.user  # type: ignore[assignment]
    if twofactor.twofactor_enabled(user=user):
        return render(
            request,
            "accounts/twofactor.html",
            {"enabled": True, "form": TwoFactorDisableForm(user=user)},
        )
    form = PasswordConfirmForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        device = twofactor.totp_setup_begin(user=user)
        return render(request, "accounts/twofactor.html", _setup_context(device, TotpConfirmForm()))
    return render(request, "accounts/twofactor.html", {"form": form})


def _setup_context(device: TOTPDevice, form: TotpConfirmForm) -> dict[str, object]:
    return {
        "device": device,
        "qr_svg": mark_safe(twofactor.totp_qr_svg(device)),  # noqa: S308 (segno's own SVG)
        "secret": twofactor.totp_secret(device),
        "confirm_form": form,
    }


@login_required
@require_POST
def twofactor_confirm(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    device = twofactor.totp_setup_pending(user=user)
    if device is None:
        return redirect("accounts:twofactor")
    form = TotpConfirmForm(request.POST)
    if form.is_valid():
        try:
            twofactor.totp_setup_confirm(user=user, code=form.cleaned_data["code"])
        except twofactor.TwoFactorError as error:
            form.add_error("code", str(error))
        else:
            messages.success(request, "Two-factor sign-in is on.")
            return redirect("accounts:profile")
    return render(request, "accounts/twofactor.html", _setup_context(device, form))


@login_required
@require_POST
def twofactor_disable(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    if not twofactor.twofactor_enabled(user=user):  # nothing to turn off: spend no code
        return redirect("accounts:profile")
    form = TwoFactorDisableForm(request.POST, user=user)
    if form.is_valid():
        if twofactor.second_factor_check(user=user, code=form.cleaned_data["code"]):
            twofactor.twofactor_disable(user=user)
            messages.success(request, "Two-factor sign-in is off.")
            return redirect("accounts:profile")
        form.add_error("code", checks.WRONG_CODE)
    return render(request, "accounts/twofactor.html", {"enabled": True, "form": form})


@login_required
@require_GET
def sessions(request: HttpRequest) -> HttpResponse:
    rows = selectors.sessions_of(user=request.user, current_key=request.session.session_key)  # type: ignore[arg-type]
    return render(request, "accounts/sessions.html", {"sessions": rows})


@login_required
@require_POST
def session_end(request: HttpRequest, session_id: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    if services.sessions_end(user=user, ids=[session_id], keep=request.session.session_key):
        messages.success(request, "That session was signed out.")
    return redirect("accounts:sessions")


@login_required
@require_POST
def sessions_end_others(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    count = services.sessions_end(user=user, keep=request.session.session_key)
    messages.success(request, f"Signed out {count} other session{pluralize(count)}.")
    return redirect("accounts:sessions")


@login_required
@require_http_methods(["GET", "POST"])
def export(request: HttpRequest) -> HttpResponseBase:
    """Your data as one JSON file (password required), streamed as it is read."""
    user: User = request.user  # type: ignore[assignment]
    form = PasswordConfirmForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        return export_response(user)
    return render(request, "accounts/export.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def delete_account(request: HttpRequest) -> HttpResponse:
    """Delete my account: the password, the username typed again, a code with 2FA."""
    user: User = request.user  # type: ignore[assignment]
    form = DeleteAccountForm(request.POST or None, user=user)
    if request.method == "POST":
        checked = checks.delete_account_check(request, form)
        if checked == "locked":
            return HttpResponse(status=429)  # AxesMiddleware answers with the lockout page
        if checked == "ok":
            services.user_delete(user=user, erase_messages=form.cleaned_data["erase_messages"])
            logout(request)  # its session row is already gone: this clears the cookie's
            messages.success(request, "Your account was deleted.")
            return redirect("home")
    context = {
        "form": form,
        "twofactor_enabled": twofactor.twofactor_enabled(user=user),
        "reserve_days": settings.USERNAME_RESERVE_DAYS,
    }
    return render(request, "accounts/delete.html", context)
