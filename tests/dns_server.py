"""A DNS server on 127.0.0.1 for tests: real DNS messages over UDP, answers chosen by the test.

`answers` maps a host name to the IPv4 addresses to give, one per query in turn (the last one
repeats): ["203.0.113.7", "127.0.0.1"] answers the first query with a public-looking address and
every later one with loopback, as a rebinding attacker's server does. Every answer has a TTL of
0; other names are NXDOMAIN. `queries` counts the questions asked per name.

The crawler asks it when NEWS_DNS_SERVERS names it (`server.address`).
"""

from __future__ import annotations

import ipaddress
import socket
import struct
import threading
from collections import Counter


class DnsServer:
    def __init__(self, answers: dict[str, list[str]]):
        self.answers = {name.lower(): list(addresses) for name, addresses in answers.items()}
        self.queries: Counter[str] = Counter()
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self._socket.getsockname()[1]}"

    def __enter__(self) -> DnsServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._socket.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                message, client = self._socket.recvfrom(4096)
            except TimeoutError:
                continue
            reply = self._answer(message)
            if reply is not None:
                self._socket.sendto(reply, client)

    def _answer(self, message: bytes) -> bytes | None:
        if len(message) < 12:
            return None
        ident, _flags, questions = struct.unpack("!HHH", message[:6])
        if questions != 1:
            return None
        labels, at = [], 12
        while at < len(message) and message[at]:
            length = message[at]
            labels.append(message[at + 1 : at + 1 + length].decode("ascii", "replace"))
            at += 1 + length
        at += 1
        if at + 4 > len(message):
            return None
        qtype = struct.unpack("!H", message[at : at + 2])[0]
        question = message[12 : at + 4]
        name = ".".join(labels).lower()
        self.queries[name] += 1
        given = self.answers.get(name)
        if given is None:  # NXDOMAIN, recursion available
            return struct.pack("!HHHHHH", ident, 0x8183, 1, 0, 0, 0) + question
        address = given[min(self.queries[name], len(given)) - 1]
        records = b""
        if qtype in (1, 255):  # A, or ALL (twisted.names asks for ALL)
            records = (
                struct.pack("!HHHIH", 0xC00C, 1, 1, 0, 4) + ipaddress.IPv4Address(address).packed
            )
        count = 1 if records else 0
        return struct.pack("!HHHHHH", ident, 0x8180, 1, count, 0, 0) + question + records
