"""GET /metrics: Prometheus' text format, only with the bearer token."""

import pytest
from django.test import override_settings
from prometheus_client import REGISTRY

from tests.ops.conftest import http

NAMES = [
    "chatsite_messages_stored_total",
    "chatsite_message_store_seconds_bucket",
    "chatsite_message_fanout_seconds_bucket",
    "chatsite_sockets_open",
    "chatsite_socket_connects_total",
    "chatsite_frames_in_total",
    "chatsite_frames_out_total",
    "chatsite_errors_total",
    "chatsite_push_sent_total",
    "chatsite_http_requests_total",
    "chatsite_http_request_seconds_bucket",
]


def bearer(token):
    return [(b"authorization", f"Bearer {token}".encode())]


@override_settings(METRICS_TOKEN="")
async def test_metrics_do_not_exist_without_a_configured_token():
    assert (await http("/metrics"))[0] == 404
    assert (await http("/metrics", headers=bearer("")))[0] == 404


@override_settings(METRICS_TOKEN="s3cret-metrics-token")
@pytest.mark.parametrize(
    "headers",
    [
        [],
        bearer("wrong"),
        bearer("s3cret-metrics-token "),
        [(b"authorization", b"s3cret-metrics-token")],
        [(b"authorization", b"Basic s3cret-metrics-token")],
    ],
)
async def test_metrics_are_404_without_the_right_bearer_token(headers):
    status, _, body = await http("/metrics", headers=headers)
    assert (status, body) == (404, b"Not Found")


@override_settings(METRICS_TOKEN="s3cret-metrics-token")
async def test_metrics_with_the_token_list_every_metric_in_the_text_format():
    await http("/terms/")  # so the per-route series exist
    status, headers, body = await http("/metrics", headers=bearer("s3cret-metrics-token"))
    assert status == 200
    assert headers[b"content-type"].startswith(b"text/plain; version=")
    text = body.decode()
    for name in NAMES:
        assert f"\n{name}" in text or f"# TYPE {name}" in text, name


@pytest.mark.django_db
async def test_http_requests_are_counted_and_timed_per_route_name():
    def count(route, status):
        labels = {"route": route, "method": "GET", "status": status}
        return REGISTRY.get_sample_value("chatsite_http_requests_total", labels) or 0

    def timed(route):
        labels = {"route": route}
        return REGISTRY.get_sample_value("chatsite_http_request_seconds_count", labels) or 0

    before = count("terms", "200"), count("unmatched", "404"), timed("terms")
    await http("/terms/")
    await http("/terms/")
    await http("/no/such/page/")
    after = count("terms", "200"), count("unmatched", "404"), timed("terms")
    assert [b - a for a, b in zip(before, after, strict=True)] == [2, 1, 2]
