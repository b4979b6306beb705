from django.urls import path

from accounts import safety_views, views

app_name = "accounts"

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("login/", views.ChatsiteLoginView.as_view(), name="login"),
    path("logout/", views.ChatsiteLogoutView.as_view(), name="logout"),
    path("profile/", views.profile, name="profile"),
    path("password/", views.ChatsitePasswordChangeView.as_view(), name="password"),
    path("recover/", safety_views.recover, name="recover"),
    path("recovery-codes/", safety_views.recovery_codes, name="recovery_codes"),
    path(
        "recovery-codes/download/",
        safety_views.recovery_codes_download,
        name="recovery_codes_download",
    ),
]
