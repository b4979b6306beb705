from django.contrib import admin
from django.urls import include, path

from accounts import views as account_views
from chats import search_views

urlpatterns = [
    path("", account_views.home, name="home"),
    path("terms/", account_views.terms, name="terms"),
    path("accounts/", include("accounts.urls")),
    path("chats/", include("chats.urls")),
    path("search/", account_views.search, name="search"),
    path("search/messages/", search_views.message_search, name="message_search"),
    path("api/", include("api.urls")),
    path("admin/", admin.site.urls),
    path("", include("push.urls")),
]
