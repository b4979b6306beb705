"""The JSON API (django-ninja), mounted at /api/: the same services as the pages and socket."""
