#!/usr/bin/env python3
"""Forwards TCP connections on 127.0.0.1:PORT to a Unix socket: schemathesis speaks TCP, lethe serve listens on a
Unix socket (and knows callers by their peer credentials: here, the user running this proxy).
Usage: unix-proxy.py PORT SOCKET"""
import asyncio
import sys


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


async def handle(client_reader, client_writer):
    server_reader, server_writer = await asyncio.open_unix_connection(sys.argv[2])
    await asyncio.gather(pipe(client_reader, server_writer), pipe(server_reader, client_writer), return_exceptions=True)


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]))
    async with server:
        await server.serve_forever()


asyncio.run(main())
