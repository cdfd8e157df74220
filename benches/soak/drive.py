#!/usr/bin/env python3
"""The soak's traffic: legitimate and hostile requests mixed, sent at a fixed rate.

Usage: drive.py HOST:PORT RATE SECONDS WEBHOOK_BODY_FILE PE_SIGNATURE
Prints one JSON line: requests sent, answers by status, requests left unanswered, and the
slow clients' connections that garita closed. Each answered request is one decision
garita must have logged; benches/soak/run compares the two.
"""
import asyncio
import json
import random
import sys
import time

HOST, PORT = sys.argv[1].rsplit(":", 1)
PORT = int(PORT)
RATE = float(sys.argv[2])
SECONDS = float(sys.argv[3])
WEBHOOK = open(sys.argv[4], "rb").read()
SIGNATURE = sys.argv[5]
WORKERS = 32
SLOW_CLIENTS = 20

rng = random.Random(7)
# The shop's customers: a bounded population, as in life, so that the store's counters and
# bindings reach a steady size and memory can be seen to stay flat.
CUSTOMERS = [("%08d" % rng.randint(10**7, 10**8 - 1), "acct-%d" % n, "c%d@example.pe" % n)
             for n in range(2000)]


def cip(dni, account, email):
    body = {
        "currency": "PEN", "amount": "%d.00" % rng.randint(1, 900),
        "transactionCode": "ORD-%06d" % rng.randint(0, 999999),
        "adminEmail": "pagos@tienda.pe", "dateExpiry": "2026-11-30 23:59:59-05:00",
        "paymentConcept": "Pedido", "userEmail": email,
        "userId": account, "userName": "Ana", "userLastName": "Perez",
        "userUbigeo": "150101", "userCountry": "PERU", "userDocumentType": "DNI",
        "userDocumentNumber": dni, "userCodeCountry": "+51", "userPhone": "987654321",
    }
    return json.dumps(body, separators=(",", ":")).encode()


def request(method, path, body=b"", headers=()):
    head = ["%s %s HTTP/1.1" % (method, path), "Host: shop.test"]
    head += ["%s: %s" % h for h in headers]
    if body or method == "POST":
        head.append("Content-Length: %d" % len(body))
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def pick():
    """One request of the mix; the weights are percentages."""
    r = rng.random() * 100
    pe = "192.0.2.%d" % rng.randint(1, 254)
    json_ct = ("Content-Type", "application/json")
    if r < 40:
        return request("GET", "/catalog/%d" % rng.randint(0, 999), headers=[("X-Forwarded-For", pe)])
    if r < 65:
        body = cip(*rng.choice(CUSTOMERS))
        return request("POST", "/v1/cips", body, [("X-Forwarded-For", pe), json_ct])
    if r < 75:
        return request("POST", "/webhooks/pagoefectivo", WEBHOOK,
                       [json_ct, ("PE-Signature", SIGNATURE)])
    # Hostile, each a few percent.
    hostile = [
        lambda: request("POST", "/v1/cips", b'{"userDocumentNumber":"4567', [("X-Forwarded-For", pe), json_ct]),
        lambda: request("POST", "/v1/cips", b'{"userDocumentNumber":"45678912","userDocumentNumber":"11223344"}',
                        [("X-Forwarded-For", pe), json_ct]),
        lambda: request("POST", "/webhooks/pagoefectivo", WEBHOOK, [json_ct, ("PE-Signature", "00" * 32)]),
        lambda: request("GET", "/v1/%zz/..%2f..%2fetc", headers=[("X-Forwarded-For", pe)]),
        lambda: request("GET", "/", headers=[("X-Forwarded-For", pe), ("X-Big", "a" * 40000)]),
        lambda: request("GET", "/", headers=[("X-Forwarded-For", "198.18.%d.%d" % (rng.randint(0, 255), rng.randint(0, 255)))]),
        lambda: request("GET", "/", headers=[("X-Forwarded-For", "203.0.113.%d" % rng.randint(1, 254))]),
        lambda: request("GET", "/", headers=[("X-Forwarded-For", "not-an-address")]),
        lambda: request("PUT", "/v1/cips", b"{}", [("X-Forwarded-For", pe), json_ct]),
        lambda: request("POST", "/v1/cips", b"{}", [("X-Forwarded-For", pe), json_ct, ("Content-Length", "2")]),
    ]
    return rng.choice(hostile)()


async def read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    close = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value.strip())
        elif name == b"connection" and value.strip().lower() == b"close":
            close = True
        elif name == b"transfer-encoding":
            raise ValueError("chunked answers are not expected here")
    if length:
        await reader.readexactly(length)
    return status, close


async def worker(n, stats, deadline):
    interval = WORKERS / RATE
    next_at = time.monotonic() + interval * n / WORKERS
    conn = None
    while time.monotonic() < deadline:
        now = time.monotonic()
        if next_at > now:
            await asyncio.sleep(next_at - now)
        next_at += interval
        data = pick()
        try:
            if conn is None:
                conn = await asyncio.open_connection(HOST, PORT)
            reader, writer = conn
            writer.write(data)
            await writer.drain()
            stats["sent"] += 1
            status, close = await asyncio.wait_for(read_response(reader), 30)
            stats["status"][status] = stats["status"].get(status, 0) + 1
            if close:
                writer.close()
                conn = None
        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError):
            stats["unanswered"] += 1
            if conn is not None:
                conn[1].close()
            conn = None


async def slow_client(stats, deadline):
    """A head sent one byte every two seconds, again whenever garita closes it."""
    while time.monotonic() < deadline:
        try:
            reader, writer = await asyncio.open_connection(HOST, PORT)
            writer.write(b"GET / HTTP/1.1\r\nHost: shop.test\r\nX-Slow: ")
            while time.monotonic() < deadline:
                await asyncio.sleep(2)
                writer.write(b"a")
                await writer.drain()
                if reader.at_eof():
                    break
            stats["slow_closed"] += 1
            writer.close()
        except OSError:
            stats["slow_closed"] += 1
            await asyncio.sleep(0.1)


async def main():
    stats = {"sent": 0, "status": {}, "unanswered": 0, "slow_closed": 0}
    deadline = time.monotonic() + SECONDS
    tasks = [worker(n, stats, deadline) for n in range(WORKERS)]
    tasks += [slow_client(stats, deadline) for _ in range(SLOW_CLIENTS)]
    await asyncio.gather(*tasks)
    stats["answered"] = sum(stats["status"].values())
    print(json.dumps(stats, sort_keys=True))


asyncio.run(main())
