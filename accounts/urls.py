from django.contrib.auth.views import LogoutView
from django.urls import path

from accounts import safety_views, views

app_name = "accounts"

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("login/", views.ChatsiteLoginView.as_view(), name="login"),
    path("login/code/", safety_views.login_code, name="login_code"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("profile/", views.profile, name="profile"),
    path("password/", views.ChatsitePasswordChangeView.as_view(), name="password"),
    path("recover/", safety_views.recover, name="recover"),
    path("recovery-codes/", safety_views.recovery_codes, name="recovery_codes"),
    path(
        "recovery-codes/download/",
        safety_views.recovery_codes_download,
        name="recovery_codes_download",
    ),
    path("2fa/", safety_views.twofactor_setup, name="twofactor"),
    path("2fa/confirm/", safety_views.twofactor_confirm, name="twofactor_confirm"),
    path("2fa/disable/", safety_views.twofactor_disable, name="twofactor_disable"),
    path("sessions/", safety_views.sessions, name="sessions"),
    path("export/", safety_views.export, name="export"),
    path("delete/", safety_views.delete_account, name="delete"),
    path("sessions/<int:session_id>/end/", safety_views.session_end, name="session_end"),
    path("sessions/end-others/", safety_views.sessions_end_others, name="sessions_end_others"),
]
