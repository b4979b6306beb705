"""Living messages on live servers (real daphne, real `websockets` clients): edits,
deletions and reactions reach every tab once, and a peer who was away gets each once on
sync `since`."""

import asyncio

import pytest

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def change(frame):
    return lambda f: f["type"] == "message" and f["message"]["version"] >= frame


async def test_offline_edits_deletes_and_reactions_arrive_once_each_on_sync_since(
    cluster_factory,
):
    cluster = cluster_factory(SEND_RATE_BURST="100")
    seed = cluster.seed("alice", "bob")
    server = cluster.start()
    chat, users = seed["chat"], seed["users"]
    alice = await server.connect(users["alice"]["session"])
    bob = await server.connect(users["bob"]["session"])
    try:
        for body in ("one", "two", "three"):
            await alice.send_message(chat, body)
        await bob.recv_until(lambda f: f["type"] == "message" and f["message"]["seq"] == 3)
        since = 3
        await bob.close()
        await alice.send({"type": "edit", "chat": chat, "seq": 1, "body": "one, fixed"})
        await alice.send({"type": "edit", "chat": chat, "seq": 1, "body": "one, fixed again"})
        await alice.send({"type": "delete", "chat": chat, "seq": 2})
        await alice.send({"type": "react", "chat": chat, "seq": 3, "emoji": "👍", "on": True})
        await alice.send({"type": "react", "chat": chat, "seq": 3, "emoji": "🎉", "on": True})
        await alice.recv_until(change(8))  # all five changes are stored
        bob = await server.connect(users["bob"]["session"])
        assert bob.hello["chats"][0]["version"] == 8
        await bob.send({"type": "sync", "chat": chat, "since": since})
        synced, frames = await bob.recv_until("synced")
        got = [f["message"] for f in frames if f["type"] == "message"]
        assert [(m["seq"], m["version"]) for m in got] == [(1, 5), (2, 6), (3, 8)]
        assert got[0]["body"] == "one, fixed again" and got[0]["edited_at"]
        assert (got[1]["deleted"], got[1]["body"]) == (True, "")
        assert got[2]["reactions"] == {"👍": ["alice"], "🎉": ["alice"]}
        assert synced["version"] == 8
        # Nothing more follows: a fresh message is the next frame.
        await alice.send_message(chat, "after")
        nxt, _ = await bob.recv_until("message")
        assert nxt["message"]["body"] == "after"
    finally:
        await alice.close()
        await bob.close()


async def test_two_tabs_and_concurrent_changes_end_equal_to_the_database(cluster_factory):
    cluster = cluster_factory(SEND_RATE_BURST="1000")
    seed = cluster.seed("alice", "bob")
    server = cluster.start()
    chat, users = seed["chat"], seed["users"]
    tabs = {
        name: [await server.connect(users[name]["session"]) for _ in range(2)]
        for name in ("alice", "bob")
    }
    everyone = [*tabs["alice"], *tabs["bob"]]
    try:
        await tabs["alice"][0].send_message(chat, "react to me")
        await tabs["bob"][0].send_message(chat, "and me")
        faces = ["😀", "😁", "😂", "🤣", "😃", "😄"]

        async def storm(sock, name):
            for i, face in enumerate(faces):
                await sock.send(
                    {"type": "react", "chat": chat, "seq": 1 + i % 2, "emoji": face, "on": True}
                )
            own = 1 if name == "alice" else 2
            await sock.send({"type": "edit", "chat": chat, "seq": own, "body": f"{name} edited"})

        await asyncio.gather(storm(tabs["alice"][0], "alice"), storm(tabs["bob"][1], "bob"))
        final = 2 + 2 * len(faces) + 2
        views = []
        for sock in everyone:
            view = {}
            while not view or max(m["version"] for m in view.values()) < final:
                frame, _ = await sock.recv_until("message")
                m = frame["message"]
                if m["seq"] not in view or view[m["seq"]]["version"] < m["version"]:
                    view[m["seq"]] = m
            views.append(view)
        assert all(v == views[0] for v in views)
        check = await server.connect(users["alice"]["session"])
        await check.send({"type": "sync", "chat": chat, "since": 0})
        _, frames = await check.recv_until("synced")
        truth = {f["message"]["seq"]: f["message"] for f in frames if f["type"] == "message"}
        await check.close()
        assert views[0] == truth
        assert truth[1]["body"] == "alice edited" and truth[2]["body"] == "bob edited"
        assert sorted(truth[1]["reactions"]) == sorted(faces[0::2])
        assert truth[1]["reactions"][faces[0]] in (["alice", "bob"], ["bob", "alice"])
    finally:
        for sock in everyone:
            await sock.close()
