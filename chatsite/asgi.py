"""ASGI entry point: HTTP through Django, WebSockets through Channels."""

from __future__ import annotations

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
django_asgi_app = get_asgi_application()

# Imported after Django is set up: consumers import models.
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from chats.realtime.routing import websocket_urlpatterns  # noqa: E402
from chats.realtime.socket_auth import SessionKeyMiddleware  # noqa: E402
from chatsite import metrics  # noqa: E402
from chatsite.origins import SameOriginValidator  # noqa: E402
from ops.asgi import OpsEndpoints  # noqa: E402

metrics.process_started()

# /healthz, /readyz and /metrics are answered in front of everything else (ops/asgi.py).
application = OpsEndpoints(
    ProtocolTypeRouter(
        {
            "http": django_asgi_app,
            "websocket": SameOriginValidator(
                SessionKeyMiddleware(URLRouter(websocket_urlpatterns))
            ),
        }
    )
)

# What is loaded by now lives as long as the process. Frozen, it stays out of the cyclic
# collector's full passes, which otherwise walk all of it (~100,000 objects, about 30 ms on
# the benchmark machine) every few requests that allocate many objects, such as a chat list
# of 1,000 chats: that pause was most of B9's p99 (docs/benchmarks.md).
gc.freeze()

# Each socket frame and layer event allocates a few dicts, so at 700 allocations (the default)
# the youngest generation was collected hundreds of times a second under load: 7% of the
# server's GIL samples at B2's load. Collected every 50,000 (the older generations every 20
# and 100 of the younger's passes), the product used 6% less CPU per message (docs/benchmarks.md,
# session 8); what the collector finds is cycles (most objects go by reference count), which
# now wait longer (its full passes come minutes apart), so a closed socket breaks its own
# (ChatConsumer.__call__, presence.disconnect): left to the collector they grew B6's RSS 8%.
gc.set_threshold(50_000, 20, 100)
