from django.urls import path, re_path

from api.main import api, not_found

urlpatterns = [
    path("", api.urls),
    # [\s\S], not ".": a path with an encoded newline (%0A) is still an API 404, in JSON.
    re_path(r"^(?P<rest>[\s\S]*)$", not_found),
]
