from django.urls import path

from push import views

app_name = "push"

urlpatterns = [
    path("manifest.webmanifest", views.manifest, name="manifest"),
    path("sw.js", views.service_worker, name="worker"),
    path("offline/", views.offline, name="offline"),
    path("chats/<int:chat_id>/mute/", views.chat_mute, name="mute"),
    path("accounts/push/previews/", views.notification_previews, name="previews"),
    path(
        "accounts/push/<int:subscription_id>/remove/",
        views.subscription_remove,
        name="remove",
    ),
]
