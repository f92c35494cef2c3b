// The stream-and-publish part of Belfry's contract on Node.js, written the way a team would with
// express + better-sse + jsonwebtoken: the peer Belfry is benchmarked against. Notifications are
// kept in memory, or, with SQLITE_PATH set, also written to SQLite (better-sqlite3, WAL,
// synchronous=FULL: on disk before the publish is acknowledged, as Belfry's are), one
// transaction per publish request, synchronously in the handler as better-sqlite3 is used.
//   JWT_SECRET=… SERVICE_KEY=… [SQLITE_PATH=…] node server.js [port]
"use strict";

const crypto = require("node:crypto");
const express = require("express");
const jwt = require("jsonwebtoken");
const { createSession } = require("better-sse");

const secret = process.env.JWT_SECRET;
const serviceKey = process.env.SERVICE_KEY;
if (!secret || !serviceKey) {
  console.error("peer: JWT_SECRET and SERVICE_KEY must be set");
  process.exit(1);
}

const streams = new Map(); // user id -> Set of sessions
const stored = [];
const store = process.env.SQLITE_PATH ? openStore(process.env.SQLITE_PATH) : null;

function openStore(path) {
  const Database = require("better-sqlite3");
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.exec(`CREATE TABLE IF NOT EXISTS notifications (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, user_id TEXT NOT NULL,
    message TEXT NOT NULL, link TEXT, read_at TEXT, created_at TEXT NOT NULL)`);
  const insert = db.prepare(
    "INSERT INTO notifications (id, user_id, message, link, created_at) VALUES (?, ?, ?, ?, ?)",
  );
  return db.transaction((rows) => {
    for (const n of rows) insert.run(n._id, n.user_id, n.message, n.link, n.created_at);
  });
}

const app = express();
app.use(express.json({ limit: "64kb" }));

app.get("/notifications/stream", async (req, res) => {
  let user;
  try {
    user = String(jwt.verify(String(req.query.token ?? ""), secret, { algorithms: ["HS256"] }).sub);
  } catch {
    return res.status(401).json({ error: "unauthorized", message: "invalid token" });
  }
  const session = await createSession(req, res, {
    retry: 3000,
    keepAlive: 15000,
    headers: { "Cache-Control": "no-cache", "X-Accel-Buffering": "no" },
  });
  let sessions = streams.get(user);
  if (!sessions) streams.set(user, (sessions = new Set()));
  sessions.add(session);
  session.on("disconnected", () => {
    sessions.delete(session);
    if (sessions.size === 0 && streams.get(user) === sessions) streams.delete(user);
  });
});

app.post("/api/notifications", (req, res) => {
  if (req.get("authorization") !== `Bearer ${serviceKey}`) {
    return res.status(401).json({ error: "unauthorized", message: "service key required" });
  }
  const { user_id, user_ids, message, link = null } = req.body ?? {};
  const users = user_ids ?? (user_id === undefined ? [] : [user_id]);
  if (typeof message !== "string" || users.length === 0 || users.length > 1000) {
    return res.status(422).json({ error: "invalid", message: "message and 1-1000 users required" });
  }
  const created = [...new Set(users.map(String))].map((user) => ({
    _id: crypto.randomBytes(12).toString("hex"),
    user_id: user,
    message,
    link,
    read_at: null,
    created_at: new Date().toISOString(),
  }));
  if (store) {
    try {
      store(created);
    } catch (err) {
      return res.status(503).json({ error: "unavailable", message: String(err) });
    }
  }
  for (const notification of created) {
    if (!store) stored.push(notification);
    for (const session of streams.get(notification.user_id) ?? []) {
      session.push(notification, "new-notification", notification._id);
    }
  }
  res.status(201).json(created);
});

// The same accept backlog as Belfry and the Python peer.
const server = app.listen(Number(process.argv[2] ?? 0), "127.0.0.1", 4096, () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
server.keepAliveTimeout = 65000;
server.headersTimeout = 66000;
server.requestTimeout = 0;
