#!/usr/bin/env python3
"""The article's echo server on asyncio or uvloop, for scale beside heist's, tokio's and
smol's (docs/benchmarks/echo.md; run by scripts/echo-bench.sh and
scripts/echo-syscalls.sh under the same client, examples/echo.rs).

    python3.11 scripts/echo_asyncio.py --loop asyncio|uvloop --kind streams|protocol \
        --addr 127.0.0.1:7000

The servers of uvloop's benchmark (vmbench, after curio): `streams` reads up to 100 KiB
with `StreamReader.read` and writes it back; `protocol` writes back in
`data_received`. Both set TCP_NODELAY. One process, one thread (asyncio's model).
uvloop comes from PyPI (`pip install uvloop`).
"""

import argparse
import asyncio
import socket


class EchoProtocol(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        transport.get_extra_info("socket").setsockopt(
            socket.IPPROTO_TCP, socket.TCP_NODELAY, 1
        )

    def connection_lost(self, exc):
        self.transport = None

    def data_received(self, data):
        self.transport.write(data)


async def echo_streams(reader, writer):
    writer.get_extra_info("socket").setsockopt(
        socket.IPPROTO_TCP, socket.TCP_NODELAY, 1
    )
    try:
        while True:
            data = await reader.read(102400)
            if not data:
                break
            writer.write(data)
    except ConnectionError:
        pass
    writer.close()


async def serve(host, port, kind):
    if kind == "protocol":
        server = await asyncio.get_running_loop().create_server(
            EchoProtocol, host, port, backlog=1024
        )
    else:
        server = await asyncio.start_server(echo_streams, host, port, backlog=1024)
    print(f"listening on {host}:{port}", flush=True)
    async with server:
        await server.serve_forever()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    parser.add_argument("--kind", choices=["streams", "protocol"], default="streams")
    parser.add_argument("--addr", default="127.0.0.1:7000")
    args = parser.parse_args()
    host, port = args.addr.rsplit(":", 1)
    if args.loop == "uvloop":
        import uvloop

        uvloop.run(serve(host, int(port), args.kind))
    else:
        asyncio.run(serve(host, int(port), args.kind))


if __name__ == "__main__":
    main()
