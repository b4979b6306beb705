import json
from http.client import HTTPConnection

import pytest
from channels.testing import HttpCommunicator

from chatsite.asgi import application
from ops import drain
from tests.faults.conftest import proxy  # noqa: F401 (the fault tests' TCP proxy)


@pytest.fixture(autouse=True)
def _serving():
    """Every test starts (and leaves the process) serving, not draining."""
    drain.reset()
    yield
    drain.reset()


async def http(path, method="GET", headers=(), host=b"localhost", app=application):
    """A request through the full ASGI application (or `app`): (status, headers, body)."""
    comm = HttpCommunicator(app, method, path, headers=[(b"host", host), *headers])
    response = await comm.get_response(timeout=10)
    return response["status"], dict(response["headers"]), response["body"]


async def http_json(path, **kwargs):
    status, _, body = await http(path, **kwargs)
    return status, json.loads(body)


def readyz(server):
    """GET /readyz on a live server: (status, body)."""
    conn = HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request("GET", "/readyz")
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()
