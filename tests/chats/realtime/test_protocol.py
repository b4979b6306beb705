"""Server frames as text (chats/realtime/protocol.py)."""

import json

from chats.realtime import protocol


def test_a_frame_is_compact_json_with_text_as_it_is():
    frame = {"type": "message", "message": {"body": "héllo 👋", "seq": 3, "removed": False}}
    text = protocol.encode(frame)
    assert text == '{"type":"message","message":{"body":"héllo 👋","seq":3,"removed":false}}'
    assert json.loads(text) == frame


def test_a_frame_orjson_refuses_still_goes_out():
    """A lone surrogate (a client's JSON escape, echoed in an error) is not UTF-8: the
    standard encoder writes it as an escape instead of failing the frame."""
    frame = protocol.error("invalid", "client_id must be valid Unicode text.", "\udc00")
    text = protocol.encode(frame)
    assert "\\udc00" in text
    assert json.loads(text) == frame
