"""Cross-origin sockets against a real daphne: with a valid session cookie, a page on
another port, scheme or host cannot open a socket; the site's own origin can
(chatsite/origins.py; the same rule on the full ASGI app: tests/chatsite/test_origins.py)."""

import pytest
import websockets

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


async def test_only_the_sites_own_origin_opens_a_socket(cluster_factory):
    cluster = cluster_factory()
    seed = cluster.seed("alice", "bob")
    server = cluster.start()
    cookie = {"Cookie": f"sessionid={seed['users']['alice']['session']}"}
    url = f"ws://127.0.0.1:{server.port}/ws/"
    foreign = [
        "http://127.0.0.1:9999",
        f"https://127.0.0.1:{server.port}",
        f"ws://127.0.0.1:{server.port}",
        f"http://localhost:{server.port}",
        "http://127.0.0.1",
    ]
    for origin in foreign:
        with pytest.raises(websockets.InvalidStatus) as refused:
            await websockets.connect(url, origin=origin, additional_headers=cookie)
        assert refused.value.response.status_code == 403, origin
    client = await server.connect(seed["users"]["alice"]["session"])
    try:
        assert client.hello["type"] == "hello" and client.hello["user"] == "alice"
    finally:
        await client.close()
