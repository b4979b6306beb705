from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.contrib.auth.views import LoginView, PasswordChangeView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.middleware import HtmxDetails

from accounts import safety_views, selectors, services, twofactor
from accounts.forms import NotificationsForm, PrivacyForm, SignupForm, UsernameForm
from accounts.models import User
from chats import limits
from chats.validation import Refused
from chatsite import htmx, ratelimit
from chatsite.net import client_network
from push import selectors as push_selectors

SIGNUP_LIMITED = "Too many sign-up attempts from your network. Please try again in an hour."
SEARCH_QUERY_MAX = 100


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("/")
    form = SignupForm(request.POST or None)
    if request.method == "POST":
        limit, window = settings.SIGNUP_RATE
        if not ratelimit.hit(f"signup:{client_network(request)}", limit=limit, window=window):
            form = SignupForm()
            return render(
                request,
                "accounts/signup.html",
                {"form": form, "limited": SIGNUP_LIMITED},
                status=429,
            )
        if form.is_valid():
            try:
                user = services.user_create(
                    username=form.cleaned_data["username"],
                    password=form.cleaned_data["password1"],
                )
            except services.UsernameTaken:
                form.add_error("username", selectors.USERNAME_TAKEN)
            else:
                codes = services.recovery_codes_create(user=user)
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                return safety_views.recovery_codes_page(request, codes, next_url="/")
    return render(request, "accounts/signup.html", {"form": form})


class ChatsiteLoginView(LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        user: User = form.get_user()  # type: ignore[assignment]
        if not twofactor.twofactor_enabled(user=user):
            return super().form_valid(form)
        # The password alone signs nothing in: the code step does (safety_views.login_code).
        twofactor.pending_begin(
            session=self.request.session, user=user, next_url=self.get_success_url()
        )
        return redirect("accounts:login_code")


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    username_form = UsernameForm(user=user)
    privacy_form = PrivacyForm(instance=user)
    notifications_form = NotificationsForm(instance=user)
    if request.method == "POST" and "username" in request.POST:
        username_form = UsernameForm(request.POST, user=user)
        if username_form.is_valid():
            try:
                services.user_change_username(
                    user=user, username=username_form.cleaned_data["username"]
                )
            except services.UsernameTaken:
                username_form.add_error("username", selectors.USERNAME_TAKEN)
            else:
                messages.success(request, "Your username was changed.")
                return redirect("accounts:profile")
    elif request.method == "POST" and "notifications" in request.POST:
        notifications_form = NotificationsForm(request.POST, instance=user)
        if notifications_form.is_valid():
            toast_sound = notifications_form.cleaned_data["toast_sound"]
            services.user_set_toast_sound(user=user, toast_sound=toast_sound)
            messages.success(request, "Your notification settings were saved.")
            return redirect("accounts:profile")
    elif request.method == "POST":
        privacy_form = PrivacyForm(request.POST, instance=user)
        if privacy_form.is_valid():
            services.user_update_privacy(
                user=user,
                hide_presence=privacy_form.cleaned_data["hide_presence"],
                send_read_receipts=privacy_form.cleaned_data["send_read_receipts"],
            )
            messages.success(request, "Your privacy settings were saved.")
            return redirect("accounts:profile")
    context = {
        "username_form": username_form,
        "privacy_form": privacy_form,
        "twofactor_enabled": twofactor.twofactor_enabled(user=user),
        "notifications_form": notifications_form,
        "push_subscriptions": push_selectors.subscriptions_of(user=user),
    }
    return render(request, "accounts/profile.html", context)


class ChatsitePasswordChangeView(PasswordChangeView):
    template_name = "accounts/password.html"
    success_url = reverse_lazy("accounts:profile")

    def form_valid(self, form: PasswordChangeForm) -> HttpResponse:
        user = services.user_change_password(
            user=form.user,  # type: ignore[arg-type]
            password=form.cleaned_data["new_password1"],
        )
        # Keeps this session; every other session of the user no longer matches the hash.
        update_session_auth_hash(self.request, user)
        messages.success(self.request, "Your password was changed.")
        return redirect(self.get_success_url())


def terms(request: HttpRequest) -> HttpResponse:
    return render(request, "terms.html")


def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("chats:list")
    return render(request, "home.html")


class SearchRequest(HttpRequest):
    user: User  # type: ignore[assignment]
    htmx: HtmxDetails


@login_required
@require_GET
@htmx.vary_on_fragment
def search(request: SearchRequest) -> HttpResponse:
    q = request.GET.get("q", "")[:SEARCH_QUERY_MAX]
    context: dict[str, object] = {"q": q, "min_length": selectors.SEARCH_MIN_LENGTH}
    retry_after = None
    if len(selectors.normalize_search_query(q)) < selectors.SEARCH_MIN_LENGTH:
        context["hint"] = True
    else:
        try:
            limits.check_budget("search", user_id=request.user.pk)
        except Refused as refused:
            context["limited"], retry_after = refused.detail, refused.retry_after
        else:
            context["results"] = selectors.user_search(viewer=request.user, query=q)
            context["self_match"] = selectors.user_search_matches_self(viewer=request.user, query=q)
    fragment = htmx.wants_fragment(request)
    template = "search/search.html#results" if fragment else "search/search.html"
    response = render(request, template, context, status=429 if retry_after else 200)
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response
