// A fresh belfry server per test: its own port, its own SQLite file in a temporary directory,
// known secrets. The binary and the built site come from the environment the test command sets
// (BELFRY_BIN, LEPTOS_SITE_ROOT), with the default cargo-leptos layout as the fallback.
import { test as base } from "@playwright/test";
import { spawn, ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createHmac } from "node:crypto";

export const JWT_SECRET = "e2e-secret";
export const SERVICE_KEY = "e2e-service-key";

const repo = path.resolve(__dirname, "..", "..");
const bin = process.env.BELFRY_BIN ?? path.join(repo, "target", "debug", "belfry");
const siteRoot = process.env.LEPTOS_SITE_ROOT ?? path.join(repo, "target", "site");

export interface Belfry {
  url: string;
  process: ChildProcess;
  /** A signed user token, as a host application would mint it. */
  token(userId: string, ttlSecs?: number): string;
  /** Publishes through the API with the service key. */
  publish(body: object): Promise<Response>;
}

function base64url(data: string | Buffer): string {
  return Buffer.from(data).toString("base64url");
}

export function signToken(userId: string, ttlSecs = 600): string {
  const header = base64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const now = Math.floor(Date.now() / 1000);
  const claims = base64url(JSON.stringify({ sub: userId, iat: now, exp: now + ttlSecs }));
  const signature = createHmac("sha256", JWT_SECRET).update(`${header}.${claims}`).digest("base64url");
  return `${header}.${claims}.${signature}`;
}

/** Starts belfry on port 0 and resolves once it prints the address it listens on. */
async function startBelfry(dbDir: string): Promise<Belfry> {
  const child = spawn(
    bin,
    [
      "serve",
      "--addr", "127.0.0.1:0",
      "--database", `sqlite://${path.join(dbDir, "belfry.db")}`,
      "--jwt-secret", JWT_SECRET,
      "--service-key", SERVICE_KEY,
      "--site-root", siteRoot,
    ],
    { env: { ...process.env, RUST_LOG: "info", NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] },
  );
  const url = await new Promise<string>((resolve, reject) => {
    let log = "";
    const timer = setTimeout(() => reject(new Error(`belfry did not start:\n${log}`)), 20_000);
    child.on("exit", (code) => reject(new Error(`belfry exited with ${code}:\n${log}`)));
    child.stderr!.on("data", (chunk: Buffer) => {
      log += chunk.toString();
      const match = /listening on (http:\/\/[\d.:]+)/.exec(log);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
  });
  return {
    url,
    process: child,
    token: signToken,
    publish: (body) =>
      fetch(`${url}/api/notifications`, {
        method: "POST",
        headers: { Authorization: `Bearer ${SERVICE_KEY}`, "Content-Type": "application/json" },
        body: JSON.stringify(body),
      }),
  };
}

export const test = base.extend<{ belfry: Belfry }>({
  belfry: async ({}, use) => {
    const dbDir = mkdtempSync(path.join(tmpdir(), "belfry-e2e-"));
    const belfry = await startBelfry(dbDir);
    await use(belfry);
    belfry.process.kill("SIGTERM");
    rmSync(dbDir, { recursive: true, force: true });
  },
});

export { expect } from "@playwright/test";
