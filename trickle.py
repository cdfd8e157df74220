import asyncio, sys, time
N_ADDR, PER = 30, 100
async def one(addr, stats):
    try:
        r, w = await asyncio.open_connection("127.0.0.1", 18183, local_addr=(addr, 0))
        stats["open"] += 1
        w.write(b"GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ")
        await w.drain()
        for _ in range(15):
            await asyncio.sleep(1)
            w.write(b"a"); await w.drain()
        stats["survived"] += 1
    except Exception:
        stats["closed"] += 1
async def main():
    stats = {"open": 0, "closed": 0, "survived": 0}
    tasks = [one("127.0.0.%d" % (2 + a), stats) for a in range(N_ADDR) for _ in range(PER)]
    await asyncio.gather(*tasks)
    print(stats)
asyncio.run(main())
