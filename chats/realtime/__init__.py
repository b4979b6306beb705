"""The real-time runtime: how the rules of chats/ reach sockets, and nothing else.

It imports the rules (services, selectors, validation, events) and is never imported by them.

- consumer.py: the WebSocket consumer, one per browser tab: connect, disconnect, frames out
  and in; it mixes in client_frames.py (a handler per client frame type) and layer_events.py
  (a handler per channel-layer event).
- delivery.py: a socket's delivery bookkeeping: the versions forwarded per chat, the gap fill,
  its send batches, and the messages held while a batch's acks are out.
- protocol.py: client frames parsed and validated, server frames built (docs/protocol.md).
- routing.py: the WebSocket URL.
- socket_auth.py: who is on the socket: Django's get_user for the handshake's session cookie.
- socket_work.py: the work behind the consumer (authenticate, hello, store, sync, read).
- worker_pool.py: the process-wide thread pool for blocking ORM work of sockets.
- pg_async.py: PostgreSQL connections driven from the event loop (the send path's fast driver).
- receipts.py: delivered pointers of every socket of the process, written together.
- presence.py: a socket's presence lease, its renewals, and the announcements (the lease store
  is chatsite/presence_store.py, what a viewer may see chats/presence.py).
"""
