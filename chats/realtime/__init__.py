"""The real-time runtime: how the rules of chats/ reach sockets, and nothing else.

It imports the rules (services, selectors, validation, events) and is never imported by them.

- consumer.py: the WebSocket consumer, one per browser tab; routes frames and events.
- protocol.py: client frames parsed and validated, server frames built (docs/protocol.md).
- routing.py: the WebSocket URL.
- socket_auth.py: the session key from the handshake's Cookie header.
- socket_work.py: the work behind the consumer (authenticate, hello, store, sync, read).
- worker_pool.py: the process-wide thread pool for blocking ORM work of sockets.
- pg_async.py: PostgreSQL connections driven from the event loop (the send path's fast driver).
- receipts.py: delivered pointers of every socket of the process, written together.
- presence.py: who is online (leases in Redis or in process) and the announcements.
"""
