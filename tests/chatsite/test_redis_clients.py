"""After Redis restarts, the first command on a pooled connection must not fail: the
asyncio clients (presence, rate limits) and the channel layer reconnect and resend.
Against a private redis-server that the test kills and starts again."""

import asyncio
import subprocess
import time
import uuid
from types import SimpleNamespace

import pytest
import redis
import redis.asyncio
from channels_redis.utils import create_pool

from chatsite import redis_clients
from chatsite.layers import PubSubLayer, _with_retry
from tests.faults.infra import RedisServer, SentinelServer, free_port


def restart(server: RedisServer) -> None:
    server.stop()  # SIGKILL: the pooled connections are dead, the clients do not know yet
    server.start()


async def test_loop_clients_survive_a_restart(private_redis):
    server = private_redis()
    client = redis_clients.for_loop(server.url)
    assert client is redis_clients.for_loop(server.url)  # one per loop and URL
    await client.set("k", 1)
    pipe = client.pipeline(transaction=False)
    pipe.incr("n")
    await pipe.execute()
    restart(server)
    assert await client.get("k") is None  # answered by the new, empty Redis
    pipe = client.pipeline(transaction=False)
    pipe.incrby("n", 5)
    pipe.expire("n", 10)
    assert await pipe.execute() == [5, True]
    await client.aclose()


async def test_the_layer_publishes_and_resubscribes_after_a_restart(private_redis):
    server = private_redis()
    layer = PubSubLayer(hosts=[server.url], prefix=f"t{uuid.uuid4().hex[:6]}")
    channel = await layer.new_channel()
    await layer.group_add("user.1", channel)
    try:
        await layer.group_send_many([("user.1", {"type": "a", "n": 0})])
        assert (await asyncio.wait_for(layer.receive(channel), 5))["n"] == 0
        restart(server)
        # The receiver reconnects and subscribes again by itself.
        probe = redis.Redis.from_url(server.url)
        deadline = time.monotonic() + 10
        while not probe.pubsub_channels():
            assert time.monotonic() < deadline, "the layer did not subscribe again"
            await asyncio.sleep(0.05)
        probe.close()
        # The first publish after the restart goes out on a connection opened before it.
        await layer.group_send_many([("user.1", {"type": "a", "n": 1})])
        assert (await asyncio.wait_for(layer.receive(channel), 5))["n"] == 1
    finally:
        await layer.group_discard("user.1", channel)
        await layer.flush()


async def test_batched_items_run_in_order_in_one_call(private_redis):
    server = private_redis()
    # A body with an early return, run for a key twice in the same batch.
    body = """
    local n = redis.call('INCRBY', KEYS[1], ARGV[1])
    if n > tonumber(ARGV[2]) then return -1 end
    redis.call('SET', KEYS[2], n)
    return n
    """
    batched = redis_clients.Batched(body, keys=2, args=2)
    calls = []
    script = batched.script

    async def counting(client, keys, args):
        calls.append(len(keys))
        return await script(client, keys, args)

    batched.script = counting
    items = [(["a", "a:last"], [2, 5]), (["b", "b:last"], [1, 5]), (["a", "a:last"], [4, 5])]
    got = await asyncio.gather(*(batched(server.url, keys, args) for keys, args in items))
    assert got == [2, 1, -1]
    assert calls == [6]  # three items, one script call
    client = redis.Redis.from_url(server.url)
    assert (client.get("a"), client.get("a:last"), client.get("b:last")) == (b"6", b"2", b"1")
    client.close()
    with pytest.raises(AssertionError):
        batched(server.url, ["only one key"], [1, 2])


async def test_a_quiet_loop_client_closes_its_idle_connections(private_redis, monkeypatch):
    """A burst opens a pooled connection per command in flight; once the client has been
    quiet for IDLE_CLOSE_SECONDS they close (Redis's client count goes back), and the next
    command opens one again."""
    monkeypatch.setattr(redis_clients, "IDLE_CLOSE_SECONDS", 0.3)
    server = private_redis()
    probe = redis.Redis.from_url(server.url)
    client = redis_clients.for_loop(server.url)
    try:
        await asyncio.gather(*(client.blpop([f"nothing-{i}"], timeout=0.1) for i in range(5)))
        assert len(probe.client_list()) == 5 + 1  # the burst's, and the probe
        deadline = time.monotonic() + 5
        while len(probe.client_list()) > 1:
            assert time.monotonic() < deadline, "idle connections stayed open"
            await asyncio.sleep(0.05)
        assert await redis_clients.for_loop(server.url).incr("n") == 1
        assert len(probe.client_list()) == 2
    finally:
        probe.close()
        await client.aclose()


# -- through Sentinel (REDIS_SENTINELS) ---------------------------------------------------


def test_sentinels_are_host_port_lists():
    assert redis_clients.parse_sentinels("") == []
    assert redis_clients.parse_sentinels("10.0.0.1:26379, s2:26380,[::1]:26381") == [
        ("10.0.0.1", 26379),
        ("s2", 26380),
        ("::1", 26381),
    ]
    for bad in ("s1", "s1:", ":26379", "s1:port", "s1:70000"):
        with pytest.raises(ValueError, match="a Sentinel is host:port"):
            redis_clients.parse_sentinels(bad)


def test_a_sentinel_url_keeps_its_database_and_password_but_not_its_host():
    assert redis_clients.url_options("redis://:pw@mymaster:1234/3") == {"password": "pw", "db": 3}
    assert redis_clients.layer_host("redis://h/1", [], "m") == {"address": "redis://h/1"}
    host = redis_clients.layer_host("redis://h/1", [("s", 1)], "m")
    assert (host["sentinels"], host["master_name"], host["db"]) == ([("s", 1)], "m", 1)


def test_a_rediss_sentinel_url_keeps_tls_for_every_client(settings):
    """The connection class of each client through Sentinel: TLS for rediss://, as redis-py
    alone would drop it once a class is given (no connection is made here)."""
    url = "rediss://:pw@m/2?ssl_ca_certs=/ca.pem"
    assert redis_clients.url_options(url) == {
        "password": "pw",
        "db": 2,
        "ssl": True,
        "ssl_ca_certs": "/ca.pem",
    }
    settings.REDIS_SENTINELS, settings.REDIS_SENTINEL_MASTER = [("127.0.0.1", 1)], "m"
    pools = [
        redis_clients.SentinelPool.from_url(url, sentinels=[("127.0.0.1", 1)], master_name="m"),
        redis_clients.threaded(url).connection_pool,
        redis_clients.async_client(url, blocking=True, max_connections=2).connection_pool,
        create_pool(_with_retry(redis_clients.layer_host(url, [("127.0.0.1", 1)], "m"))),
    ]
    sync_tls, async_tls = (
        redis_clients.SentinelSSLConnection,
        redis_clients.AsyncSentinelSSLConnection,
    )
    assert [pool.connection_class for pool in pools] == [sync_tls, sync_tls, async_tls, async_tls]
    assert issubclass(sync_tls, redis.SSLConnection)
    assert issubclass(async_tls, redis.asyncio.SSLConnection)
    assert all(pool.connection_kwargs["ssl_ca_certs"] == "/ca.pem" for pool in pools)
    plain = redis_clients.threaded("redis://:pw@m/2").connection_pool
    assert plain.connection_class is redis_clients.SentinelConnection


def test_a_unix_socket_url_with_sentinel_is_refused():
    with pytest.raises(ValueError, match="a unix:// socket is one local Redis"):
        redis_clients.url_options("unix:///run/redis.sock?db=1")


async def test_a_rediss_url_reaches_a_tls_primary_through_sentinel(tmp_path, settings):
    """A primary that speaks only TLS, watched by a Sentinel: the threads', the loop's and
    the cache's clients and the channel layer reach it over TLS, the certificate checked."""
    tls = TlsRedis(tmp_path)
    try:
        settings.REDIS_SENTINELS = [("127.0.0.1", tls.sentinel.port)]
        settings.REDIS_SENTINEL_MASTER = tls.sentinel.name
        url = f"rediss://{tls.sentinel.name}-{uuid.uuid4().hex[:8]}/0?ssl_ca_certs={tls.cert}"
        await asyncio.to_thread(redis_clients.threaded(url).set, "thread", 1)
        await redis_clients.for_loop(url).set("loop", 1)
        cache_pool = redis_clients.SentinelPool.from_url(
            url, sentinels=settings.REDIS_SENTINELS, master_name=tls.sentinel.name
        )
        cache_client = redis.Redis(connection_pool=cache_pool)
        await asyncio.to_thread(cache_client.set, "cache", 1)
        cache_client.close()
        host = redis_clients.layer_host(url, settings.REDIS_SENTINELS, tls.sentinel.name)
        layer = PubSubLayer(hosts=[host], prefix=f"t{uuid.uuid4().hex[:6]}")
        channel = await layer.new_channel()
        await layer.group_add("user.1", channel)
        await layer.group_send_many([("user.1", {"type": "a", "n": 1})])
        assert (await asyncio.wait_for(layer.receive(channel), 5))["n"] == 1
        await layer.flush()
        assert {"thread", "loop", "cache"} <= tls.keys()
    finally:
        tls.stop()


class TlsRedis:
    """A redis-server listening only on TLS (a self-signed certificate for 127.0.0.1) and a
    Sentinel that watches it over TLS and answers on plain TCP."""

    def __init__(self, tmp_path) -> None:
        self.cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
        command = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        command += ["-keyout", str(key), "-out", str(self.cert), "-subj", "/CN=127.0.0.1"]
        command += ["-addext", "subjectAltName=IP:127.0.0.1"]
        subprocess.run(command, check=True, capture_output=True)
        files = ["--tls-cert-file", str(self.cert), "--tls-key-file", str(key)]
        files += ["--tls-ca-cert-file", str(self.cert), "--tls-auth-clients", "no"]
        self.tls_port = free_port()
        # The plain port answers the start-up ping only; Sentinel is given the TLS one.
        self.server = RedisServer(tmp_path, "--tls-port", str(self.tls_port), *files)
        self.server.start()
        self.sentinel = SentinelServer(tmp_path, SimpleNamespace(port=self.tls_port))
        with self.sentinel.conf.open("a") as conf:
            conf.write(
                f"tls-replication yes\ntls-cert-file {self.cert}\ntls-key-file {key}\n"
                f"tls-ca-cert-file {self.cert}\ntls-auth-clients no\n"
            )
        self.sentinel.start()

    def keys(self) -> set[str]:
        client = redis.Redis(port=self.server.port, decode_responses=True)
        try:
            return set(client.keys("*"))
        finally:
            client.close()

    def stop(self) -> None:
        self.sentinel.stop()
        self.server.stop()


def sentinel_url(settings, sentineled) -> str:
    """Point the process at `sentineled` (a URL of its own: `threaded` caches per URL)."""
    settings.REDIS_SENTINELS = redis_clients.parse_sentinels(sentineled.sentinels)
    settings.REDIS_SENTINEL_MASTER = sentineled.sentinel.name
    return f"redis://mymaster-{uuid.uuid4().hex[:8]}/0"


async def test_every_client_follows_a_failover(sentineled, settings):
    """The loop clients, the threads' client and the cache's pool reach the promoted replica
    with no restart: the first command after the failover reconnects through Sentinel."""
    url = sentinel_url(settings, sentineled)
    loop_client = redis_clients.for_loop(url)
    thread_client = redis_clients.threaded(url)
    cache_pool = redis_clients.SentinelPool.from_url(
        url, sentinels=settings.REDIS_SENTINELS, master_name=settings.REDIS_SENTINEL_MASTER
    )
    cache_client = redis.Redis(connection_pool=cache_pool)
    health = redis_clients.async_client(url, socket_timeout=1)
    try:
        await loop_client.set("loop", 1)
        await asyncio.to_thread(thread_client.set, "thread", 1)
        await asyncio.to_thread(cache_client.set, "cache", 1)
        assert await health.ping()
        sentineled.fail_over()
        await loop_client.set("loop", 2)
        await asyncio.to_thread(thread_client.set, "thread", 2)
        await asyncio.to_thread(cache_client.set, "cache", 2)
        assert await health.ping()
        promoted = redis.Redis(port=sentineled.replica.port)
        assert promoted.mget("loop", "thread", "cache") == [b"2", b"2", b"2"]
        promoted.close()
    finally:
        await loop_client.aclose()
        await health.aclose()
        cache_client.close()


async def test_the_layer_resubscribes_on_the_promoted_replica(sentineled, settings):
    url = sentinel_url(settings, sentineled)
    host = redis_clients.layer_host(url, settings.REDIS_SENTINELS, settings.REDIS_SENTINEL_MASTER)
    layer = PubSubLayer(hosts=[host], prefix=f"t{uuid.uuid4().hex[:6]}")
    channel = await layer.new_channel()
    await layer.group_add("user.1", channel)
    # group_send goes through Redis (group_send_many would deliver from memory here).
    try:
        await layer.group_send("user.1", {"type": "a", "n": 0})
        assert (await asyncio.wait_for(layer.receive(channel), 5))["n"] == 0
        sentineled.fail_over()
        promoted = redis.Redis(port=sentineled.replica.port)
        deadline = time.monotonic() + 20
        # The layer's own channel: the Sentinel subscribes there too (__sentinel__:hello).
        while not promoted.pubsub_channels(f"{layer.prefix}*"):
            assert time.monotonic() < deadline, "the layer did not subscribe on the new primary"
            await asyncio.sleep(0.05)
        promoted.close()
        # Delivered again: a publish racing the receiver's reconnect may be lost (as any
        # during the outage; clients sync), so send until one arrives.
        for n in range(1, 11):
            await layer.group_send("user.1", {"type": "a", "n": n})
            try:
                assert (await asyncio.wait_for(layer.receive(channel), 2))["n"] >= 1
                break
            except TimeoutError:
                continue
        else:
            raise AssertionError("nothing delivered through the promoted replica")
    finally:
        await layer.group_discard("user.1", channel)
        await layer.flush()
