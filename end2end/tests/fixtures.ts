// What every journey stands on: a fresh belfry server per test (its own port and database, known
// secrets), on the store the Playwright project names (sqlite or mongo), and a second site (the
// "host application") on another origin that embeds the bell and mints tokens.
//
// The binary and the built site come from the environment the test command sets (BELFRY_BIN,
// LEPTOS_SITE_ROOT; BELFRY_TEST_MONGODB_URI for the mongo project), with the default layout as
// the fallback.
import { test as base, expect } from "@playwright/test";
import { spawn, spawnSync, ChildProcess } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer, Server } from "node:http";
import { AddressInfo, createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";

export const JWT_SECRET = "e2e-secret";
export const SERVICE_KEY = "e2e-service-key";
/** The Pusher app every server stands in for (its HTTP API's routes, for Laravel's broadcasts). */
export const PUSHER = { appId: "e2e", key: "e2e-pusher-key", secret: "e2e-pusher-secret" };

const repo = path.resolve(__dirname, "..", "..");
const bin = process.env.BELFRY_BIN ?? path.join(repo, "target", "debug", "belfry");
const siteRoot = process.env.LEPTOS_SITE_ROOT ?? path.join(repo, "target", "site");
const python = process.env.BELFRY_TEST_PYTHON ?? path.join(repo, ".venv", "bin", "python");

export type Store = "sqlite" | "mongo";

export function signToken(userId: string, ttlSecs = 600): string {
  const encode = (data: object) => Buffer.from(JSON.stringify(data)).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  const unsigned = `${encode({ alg: "HS256", typ: "JWT" })}.${encode({ sub: userId, iat: now, exp: now + ttlSecs })}`;
  return `${unsigned}.${createHmac("sha256", JWT_SECRET).update(unsigned).digest("base64url")}`;
}

export async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export class Belfry {
  url: string;
  private child?: ChildProcess;

  constructor(
    readonly store: Store,
    readonly database: string,
    private readonly port: number,
    private readonly allowedOrigin: string,
  ) {
    this.url = `http://127.0.0.1:${port}`;
  }

  /** Starts `belfry serve` and resolves once it listens. */
  async start(): Promise<void> {
    const child = spawn(
      bin,
      [
        "serve",
        "--addr", `127.0.0.1:${this.port}`,
        "--database", this.database,
        "--jwt-secret", JWT_SECRET,
        "--service-key", SERVICE_KEY,
        "--site-root", siteRoot,
        "--allowed-origins", this.allowedOrigin,
        "--pusher-app-id", PUSHER.appId,
        "--pusher-key", PUSHER.key,
        "--pusher-secret", PUSHER.secret,
      ],
      { env: { ...process.env, RUST_LOG: "info", NO_COLOR: "1" }, stdio: ["ignore", "ignore", "pipe"] },
    );
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      let log = "";
      const timer = setTimeout(() => reject(new Error(`belfry did not start:\n${log}`)), 20_000);
      child.on("exit", (code) => reject(new Error(`belfry exited with ${code}:\n${log}`)));
      child.stderr!.on("data", (chunk: Buffer) => {
        log += chunk.toString();
        if (log.includes("listening on")) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  }

  /** SIGKILL, as a crash would. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
  }

  stop(): void {
    this.child?.kill("SIGTERM");
  }

  /** SIGTERM, as a service manager stops it, and waits until it has exited. */
  async stopAndWait(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
  }

  token(userId: string, ttlSecs?: number): string {
    return signToken(userId, ttlSecs);
  }

  publish(body: object): Promise<Response> {
    return fetch(`${this.url}/api/notifications`, {
      method: "POST",
      headers: { Authorization: `Bearer ${SERVICE_KEY}`, "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
  }

  /** Writes straight into the database, as another program would (`belfry send`). */
  send(userId: string, message: string): void {
    const sent = spawnSync(bin, ["send", "--database", this.database, "--user", userId, "--message", message]);
    if (sent.status !== 0) throw new Error(`belfry send failed: ${sent.stderr}`);
  }

  /** Deletes a notification straight in the database, as the host application would. */
  deleteDirectly(id: string): void {
    const script =
      this.store === "sqlite"
        ? [
            "import sys, sqlite3",
            "db = sqlite3.connect(sys.argv[1].removeprefix('sqlite://'))",
            "db.execute('DELETE FROM notifications WHERE id = ?', (sys.argv[2],))",
            "db.commit()",
          ]
        : [
            "import sys, pymongo, bson",
            "db = pymongo.MongoClient(sys.argv[1]).get_default_database()",
            "db.notifications.delete_one({'_id': bson.ObjectId(sys.argv[2])})",
          ];
    const deleted = spawnSync(python, ["-c", script.join("\n"), this.database, id]);
    if (deleted.status !== 0) throw new Error(`delete failed: ${deleted.stderr}`);
  }

  /** Inserts a document into the MongoDB collection as the Laravel app does (integer user_id). */
  insertAsLaravel(userId: number, message: string, createdAt?: string): void {
    const script = [
      "import sys, datetime, pymongo",
      "uri, user, message, at = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]",
      "db = pymongo.MongoClient(uri).get_default_database()",
      "now = datetime.datetime.fromisoformat(at) if at else datetime.datetime.now(datetime.timezone.utc)",
      "db.notifications.insert_one({'user_id': user, 'message': message, 'link': None, 'created_at': now, 'updated_at': now})",
    ].join("\n");
    const args = ["-c", script, this.database, String(userId), message, createdAt ?? ""];
    const inserted = spawnSync(python, args);
    if (inserted.status !== 0) throw new Error(`insert failed: ${inserted.stderr}`);
  }
}

/** Another site: the host application's pages, on another origin. */
export interface HostSite {
  /** Belfry allows this origin (CORS). */
  allowedOrigin: string;
  /** The same site under an origin Belfry does not allow. */
  otherOrigin: string;
  /** How many tokens its token URL (`/token?user=ID&ttl=SECS`) has minted. */
  tokensMinted(): number;
}

export async function startHostSite(): Promise<{ server: Server; site: HostSite }> {
  const examples = path.join(repo, "examples");
  const pages = new Map(
    readdirSync(examples)
      .filter((name) => name.endsWith(".html"))
      .map((name) => [`/${name}`, readFileSync(path.join(examples, name))]),
  );
  let minted = 0;
  let port = 0;
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://host");
    if (url.pathname === "/token") {
      // What a host application's token endpoint does for its signed-in user.
      minted += 1;
      response.writeHead(200, { "Content-Type": "application/json" });
      response.end(JSON.stringify({ token: signToken(url.searchParams.get("user") ?? "", Number(url.searchParams.get("ttl") ?? 600)) }));
      return;
    }
    // examples/avatars/NAME.svg: the avatars a host's notifications point at.
    const avatar = url.pathname.match(/^\/avatars\/([a-z]+\.svg)$/);
    if (avatar) {
      response.writeHead(200, { "Content-Type": "image/svg+xml" });
      response.end(readFileSync(path.join(examples, "avatars", avatar[1])));
      return;
    }
    // examples/NAME.html at /NAME.html; embed.html for any other path.
    response.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
    response.end(pages.get(url.pathname) ?? pages.get("/embed.html"));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
  return {
    server,
    site: {
      allowedOrigin: `http://127.0.0.1:${port}`,
      otherOrigin: `http://localhost:${port}`,
      tokensMinted: () => minted,
    },
  };
}

function databaseFor(store: Store, dir: string): string {
  if (store === "sqlite") return `sqlite://${path.join(dir, "belfry.db")}`;
  const base = process.env.BELFRY_TEST_MONGODB_URI;
  if (!base) throw new Error("BELFRY_TEST_MONGODB_URI is not set: run scripts/test.sh, which starts SecantusDB");
  return `${base.replace(/\/+$/, "")}/belfry_e2e_${randomBytes(6).toString("hex")}`;
}

export const test = base.extend<{ store: Store; host: HostSite; belfry: Belfry }>({
  store: ["sqlite", { option: true }],
  host: async ({}, use) => {
    const { server, site } = await startHostSite();
    await use(site);
    server.close();
  },
  belfry: async ({ store, host }, use) => {
    const dir = mkdtempSync(path.join(tmpdir(), "belfry-e2e-"));
    const belfry = new Belfry(store, databaseFor(store, dir), await freePort(), host.allowedOrigin);
    await belfry.start();
    await use(belfry);
    belfry.stop();
    rmSync(dir, { recursive: true, force: true });
  },
});

/** `belfry_open_streams` from a server's /metrics. */
export async function openStreams(server: Pick<Belfry, "url">): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith("belfry_open_streams "));
  return Number(line?.split(" ")[1] ?? NaN);
}

/** Signs `userId` in on `belfry` for the page's browser context (the `belfry_token` cookie). */
export async function signIn(
  context: import("@playwright/test").BrowserContext,
  belfry: Pick<Belfry, "url" | "token">,
  userId: string,
) {
  await context.addCookies([{ name: "belfry_token", value: belfry.token(userId), url: belfry.url }]);
}

/** Opens `/` and waits until the bell is hydrated (it reacts to a click). */
export async function openApp(page: import("@playwright/test").Page, belfry: Pick<Belfry, "url">) {
  await page.goto(belfry.url);
  const bell = page.getByRole("button", { name: /^Notifications, / });
  await expect(async () => {
    if ((await bell.getAttribute("aria-expanded")) !== "true") await bell.click();
    await expect(bell).toHaveAttribute("aria-expanded", "true", { timeout: 500 });
  }).toPass({ timeout: 15_000 });
  return bell;
}

export { expect };
