// A fresh belfry server per test: its own port, its own SQLite file in a temporary directory,
// known secrets. The binary and the built site come from the environment the test command sets
// (BELFRY_BIN, LEPTOS_SITE_ROOT), with the default cargo-leptos layout as the fallback.
import { test as base } from "@playwright/test";
import { spawn, ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, Server } from "node:http";
import { AddressInfo } from "node:net";
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

/** Another site: serves examples/embed.html, as a host application's page would. */
async function startHostSite(): Promise<{ server: Server; port: number }> {
  const page = readFileSync(path.join(repo, "examples", "embed.html"));
  const server = createServer((_, response) => {
    response.writeHead(200, { "Content-Type": "text/html" });
    response.end(page);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

/** Starts belfry on port 0 and resolves once it prints the address it listens on. */
async function startBelfry(dbDir: string, allowedOrigin: string): Promise<Belfry> {
  const child = spawn(
    bin,
    [
      "serve",
      "--addr", "127.0.0.1:0",
      "--database", `sqlite://${path.join(dbDir, "belfry.db")}`,
      "--jwt-secret", JWT_SECRET,
      "--service-key", SERVICE_KEY,
      "--site-root", siteRoot,
      "--allowed-origins", allowedOrigin,
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

export interface HostSite {
  /** The host page's origin, which belfry allows (CORS). */
  allowedOrigin: string;
  /** The same page under an origin belfry does not allow. */
  otherOrigin: string;
}

export const test = base.extend<{ host: HostSite; belfry: Belfry }>({
  host: async ({}, use) => {
    const { server, port } = await startHostSite();
    await use({
      allowedOrigin: `http://127.0.0.1:${port}`,
      otherOrigin: `http://localhost:${port}`,
    });
    server.close();
  },
  belfry: async ({ host }, use) => {
    const dbDir = mkdtempSync(path.join(tmpdir(), "belfry-e2e-"));
    const belfry = await startBelfry(dbDir, host.allowedOrigin);
    await use(belfry);
    belfry.process.kill("SIGTERM");
    rmSync(dbDir, { recursive: true, force: true });
  },
});

export { expect } from "@playwright/test";
