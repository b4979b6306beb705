"""The production settings with channels-redis' list-based RedisChannelLayer instead of pub/sub.

Used only by `python -m bench` to compare the two layers on the same load.
"""

from chatsite.settings import *  # noqa: F403
from chatsite.settings import CHANNEL_LAYERS, REDIS_URL

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [{"address": REDIS_URL, "max_connections": 1000}],
            "prefix": CHANNEL_LAYERS["default"]["CONFIG"]["prefix"],
        },
    }
}
