"""The stream-and-publish part of Belfry's contract on Python, written the way a team would with
Starlette + sse-starlette + PyJWT under uvicorn: the peer Belfry is benchmarked against.
Notifications are kept in memory, or, with SQLITE_PATH set, also written to SQLite (the
standard library's sqlite3, WAL, synchronous=FULL: on disk before the publish is acknowledged,
as Belfry's are), one transaction per publish request, in the handler.

    JWT_SECRET=... SERVICE_KEY=... [SQLITE_PATH=...] python server.py [port]
"""

import asyncio
import datetime
import json
import os
import secrets
import socket
import sqlite3
import sys

import jwt
import uvicorn
from sse_starlette.sse import EventSourceResponse, ServerSentEvent
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

SECRET = os.environ.get("JWT_SECRET")
SERVICE_KEY = os.environ.get("SERVICE_KEY")
if not SECRET or not SERVICE_KEY:
    sys.exit("peer: JWT_SECRET and SERVICE_KEY must be set")

streams: dict[str, set[asyncio.Queue]] = {}
stored: list[dict] = []


def open_store(path):
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    db.execute(
        """CREATE TABLE IF NOT EXISTS notifications (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, user_id TEXT NOT NULL,
        message TEXT NOT NULL, link TEXT, read_at TEXT, created_at TEXT NOT NULL)"""
    )
    return db


store = open_store(os.environ["SQLITE_PATH"]) if os.environ.get("SQLITE_PATH") else None


def save(rows):
    with store:
        store.execute("BEGIN")
        store.executemany(
            "INSERT INTO notifications (id, user_id, message, link, created_at) VALUES (?, ?, ?, ?, ?)",
            [(n["_id"], n["user_id"], n["message"], n["link"], n["created_at"]) for n in rows],
        )


async def stream(request):
    try:
        claims = jwt.decode(request.query_params.get("token", ""), SECRET, algorithms=["HS256"])
        user = str(claims["sub"])
    except (jwt.PyJWTError, KeyError):
        return JSONResponse({"error": "unauthorized", "message": "invalid token"}, 401)
    queue: asyncio.Queue = asyncio.Queue()
    streams.setdefault(user, set()).add(queue)

    async def events():
        try:
            yield ServerSentEvent(retry=3000)
            while True:
                notification = await queue.get()
                yield ServerSentEvent(
                    data=json.dumps(notification),
                    event="new-notification",
                    id=notification["_id"],
                )
        finally:
            queues = streams.get(user)
            if queues is not None:
                queues.discard(queue)
                if not queues:
                    del streams[user]

    return EventSourceResponse(
        events(), ping=15, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )


async def publish(request):
    if request.headers.get("authorization") != f"Bearer {SERVICE_KEY}":
        return JSONResponse({"error": "unauthorized", "message": "service key required"}, 401)
    body = await request.json()
    users = body.get("user_ids") or ([body["user_id"]] if "user_id" in body else [])
    message = body.get("message")
    if not isinstance(message, str) or not 1 <= len(users) <= 1000:
        return JSONResponse({"error": "invalid", "message": "message and 1-1000 users required"}, 422)
    created = []
    for user in dict.fromkeys(str(u) for u in users):
        notification = {
            "_id": secrets.token_hex(12),
            "user_id": user,
            "message": message,
            "link": body.get("link"),
            "read_at": None,
            "created_at": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        }
        created.append(notification)
    if store is not None:
        try:
            save(created)
        except sqlite3.Error as err:
            return JSONResponse({"error": "unavailable", "message": str(err)}, 503)
    else:
        stored.extend(created)
    for notification in created:
        for queue in streams.get(notification["user_id"], ()):
            queue.put_nowait(notification)
    return JSONResponse(created, 201)


app = Starlette(
    routes=[
        Route("/notifications/stream", stream),
        Route("/api/notifications", publish, methods=["POST"]),
    ]
)

if __name__ == "__main__":
    listener = socket.socket()
    listener.bind(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0))
    # Listening before saying so: connections made from then on wait in the backlog until
    # uvicorn accepts them, instead of being refused.
    listener.listen(4096)
    print(f"listening on http://127.0.0.1:{listener.getsockname()[1]}", flush=True)
    config = uvicorn.Config(app, log_level="warning", backlog=4096, timeout_keep_alive=65)
    uvicorn.Server(config).run(sockets=[listener])
