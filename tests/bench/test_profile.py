"""bench/profile.py: py-spy's samples by part of the stack, and the report's section."""

from __future__ import annotations

import subprocess
import sys

from bench import profile, report

RAW = """\
<module> (uvicorn:8);run (uvicorn/server.py:86);recv (websockets/protocol.py:10) 5
<module> (uvicorn:8);Runner.run (asyncio/runners.py:118);_run (asyncio/events.py:80) 3
<module> (uvicorn:8);dispatch (channels/consumer.py:58);send (chats/realtime/consumer.py:9) 4
<module> (uvicorn:8);execute (psycopg/cursor_async.py:97) 2
<module> (uvicorn:8);dumps (json/encoder.py:200) 1
<module> (uvicorn:8);decode (django/contrib/sessions/backends/base.py:133) 2
<module> (uvicorn:8);publish (redis/asyncio/client.py:600);x (channels_redis/core.py:1) 3

"""


def test_each_sample_goes_to_the_part_of_its_innermost_frame():
    found = profile.read_raw(RAW)
    assert found["samples"] == 20
    assert found["parts"] == {
        "server: uvicorn + websockets": 5,
        "Chatsite": 4,
        "event loop (asyncio, uvloop, threads)": 3,
        "channel layer + Redis clients": 3,
        "psycopg": 2,
        "Django": 2,
        profile.OTHER: 1,
    }
    assert found["top"][0] == ["recv (websockets/protocol.py:10)", 5]
    assert profile.shares(found)["Chatsite"] == 0.2
    assert profile.part_of("<module> (uvicorn:8)") == "server: uvicorn + websockets"
    assert profile.part_of("f (relay_asgi.py:3)") == profile.OTHER
    # Chatsite's WebSocket protocol and channel layer are the server's and the layer's parts.
    assert profile.part_of("w (chatsite/uvicorn_ws.py:58)") == profile.SERVER
    assert profile.part_of("g (chatsite/layers.py:274)") == profile.LAYER
    assert profile.part_of("h (chatsite/presence_store.py:1)") == "Chatsite"
    assert profile.part_of("receive (bench/relay_asgi.py:40)").startswith("bench apps")


def test_sampling_a_real_process_reads_its_busy_frames(tmp_path):
    busy = subprocess.Popen(
        [sys.executable, "-c", "import json\nwhile True: json.dumps({'a': [1, 2, 3]})"]
    )
    try:
        with profile.sampling(busy.pid, tmp_path / "raw.txt", rate=200) as found:
            subprocess.run(["sleep", "1"], check=True)
    finally:
        busy.kill()
        busy.wait()
    assert found["samples"] > 20
    # json's encoder is stdlib, not a part of the server's stack: all of it lands in "other".
    assert profile.shares(found)[profile.OTHER] > 0.9


def storm_run(seconds, cpu):
    return {"sockets": 1000, "connected": 1000, "seconds": seconds, "server_cpu_seconds": cpu}


def parts(**shares):
    names = {
        "server": "server: uvicorn + websockets",
        "channels": "Channels + asgiref",
        "redis": "channel layer + Redis clients",
        "loop": "event loop (asyncio, uvloop, threads)",
        "chatsite": "Chatsite",
        "other": profile.OTHER,
    }
    counts = {names[k]: v for k, v in shares.items()}
    return {"samples": sum(counts.values()), "parts": counts, "top": [["f (chats/x.py:1)", 3]]}


def test_the_report_prices_each_part_and_the_relays_fixed_parts_against_the_floor():
    found = {
        "B2 floor": {**parts(server=80, other=20), "run": {"cpu_ms_per_message": 0.2}},
        "B2 relay": {
            **parts(server=30, channels=20, redis=20, loop=20, other=10),
            "run": {"cpu_ms_per_message": 1.0},
        },
        "B2 product": {
            **parts(server=20, channels=10, redis=10, loop=10, chatsite=50),
            "run": {"cpu_ms_per_message": 2.0},
        },
        "B5 product": {**parts(server=50, chatsite=50), "run": storm_run(10.0, 4.0)},
    }
    lines = report.profile_section({"rows": {"profile": found}})
    assert lines[0] == "## Where the CPU goes (row profile)"
    header = next(line for line in lines if line.startswith("| part |"))
    assert header == "| part | B2 floor | B2 Channels relay | B2 product | B5 product |"
    server = next(line for line in lines if line.startswith("| server: uvicorn"))
    assert server.split(" | ")[1:] == ["80% (0.160)", "30% (0.300)", "20% (0.400)", "50% (2.000) |"]
    # The relay's fixed parts: 90% of 1.0 ms = 0.9 ms, 4.5x the floor's 0.2 ms; the
    # product's: half of its 2.0 ms.
    b2 = next(line for line in lines if line.startswith("- **B2**"))
    assert b2 == (
        "- **B2**, server CPU a message (the floor's whole: 0.200 ms): the Channels relay's "
        "fixed parts 0.900 ms (4.5x the floor) and its own work 0.100 ms (0.5x the floor); "
        "the product's fixed parts 1.000 ms (5.0x the floor) and its own work 1.000 ms (5.0x "
        "the floor)."
    )
    # No floor or relay storm profiled: the product's parts, with nothing to compare.
    b5 = next(line for line in lines if line.startswith("- **B5**"))
    assert b5 == (
        "- **B5**, server CPU a connect: the product's fixed parts 2.000 ms and its own work "
        "2.000 ms."
    )
    assert report.profile_section({"rows": {}}) == []
