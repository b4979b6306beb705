"""Static files storage for production (DEBUG off)."""

from __future__ import annotations

from django.contrib.staticfiles.storage import ManifestStaticFilesStorage
from whitenoise.storage import CompressedManifestStaticFilesStorage

# `import ... from "./x.js";` in our own modules under js/. Django's built-in equivalent
# (`support_js_module_import_aggregation`) applies to every *.js: it also rewrites third-party
# files whose imports name files that are not collected (django_htmx's extensions), and
# collectstatic fails. This one never crosses a `;`, so text in comments is left alone.
_JS_MODULE_IMPORTS = (
    (
        r"""(?P<matched>import(?P<import>\s[^;]*?)\s*from\s*"(?P<url>\./[^";]+)";)""",
        'import%(import)s from "%(url)s";',
    ),
)


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    """WhiteNoise's compressed, hashed files, with the browser client's module imports pointing
    at the hashed names too. Otherwise main.<hash>.js would load the unhashed copies of the
    modules it imports, cached briefly and not versioned: one deploy could run new and old
    modules together."""

    patterns = (*ManifestStaticFilesStorage.patterns, ("js/*.js", _JS_MODULE_IMPORTS))
