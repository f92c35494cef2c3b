// The stream-and-publish part of Belfry's contract on Node.js, written the way a team would with
// express + better-sse + jsonwebtoken: the peer Belfry is benchmarked against. Notifications are
// kept in memory (no database), so the peer does strictly less work per publish than Belfry.
//   JWT_SECRET=… SERVICE_KEY=… node server.js [port]
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
  for (const notification of created) {
    stored.push(notification);
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
