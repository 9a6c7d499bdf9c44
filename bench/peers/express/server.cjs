// The usual Express examples of cookies, sessions and JWT (bench/peers/README.md), written
// from their specification, in one node process, for `make bench` to measure beside
// authdemo. Test-only code: never deployed. The examples hard-code their secrets; here they
// come from the environment (the benchmark passes random ones), the code is otherwise theirs.
"use strict";

const crypto = require("node:crypto");
const express = require("express");
const session = require("express-session");
const { RedisStore } = require("connect-redis");
const { createClient } = require("redis");
const jwt = require("jsonwebtoken");

const { PORT, REDIS_URL, SESSION_SECRET, JWT_SECRET } = process.env;
if (!PORT || !REDIS_URL || !SESSION_SECRET || !JWT_SECRET) {
  console.error("express peer: set PORT, REDIS_URL, SESSION_SECRET and JWT_SECRET");
  process.exit(2);
}

// What the benchmark reads after each run: requests served and Redis commands sent.
const counts = { requests: 0, sql: 0, redis: 0 };
const redis = createClient({ url: REDIS_URL });
for (const name of ["get", "set", "expire", "del", "mGet"]) {
  const original = redis[name].bind(redis);
  redis[name] = (...args) => {
    counts.redis += 1;
    return original(...args);
  };
}

const app = express();
app.disable("x-powered-by");
app.get("/__bench__/counters", (req, res) => res.json(counts));
app.use((req, res, next) => {
  res.on("finish", () => { counts.requests += 1; });
  next();
});

// Baseline: not in the examples.
app.get("/ping", (req, res) => res.json({ status: "ok" }));

// Cookie example.
app.get("/set-cookie", (req, res) => {
  res.cookie("user", "john_doe", { maxAge: 900000, httpOnly: true });
  res.send("Cookie has been set");
});

// JWT example: the raw Authorization header is the token; a string secret, as the example has it
// (jsonwebtoken re-parses it into a key on every verify), and the same secret parsed once into a
// KeyObject. Before the session routes: their middleware would otherwise start, and store in
// Redis, a session for every token request too (the examples are separate servers).
const secretKey = crypto.createSecretKey(Buffer.from(JWT_SECRET));
app.post("/login", (req, res) => {
  const token = jwt.sign({ id: 123, username: "Bob" }, JWT_SECRET, { expiresIn: "1h" });
  res.json({ token });
});
function dashboard(secret) {
  return (req, res) => {
    const token = req.headers.authorization;
    if (!token) return res.sendStatus(403);
    jwt.verify(token, secret, (err, decoded) => {
      if (err) return res.sendStatus(403);
      res.json({ message: `Access granted to ${decoded.username}`, data: decoded });
    });
  };
}
app.get("/dashboard", dashboard(JWT_SECRET));
app.get("/dashboard-key", dashboard(secretKey));

// Session example: the example's memory store under /memory, the Redis store a deployment uses.
function sessionRoutes(store, name) {
  const router = express.Router();
  router.use(session({ secret: SESSION_SECRET, name, store, resave: false, saveUninitialized: true,
    cookie: { secure: false } }));
  router.get("/login", (req, res) => {
    req.session.userId = 123;
    req.session.username = "Alice";
    res.send("Logged in");
  });
  router.get("/profile", (req, res) => {
    if (req.session.userId) {
      res.send(`Welcome back, ${req.session.username}`);
    } else {
      res.status(401).send("Please log in first");
    }
  });
  return router;
}
app.use("/memory", sessionRoutes(undefined, "memory.sid"));
app.use(sessionRoutes(new RedisStore({ client: redis, prefix: "express-peer:" }), "connect.sid"));

redis.connect().then(() => {
  app.listen(Number(PORT), "127.0.0.1", () => console.log(`express peer on 127.0.0.1:${PORT}`));
});
