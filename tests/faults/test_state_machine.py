"""A hypothesis state machine over two users with two tabs each: send, duplicate send, drop a
socket, reconnect, read. After every step each open tab's view is the database (every
message once, in seq order, no gaps) and its unread count is the database's.

In process (WebsocketCommunicator on the full ASGI app) so that hundreds of steps run in
seconds; the same client logic runs against real servers in the other fault tests."""

import asyncio
import contextlib
import itertools
import uuid

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from accounts.models import User
from chats.models import Chat, Membership, Message
from chats.realtime import presence
from chatsite import presence_store
from tests.chats.conftest import Socket
from tests.factories import make_chat

pytestmark = [pytest.mark.fault, pytest.mark.django_db(transaction=True)]

TABS = ["alice-1", "alice-2", "bob-1", "bob-2"]
names = itertools.count()
# Any storable text (validation refuses NUL and lone surrogates: tests/chats/test_services.py).
bodies = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), min_size=1, max_size=20
).filter(str.strip)


class Tab:
    def __init__(self, user):
        self.user = user
        self.sock = None
        self.view = {}  # seq -> id
        self.unread = None
        self.sent = []  # (client_id, body, ack) of this tab's acked sends
        self.live_seqs = []  # seqs received live on the current socket, in order

    @property
    def last_seq(self):
        seq = 0
        while seq + 1 in self.view:
            seq += 1
        return seq

    def apply(self, frame, chat_id, live=True):
        if frame["type"] in {"message", "ack"} and frame["message"]["chat"] == chat_id:
            seq, mid = frame["message"]["seq"], frame["message"]["id"]
            assert self.view.setdefault(seq, mid) == mid, "one seq, two messages"
            if frame["type"] == "message" and live:
                self.live_seqs.append(seq)
        elif frame["type"] == "unread" and frame["chat"] == chat_id:
            self.unread = frame["unread"]


class Conversation(RuleBasedStateMachine):
    loop: asyncio.AbstractEventLoop

    def run(self, coro):
        return self.loop.run_until_complete(asyncio.wait_for(coro, 20))

    @initialize()
    def setup(self):
        n = next(names)
        alice = User.objects.create(username=f"alice{n}", password="!")
        bob = User.objects.create(username=f"bob{n}", password="!")
        self.chat = make_chat(alice, bob)
        self.tabs = {name: Tab(alice if name.startswith("alice") else bob) for name in TABS}
        for name in TABS:
            self.run(self.connect(self.tabs[name]))

    def teardown(self):
        for tab in getattr(self, "tabs", {}).values():
            if tab.sock is not None:
                with contextlib.suppress(Exception):
                    self.run(tab.sock.close())
        for task in list(presence._settling):
            task.cancel()

    async def connect(self, tab):
        tab.sock = Socket(tab.user)
        connected, code = await tab.sock.connect()
        assert connected and tab.sock.hello["type"] == "hello", code
        tab.live_seqs = []
        entry = next(c for c in tab.sock.hello["chats"] if c["id"] == self.chat.pk)
        tab.unread = entry["unread"]
        while True:  # sync from the last gapless seq, as the client does on every connect
            await tab.sock.send({"type": "sync", "chat": self.chat.pk, "after": tab.last_seq})
            while (frame := await tab.sock.recv())["type"] != "synced":
                tab.apply(frame, self.chat.pk, live=False)
            if not frame["more"]:
                break

    async def send(self, tab, body, client_id):
        await tab.sock.send(
            {"type": "send", "chat": self.chat.pk, "client_id": client_id, "body": body}
        )
        while True:
            frame = await tab.sock.recv()
            tab.apply(frame, self.chat.pk)
            if frame.get("client_id") == client_id and frame["type"] in {"ack", "error"}:
                assert frame["type"] == "ack", frame
                return frame

    def open_tabs(self):
        return [name for name in TABS if self.tabs[name].sock is not None]

    def closed_tabs(self):
        return [name for name in TABS if self.tabs[name].sock is None]

    # Rules.

    @precondition(lambda self: self.open_tabs())
    @rule(data=st.data(), body=bodies)
    def send_message(self, data, body):
        name = data.draw(st.sampled_from(self.open_tabs()), label="tab")
        tab = self.tabs[name]
        client_id = str(uuid.uuid4())
        ack = self.run(self.send(tab, body, client_id))
        assert ack["message"]["body"] == body.strip()
        tab.sent.append((client_id, body, ack))

    @precondition(lambda self: any(self.tabs[n].sent for n in self.open_tabs()))
    @rule(data=st.data())
    def duplicate_send(self, data):
        name = data.draw(st.sampled_from([n for n in self.open_tabs() if self.tabs[n].sent]))
        # A resend from any tab of the same user (a reload resends from localStorage).
        same_user = [n for n in self.open_tabs() if n.split("-")[0] == name.split("-")[0]]
        other = self.tabs[data.draw(st.sampled_from(same_user), label="resending tab")]
        client_id, body, ack = data.draw(st.sampled_from(self.tabs[name].sent), label="msg")
        count = Message.objects.filter(chat=self.chat).count()
        again = self.run(self.send(other, body, client_id))
        assert again == ack
        assert Message.objects.filter(chat=self.chat).count() == count

    @precondition(lambda self: self.open_tabs())
    @rule(data=st.data())
    def drop_socket(self, data):
        tab = self.tabs[data.draw(st.sampled_from(self.open_tabs()), label="tab")]
        self.run(tab.sock.close())
        tab.sock = None

    @precondition(lambda self: self.closed_tabs())
    @rule(data=st.data())
    def reconnect(self, data):
        tab = self.tabs[data.draw(st.sampled_from(self.closed_tabs()), label="tab")]
        self.run(self.connect(tab))

    @precondition(lambda self: self.open_tabs())
    @rule(data=st.data())
    def read(self, data):
        tab = self.tabs[data.draw(st.sampled_from(self.open_tabs()), label="tab")]
        self.run(tab.sock.send({"type": "read", "chat": self.chat.pk, "seq": tab.last_seq}))

    # After every step.

    def truth(self, user):
        chat = Chat.objects.get(pk=self.chat.pk)
        read_seq = Membership.objects.get(chat=chat, user=user).read_seq
        rows = dict(Message.objects.filter(chat=chat).values_list("seq", "id"))
        return rows, chat.last_seq - read_seq

    async def settle(self, tab, rows, unread):
        """Read the frames already on their way until the tab shows the truth."""
        while tab.view != rows or tab.unread != unread:
            tab.apply(await tab.sock.recv(timeout=5), self.chat.pk)

    @invariant()
    def every_view_is_the_database(self):
        if not hasattr(self, "tabs"):
            return
        for name in TABS:
            tab = self.tabs[name]
            rows, unread = self.truth(tab.user)
            assert sorted(rows) == list(range(1, len(rows) + 1))  # seq has no gaps
            if tab.sock is None:
                # A closed tab holds a part of the truth, never something else.
                assert all(rows.get(seq) == mid for seq, mid in tab.view.items())
                continue
            self.run(self.settle(tab, rows, unread))
            assert tab.live_seqs == sorted(set(tab.live_seqs))  # live: in order, never twice


@pytest.fixture
def machine_settings(settings):
    settings.SEND_RATE = (100_000, 1)
    presence_store.reset_local()
    yield
    presence_store.reset_local()


def test_views_equal_the_database_after_any_mix_of_sends_resends_drops_and_reconnects(
    machine_settings,
):
    loop = asyncio.new_event_loop()
    Conversation.loop = loop
    machine = Conversation.TestCase
    machine.settings = settings(
        max_examples=20,
        stateful_step_count=20,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    try:
        machine().runTest()
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
