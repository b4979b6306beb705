"""DATABASE_URL to Django's database settings: dj-database-url, plus libpq's multi-host
form, so a promoted standby is found after a failover (docs/deploy.md):

    postgres://user:pass@db1:5432,db2:5432/chatsite?target_session_attrs=read-write

libpq tries the hosts in order and, with `target_session_attrs=read-write`, takes the
first that accepts writes. dj-database-url cannot parse a port per host, so the host list
is taken apart here and handed to psycopg as libpq's comma-separated host and port lists.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import dj_database_url

DEFAULT_PORT = "5432"


def database_from_url(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    userinfo, _, hosts = parts.netloc.rpartition("@")
    if "," not in hosts:
        return dict(dj_database_url.parse(url))
    names, ports = [], []
    for entry in hosts.split(","):
        host, port = entry, ""
        if ":" in entry and not entry.endswith("]"):  # host:port, [v6]:port
            host, _, port = entry.rpartition(":")
        names.append(host.strip("[]"))
        ports.append(port or DEFAULT_PORT)
    one = urlunsplit(parts._replace(netloc=f"{userinfo}@localhost" if userinfo else "localhost"))
    parsed = dict(dj_database_url.parse(one))
    parsed["HOST"], parsed["PORT"] = ",".join(names), ",".join(ports)
    return parsed
