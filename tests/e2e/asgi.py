"""The site's ASGI app behind a strict Content-Security-Policy, for the browser tests.

Production may send a policy like this one; the pages and the client module must work
under it unchanged (no inline scripts or styles, no eval, no outside hosts).
"""

from __future__ import annotations

from chatsite.asgi import application as site

STRICT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)


async def application(scope, receive, send):
    if scope["type"] != "http":
        return await site(scope, receive, send)

    async def send_with_csp(message):
        if message["type"] == "http.response.start":
            headers = [
                (name, value)
                for name, value in message.get("headers", [])
                if name.lower() != b"content-security-policy"
            ]
            headers.append((b"content-security-policy", STRICT_CSP.encode()))
            message = {**message, "headers": headers}
        await send(message)

    return await site(scope, receive, send_with_csp)
