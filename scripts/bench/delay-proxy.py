#!/usr/bin/env python3
"""A TCP proxy that delays every byte by a fixed time in each direction (a long link's
latency, where the kernel has no netem). Python's standard library only; on demand, not in CI.

    scripts/bench/delay-proxy.py LISTEN_PORT TARGET_HOST:TARGET_PORT DELAY_MS [LISTEN_HOST]

LISTEN_HOST defaults to 127.0.0.1. A connection the target refuses is closed at once (the
client retries, as a ZeroMQ peer does).
"""
import asyncio
import sys
import time


async def pipe(reader, writer, delay):
    queue = asyncio.Queue()

    async def deliver():
        while True:
            due, data = await queue.get()
            if data is None:
                break
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
        writer.close()

    sender = asyncio.ensure_future(deliver())
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            queue.put_nowait((time.monotonic() + delay, data))
    except (ConnectionError, OSError):
        pass
    queue.put_nowait((0, None))
    await sender


async def main():
    listen_port, target, delay_ms = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    listen_host = sys.argv[4] if len(sys.argv) > 4 else "127.0.0.1"
    host, port = target.rsplit(":", 1)
    delay = delay_ms / 1000

    async def handle(client_reader, client_writer):
        try:
            server_reader, server_writer = await asyncio.open_connection(host, int(port))
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, server_writer, delay), pipe(server_reader, client_writer, delay),
                             return_exceptions=True)

    server = await asyncio.start_server(handle, listen_host, listen_port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
