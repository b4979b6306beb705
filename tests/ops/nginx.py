"""A real nginx (Debian's package) in front of live servers, configured from
deploy/nginx.conf: its upstream server parameters, its `map` for the Upgrade header and its
`location` blocks verbatim, on a free loopback port, with every path (pid, logs, temp files)
under the test's directory. No TLS: the test talks to it over plain HTTP."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.chats.live import ROOT
from tests.faults.infra import free_port

NGINX = "/usr/sbin/nginx"
DEPLOY_CONF = ROOT / "deploy" / "nginx.conf"


def block(text: str, head: str) -> str:
    """The block of `text` that starts with `head` (e.g. "location /ws/"), braces included."""
    start = text.index(head)
    depth, i = 0, text.index("{", start)
    while True:
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[start : i + 1]
        i += 1


def without_comments(text: str) -> str:
    return re.sub(r"#[^\n]*", "", text)


def upstream(text: str, ports: list[int]) -> str:
    """deploy/nginx.conf's upstream with its first server's parameters, on `ports`."""
    body = block(text, "upstream chatsite")
    params = re.search(r"server\s+\S+\s+([^;]*);", body)
    keepalive = re.search(r"keepalive\s+\d+;", body)
    assert params and keepalive, body
    servers = "".join(f"    server 127.0.0.1:{p} {params.group(1)};\n" for p in ports)
    return f"upstream chatsite {{\n{servers}    {keepalive.group(0)}\n}}"


class Nginx:
    def __init__(self, tmp_path: Path, backend_ports: list[int], port: int = 0) -> None:
        self.port = port or free_port()
        self.dir = tmp_path / "nginx"
        self.dir.mkdir(exist_ok=True)
        self.conf = self.dir / "nginx.conf"
        self.error_log = self.dir / "error.log"
        deploy = without_comments(DEPLOY_CONF.read_text())
        temp = "".join(
            f"    {kind}_temp_path {self.dir}/{kind}-temp;\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        # As root the workers would switch to `nobody`, who cannot enter pytest's directory.
        user = "user root;\n" if os.geteuid() == 0 else ""
        self.conf.write_text(
            f"{user}daemon off;\nworker_processes 1;\npid {self.dir}/nginx.pid;\n"
            f"error_log {self.error_log} warn;\n"
            "events { worker_connections 4096; }\n"
            "http {\n"
            f"    access_log {self.dir}/access.log;\n{temp}"
            f"{upstream(deploy, backend_ports)}\n"
            f"{block(deploy, 'map $http_upgrade')}\n"
            "server {\n"
            f"    listen 127.0.0.1:{self.port};\n"
            f"{block(deploy, 'location /ws/')}\n"
            f"{block(deploy, 'location / ')}\n"
            "}\n}\n"
        )
        self.process = subprocess.Popen(
            [NGINX, "-p", str(self.dir), "-c", str(self.conf), "-e", str(self.error_log)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        self._wait_listening()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + 30
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited: {self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def log(self) -> str:
        return self.error_log.read_text(errors="replace") if self.error_log.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # fast shutdown: open sockets too
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
