// The deployment of docs/DEPLOY.md, as users run it: nginx (Debian's package) in front of two
// Belfry instances on one MongoDB, TLS with a certificate made here, HTTP/2 to the browser, the
// configuration file deploy/nginx.conf itself (with this test's ports and paths put in).
// Tagged @mongo: it runs in the mongo project, on SecantusDB.
import { test as base, expect, Belfry, freePort, openApp, openStreams, signIn, signToken, startHostSite } from "./fixtures";
import type { HostSite } from "./fixtures";
import type { BrowserContext, Page } from "@playwright/test";
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import http2 from "node:http2";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";

const repo = path.resolve(__dirname, "..", "..");
const nginxBin = process.env.NGINX ?? "/usr/sbin/nginx";

/** The documented deployment, running. */
class Deployment {
  readonly url: string;
  private nginx?: ChildProcess;

  constructor(
    readonly instances: [Belfry, Belfry],
    private readonly dir: string,
    private readonly port: number,
    private readonly ports: [number, number],
  ) {
    this.url = `https://127.0.0.1:${port}`;
  }

  /** Where nginx logs the requests, as deploy/nginx.conf says how. */
  get accessLog(): string {
    return path.join(this.dir, "access.log");
  }

  /** A certificate for 127.0.0.1, then nginx with deploy/nginx.conf. */
  async start(): Promise<void> {
    const cert = path.join(this.dir, "cert.pem");
    const key = path.join(this.dir, "key.pem");
    const made = spawnSync("openssl", [
      "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
      "-keyout", key, "-out", cert, "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
    ]);
    if (made.status !== 0) throw new Error(`openssl failed: ${made.stderr}`);

    // The documented file, with this test's values in place of the example's.
    const documented = readFileSync(path.join(repo, "deploy", "nginx.conf"), "utf8");
    const site = [
      ["127.0.0.1:3001", `127.0.0.1:${this.ports[0]}`],
      ["127.0.0.1:3002", `127.0.0.1:${this.ports[1]}`],
      ["listen 443 ", `listen 127.0.0.1:${this.port} `],
      ["/etc/belfry/tls/fullchain.pem", cert],
      ["/etc/belfry/tls/privkey.pem", key],
      ["/var/log/nginx/belfry.access.log", this.accessLog],
    ].reduce((text, [from, to]) => {
      if (!text.includes(from)) throw new Error(`deploy/nginx.conf no longer has ${from}`);
      return text.split(from).join(to);
    }, documented);
    writeFileSync(path.join(this.dir, "belfry.conf"), site);
    // What Debian's /etc/nginx/nginx.conf provides around it, with paths in this directory.
    const temp = (name: string) => `${name}_temp_path ${path.join(this.dir, name)};`;
    const main = `
      ${process.getuid?.() === 0 ? "user root root;" : ""}
      worker_processes 1;
      daemon off;
      pid ${path.join(this.dir, "nginx.pid")};
      error_log ${path.join(this.dir, "error.log")} warn;
      events { worker_connections 1024; }
      http {
        access_log off;
        ${temp("client_body")} ${temp("proxy")} ${temp("fastcgi")} ${temp("uwsgi")} ${temp("scgi")}
        include ${path.join(this.dir, "belfry.conf")};
      }`;
    const conf = path.join(this.dir, "nginx.conf");
    writeFileSync(conf, main);
    this.nginx = spawn(nginxBin, ["-p", this.dir, "-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
    let log = "";
    this.nginx.stderr!.on("data", (chunk: Buffer) => (log += chunk.toString()));
    await listening(this.port, () => log);
  }

  stop(): void {
    this.nginx?.kill("SIGTERM");
  }

  /** `belfry_open_streams` of each instance (asked directly: nginx keeps /metrics private). */
  openStreams(): Promise<number[]> {
    return Promise.all(this.instances.map(openStreams));
  }

  /** The streams of both instances together. */
  async streams(): Promise<number> {
    return (await this.openStreams()).reduce((a, b) => a + b);
  }
}

/** The status of a GET over HTTP/2 (ALPN "h2" only: fails if the server does not speak it). */
async function http2Status(origin: string, path: string): Promise<number> {
  const session = http2.connect(origin, { rejectUnauthorized: false });
  try {
    return await new Promise<number>((resolve, reject) => {
      session.on("error", reject);
      const request = session.request({ ":path": path });
      request.on("response", (headers) => resolve(Number(headers[":status"])));
      request.on("error", reject);
      request.resume();
      request.end();
    });
  } finally {
    session.close();
  }
}

/** Resolves once something accepts connections on `port`. */
async function listening(port: number, log: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = connect(port, "127.0.0.1", () => {
        socket.end();
        resolve(true);
      });
      socket.on("error", () => resolve(false));
    });
    if (up) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`nginx did not start:\n${log()}`);
}

const test = base.extend<{}, { deployment: Deployment; site: HostSite }>({
  site: [
    async ({}, use) => {
      const { server, site } = await startHostSite();
      await use(site);
      server.close();
    },
    { scope: "worker" },
  ],
  deployment: [
    async ({ site }, use) => {
      const base = process.env.BELFRY_TEST_MONGODB_URI;
      if (!base) throw new Error("BELFRY_TEST_MONGODB_URI is not set: run scripts/test.sh");
      const database = `${base.replace(/\/+$/, "")}/belfry_deploy_${randomBytes(6).toString("hex")}`;
      const ports: [number, number] = [await freePort(), await freePort()];
      const instances: [Belfry, Belfry] = [
        new Belfry("mongo", database, ports[0], site.allowedOrigin),
        new Belfry("mongo", database, ports[1], site.allowedOrigin),
      ];
      await Promise.all(instances.map((i) => i.start()));
      const dir = mkdtempSync(path.join(tmpdir(), "belfry-deploy-"));
      const deployment = new Deployment(instances, dir, await freePort(), ports);
      await deployment.start();
      await use(deployment);
      deployment.stop();
      await Promise.all(instances.map((i) => i.stopAndWait()));
      rmSync(dir, { recursive: true, force: true });
    },
    { scope: "worker" },
  ],
});

test.describe.configure({ mode: "serial" });

/** A browser context that trusts the test's certificate, signed in as `user` on the deployment. */
async function signedIn(browser: import("@playwright/test").Browser, deployment: Deployment, user: string) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  await signIn(context, { url: deployment.url, token: signToken }, user);
  return context;
}

function item(page: Page, message: string) {
  return page.getByRole("link", { name: new RegExp(message) });
}

test("deployment: the SSR page over HTTPS and HTTP/2, health through nginx, a live push in 12 tabs of one user @mongo", async ({ browser, deployment }) => {
  test.setTimeout(120_000);
  const context = await signedIn(browser, deployment, "21");
  const health = await context.request.get(`${deployment.url}/healthz`);
  expect(health.status()).toBe(200);
  expect((await context.request.get(`${deployment.url}/metrics`)).status()).toBe(404);

  const tabs: Page[] = [];
  for (let i = 0; i < 12; i++) {
    const tab = await context.newPage();
    await openApp(tab, deployment);
    tabs.push(tab);
  }
  const protocol = await tabs[0].evaluate(
    () => (performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming).nextHopProtocol,
  );
  expect(protocol).toBe("h2");
  // One browser, one stream, whichever instance holds it.
  await expect.poll(() => deployment.streams()).toBe(1);

  const response = await deployment.instances[1].publish({ user_id: "21", message: "Through nginx" });
  expect(response.status).toBe(201);
  for (const tab of tabs) {
    await expect(item(tab, "Through nginx")).toHaveCount(1, { timeout: 15_000 });
  }
  await context.close();
});

test("deployment: the embed over HTTPS and HTTP/2 on another site gets a push @mongo", async ({ browser, deployment, site }) => {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  const script = page.waitForResponse((r) => r.url().endsWith("/embed.js"));
  await page.goto(`${site.allowedOrigin}/embed.html?server=${deployment.url}&token=${signToken("22")}`);
  const bell = page.getByRole("button", { name: /Notifications/ });
  await expect(bell).toHaveAccessibleName("Notifications, none unread", { timeout: 15_000 });
  // (A cross-origin resource's timing hides its protocol: the TLS from the browser's side, HTTP/2
  // by asking the server as the browser does, with ALPN.)
  expect((await (await script).securityDetails())?.protocol).toMatch(/^TLS/);
  expect(await http2Status(deployment.url, "/embed.js")).toBe(200);
  await deployment.instances[0].publish({ user_id: "22", message: "Embedded, through nginx" });
  await expect(bell).toHaveAccessibleName("Notifications, 1 unread", { timeout: 15_000 });
  await bell.click();
  await expect(item(page, "Embedded, through nginx")).toHaveCount(1);
  await context.close();
  // The embed's stream URL carried its token (`?token=`): logged without it (SECURITY.md).
  // (nginx writes a request's line when it ends: the stream's, once the context closed it.)
  const logged = () => (existsSync(deployment.accessLog) ? readFileSync(deployment.accessLog, "utf8") : "");
  await expect.poll(logged, { timeout: 15_000 }).toContain("GET /notifications/stream ");
  expect(logged()).not.toContain("token=");
});

test("deployment: Mark all read in one browser reaches a browser whose stream the other instance holds @mongo", async ({ browser, deployment }) => {
  test.setTimeout(120_000);
  await deployment.instances[0].publish({ user_ids: ["23"], message: "Read across instances" });
  const first = await signedIn(browser, deployment, "23");
  const firstTab = await first.newPage();
  const firstBell = await openApp(firstTab, deployment);
  await expect(firstBell).toHaveAccessibleName("Notifications, 1 unread");
  await expect.poll(() => deployment.streams()).toBe(1);
  const holder = (await deployment.openStreams()).findIndex((n) => n === 1);

  // nginx spreads requests over both instances: open browsers until one's stream is on the other.
  let second: BrowserContext | undefined;
  let secondTab: Page | undefined;
  for (let attempt = 0; attempt < 10 && !secondTab; attempt++) {
    const context = await signedIn(browser, deployment, "23");
    const tab = await context.newPage();
    await openApp(tab, deployment);
    await expect.poll(() => deployment.streams()).toBe(2);
    if ((await deployment.openStreams())[1 - holder] === 1) {
      second = context;
      secondTab = tab;
    } else {
      await context.close();
      await expect.poll(() => deployment.streams()).toBe(1);
    }
  }
  expect(secondTab, "no browser's stream landed on the other instance in 10 tries").toBeDefined();
  const secondBell = secondTab!.getByRole("button", { name: /^Notifications, / });
  await expect(secondBell).toHaveAccessibleName("Notifications, 1 unread");

  await firstTab.getByRole("button", { name: "Mark all read" }).click();
  await expect(firstBell).toHaveAccessibleName("Notifications, none unread");
  await expect(secondBell).toHaveAccessibleName("Notifications, none unread", { timeout: 15_000 });
  await first.close();
  await second!.close();
});

test("deployment: a rolling restart, one instance at a time, while a tab stays live; nothing lost or doubled @mongo", async ({ browser, deployment }) => {
  test.setTimeout(120_000);
  const context = await signedIn(browser, deployment, "24");
  const tab = await context.newPage();
  const bell = await openApp(tab, deployment);
  const [one, two] = deployment.instances;

  await one.stopAndWait();
  await two.publish({ user_id: "24", message: "While the first restarts" });
  await one.start();
  await expect(item(tab, "While the first restarts")).toHaveCount(1, { timeout: 20_000 });

  await two.stopAndWait();
  await one.publish({ user_id: "24", message: "While the second restarts" });
  await two.start();
  await expect(item(tab, "While the second restarts")).toHaveCount(1, { timeout: 20_000 });

  await two.publish({ user_id: "24", message: "After the restart" });
  await expect(item(tab, "After the restart")).toHaveCount(1, { timeout: 15_000 });
  await expect(bell).toHaveAccessibleName("Notifications, 3 unread");
  await expect(tab.locator(".belfry-bell__link")).toHaveCount(3);
  await context.close();
});

test("deployment: the systemd unit passes systemd-analyze verify @mongo", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "belfry-unit-"));
  const bin = process.env.BELFRY_BIN ?? path.join(repo, "target", "debug", "belfry");
  const unit = readFileSync(path.join(repo, "deploy", "belfry@.service"), "utf8")
    .split("/usr/local/bin/belfry")
    .join(bin)
    .split("/etc/belfry/belfry.env")
    .join(path.join(dir, "belfry.env"));
  writeFileSync(path.join(dir, "belfry.env"), "BELFRY_JWT_SECRET=x\n");
  writeFileSync(path.join(dir, "belfry@3001.service"), unit);
  const verified = spawnSync("systemd-analyze", ["verify", path.join(dir, "belfry@3001.service")], { encoding: "utf8" });
  rmSync(dir, { recursive: true, force: true });
  expect(verified.stderr + verified.stdout).toBe("");
  expect(verified.status).toBe(0);
});
