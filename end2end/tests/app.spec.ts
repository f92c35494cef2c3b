// The full-stack app's journeys. Tagged @both: run on SQLite and on MongoDB.
import Pusher from "pusher";
import { test, expect, openApp, signIn, PUSHER } from "./fixtures";

test("SSR: the bell and the latest notifications are in the HTML; after hydration a click opens it @both", async ({ page, context, belfry }) => {
  const errors: string[] = [];
  page.on("pageerror", (err) => errors.push(err.message));
  await belfry.publish({ user_id: "1", message: "Rendered by the server", link: "/orders/7" });
  await signIn(context, belfry, "1");

  const response = await page.goto(belfry.url);
  const html = await response!.text();
  expect(html).toContain("Rendered by the server");
  expect(html).toContain('aria-label="Notifications, 1 unread"');

  await openApp(page, belfry);
  await expect(page.getByRole("link", { name: /Rendered by the server/ })).toBeVisible();
  expect(errors).toEqual([]);
});

test("live: a published notification appears at the top and the badge goes up, without a reload @both", async ({ page, context, belfry }) => {
  await belfry.publish({ user_id: "1", message: "Already there" });
  await signIn(context, belfry, "1");
  const bell = await openApp(page, belfry);
  await page.evaluate(() => ((window as any).sameDocument = true));

  await belfry.publish({ user_id: "1", message: "Pushed live" });
  await expect(page.locator(".belfry-bell__link").first()).toContainText("Pushed live");
  await expect(bell).toHaveAccessibleName("Notifications, 2 unread");
  expect(await page.evaluate(() => (window as any).sameDocument)).toBe(true);

  await page.setViewportSize({ width: 900, height: 420 });
  await page.screenshot({ path: "screenshots/bell.png" });
});

test("external writer: a document the Laravel app inserts (integer user_id) appears live @mongo", async ({ page, context, belfry }) => {
  await signIn(context, belfry, "42");
  const bell = await openApp(page, belfry);
  belfry.insertAsLaravel(42, "Inserted by Laravel");
  await expect(page.locator(".belfry-bell__link").first()).toContainText("Inserted by Laravel");
  await expect(bell).toHaveAccessibleName("Notifications, 1 unread");
});

test("broadcast: a notification Laravel broadcasts with the official Pusher client appears live @both", async ({ page, context, belfry }) => {
  await signIn(context, belfry, "1");
  const bell = await openApp(page, belfry);
  const url = new URL(belfry.url);
  const pusher = new Pusher({ ...PUSHER, host: url.hostname, port: url.port, useTLS: false });
  await pusher.trigger("private-App.Models.User.1", "Illuminate\\Notifications\\Events\\BroadcastNotificationCreated", {
    message: "Broadcast by Laravel",
    url: "/invoices/7",
    id: "0f4e8a2b-3c5d-4e6f-8a9b-0c1d2e3f4a5b",
    type: "App\\Notifications\\InvoicePaid",
  });
  await expect(page.locator(".belfry-bell__link").first()).toContainText("Broadcast by Laravel");
  await expect(bell).toHaveAccessibleName("Notifications, 1 unread");
});

test("refresh: with the stream cut, a new notification shows after Refresh, once @both", async ({ page, context, belfry }) => {
  await page.route("**/notifications/stream**", (route) => route.abort());
  await signIn(context, belfry, "1");
  await openApp(page, belfry);
  await belfry.publish({ user_id: "1", message: "Missed by the cut stream" });
  await page.getByRole("button", { name: "Refresh" }).click();
  await expect(page.getByRole("link", { name: /Missed by the cut stream/ })).toHaveCount(1);
  await page.getByRole("button", { name: "Refresh" }).click();
  await expect(page.getByRole("link", { name: /Missed by the cut stream/ })).toHaveCount(1);
});

test("read state: an item click marks it read and follows its link; mark all read; a second tab follows @both", async ({ context, belfry }) => {
  await signIn(context, belfry, "1");
  const [tabA, tabB] = [await context.newPage(), await context.newPage()];
  await openApp(tabA, belfry);
  const bellB = await openApp(tabB, belfry);
  await belfry.publish({ user_id: "1", message: "Second", link: "/?from=second" });
  await belfry.publish({ user_id: "1", message: "Latest", link: "/?followed=1" });
  await expect(bellB).toHaveAccessibleName("Notifications, 2 unread");

  await tabA.getByRole("link", { name: /Latest/ }).click();
  await expect(tabA).toHaveURL(/followed=1/);
  await expect(bellB).toHaveAccessibleName("Notifications, 1 unread");

  const bellA = await openApp(tabA, belfry);
  await expect(bellA).toHaveAccessibleName("Notifications, 1 unread");
  await tabB.getByRole("button", { name: "Mark all read" }).click();
  await expect(bellB).toHaveAccessibleName("Notifications, none unread");
  await expect(bellA).toHaveAccessibleName("Notifications, none unread");
});

test("resilience: the server is killed and restarted; what was written meanwhile appears, once each @both", async ({ page, context, belfry }) => {
  await signIn(context, belfry, "1");
  await openApp(page, belfry);
  await belfry.publish({ user_id: "1", message: "Before the crash" });
  await expect(page.locator(".belfry-bell__link").first()).toContainText("Before the crash");

  await belfry.kill();
  belfry.send("1", "Written while down 1");
  belfry.send("1", "Written while down 2");
  await belfry.start();

  const items = page.locator(".belfry-bell__link");
  await expect(items.filter({ hasText: "Written while down 2" })).toHaveCount(1, { timeout: 20_000 });
  await expect(items.filter({ hasText: "Written while down 1" })).toHaveCount(1);
  await expect(items.filter({ hasText: "Before the crash" })).toHaveCount(1);
  await expect(items).toHaveCount(3);
});

test("isolation: two users in two browser contexts see only their own @both", async ({ browser, belfry }) => {
  const pages = [];
  for (const user of ["1", "2"]) {
    const context = await browser.newContext();
    await signIn(context, belfry, user);
    const page = await context.newPage();
    await openApp(page, belfry);
    pages.push(page);
  }
  await belfry.publish({ user_id: "1", message: "Only for one" });
  await belfry.publish({ user_id: "2", message: "Only for two" });
  await expect(pages[0].locator(".belfry-bell__link")).toHaveText([/Only for one/]);
  await expect(pages[1].locator(".belfry-bell__link")).toHaveText([/Only for two/]);
});

test("accessibility: the keyboard alone opens, walks and closes the list; the count is in the name", async ({ page, context, belfry }) => {
  await belfry.publish({ user_id: "1", message: "First" });
  await belfry.publish({ user_id: "1", message: "Second" });
  await signIn(context, belfry, "1");
  const bell = await openApp(page, belfry);
  await expect(bell).toHaveAccessibleName("Notifications, 2 unread");

  await page.keyboard.press("Escape");
  await expect(bell).toHaveAttribute("aria-expanded", "false");
  await expect(bell).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(bell).toHaveAttribute("aria-expanded", "true");
  await page.keyboard.press("ArrowDown");
  await expect(page.getByRole("link", { name: /Second/ })).toBeFocused();
  await page.keyboard.press("ArrowDown");
  await expect(page.getByRole("link", { name: /First/ })).toBeFocused();
  await page.keyboard.press("ArrowUp");
  await expect(page.getByRole("link", { name: /Second/ })).toBeFocused();
  await page.keyboard.press("Escape");
  await expect(bell).toHaveAttribute("aria-expanded", "false");
  await expect(bell).toBeFocused();

  // From the top of the page, Tab reaches the bell.
  await page.reload();
  await page.keyboard.press("Tab");
  await expect(bell).toBeFocused();
});

test("safety: markup in a message is text; a javascript: link cannot be created", async ({ page, context, belfry }) => {
  let dialogs = 0;
  page.on("dialog", async (dialog) => {
    dialogs += 1;
    await dialog.dismiss();
  });
  await signIn(context, belfry, "1");
  await openApp(page, belfry);
  const xss = "<img src=x onerror=alert(1)>";
  expect((await belfry.publish({ user_id: "1", message: xss })).status).toBe(201);
  await expect(page.locator(".belfry-bell__link").first()).toContainText(xss);
  await expect(page.locator(".belfry-bell img")).toHaveCount(0);

  const refused = await belfry.publish({ user_id: "1", message: "click me", link: "javascript:alert(1)" });
  expect(refused.status).toBe(422);
  expect(await refused.json()).toMatchObject({ error: "invalid", field: "link" });
  await page.reload();
  await expect(page.getByRole("link", { name: /click me/ })).toHaveCount(0);
  expect(dialogs).toBe(0);
});

test("order: notifications with ids of the publisher's choosing show newest first, by time @both", async ({ page, context, belfry }) => {
  // Ids whose text order is not their time order (as Laravel's random UUIDs).
  await belfry.publish({ user_id: "1", id: "zzz-first", message: "First" });
  await belfry.publish({ user_id: "1", id: "aaa-second", message: "Second" });
  await signIn(context, belfry, "1");
  await openApp(page, belfry);
  await belfry.publish({ user_id: "1", id: "mmm-third", message: "Third" });
  await expect(page.locator(".belfry-bell__link").first()).toContainText("Third");
  const items = page.locator(".belfry-bell__link");
  await expect(items.nth(1)).toContainText("Second");
  await expect(items.nth(2)).toContainText("First");
  await page.getByRole("button", { name: "Refresh" }).click();
  await expect(items.nth(0)).toContainText("Third");
  await expect(items.nth(1)).toContainText("Second");
  await expect(items.nth(2)).toContainText("First");
});

test("dates: an item older than a month shows the viewer's calendar date, not UTC's @mongo", async ({ browser, belfry }) => {
  // 12:00 UTC on the 20th is already the 21st at UTC+14.
  const context = await browser.newContext({ timezoneId: "Pacific/Kiritimati" });
  belfry.insertAsLaravel(42, "From October", "2026-10-20T12:00:00+00:00");
  await signIn(context, belfry, "42");
  const page = await context.newPage();
  await openApp(page, belfry);
  await expect(page.getByRole("link", { name: /From October/ })).toContainText("2026-10-21");
  await context.close();
});

test("bounded: pushes into an open bell push the oldest out, and Load more brings them back @sqlite", async ({ page, context, belfry }) => {
  for (let i = 1; i <= 10; i++) await belfry.publish({ user_id: "1", message: `Loaded ${i}` });
  await signIn(context, belfry, "1");
  await openApp(page, belfry);
  const items = page.locator(".belfry-bell__link");
  await expect(items).toHaveCount(10);
  for (let i = 1; i <= 3; i++) await belfry.publish({ user_id: "1", message: `Pushed ${i}` });
  await expect(items.first()).toContainText("Pushed 3");
  await expect(items).toHaveCount(10);
  await expect(items.last()).toContainText("Loaded 4");
  await page.getByRole("button", { name: "Load more" }).click();
  await expect(items).toHaveCount(13);
  await expect(items.last()).toContainText("Loaded 1");
});
