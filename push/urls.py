from django.urls import path

from push import views

app_name = "push"

urlpatterns = [
    path("manifest.webmanifest", views.manifest, name="manifest"),
    path("sw.js", views.service_worker, name="worker"),
    path("offline/", views.offline, name="offline"),
    path(
        "accounts/push/<int:subscription_id>/remove/",
        views.subscription_remove,
        name="remove",
    ),
]
