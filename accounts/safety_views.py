"""Pages of account safety: recovery codes, the recovery itself, two-factor sign-in and
sessions. Thin: a form, a service, a template."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods, require_POST

from accounts import services, throttling
from accounts.forms import PasswordConfirmForm, RecoverForm, RecoveryCodesDownloadForm
from accounts.models import User

RECOVERY_FAILED = "That username and recovery code do not match an account, or the code was used."
CODES_FILENAME = "chatsite-recovery-codes.txt"


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
            form.add_error(None, RECOVERY_FAILED)
        else:
            return render(request, "accounts/recovered.html", {"codes_left": left})
    return render(request, "accounts/recover.html", {"form": form})
