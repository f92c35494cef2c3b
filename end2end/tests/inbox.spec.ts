// The inbox: each item's actions, the Archived view, snoozes that come back once, the unseen
// badge, keyboard-only use, and an action the server refuses rolled back. Tagged @both: run on
// SQLite and on MongoDB.
import { test, expect, openApp, signIn, Belfry, freePort } from "./fixtures";
import type { Page } from "@playwright/test";

/** The button `name` among the actions of the item whose message is `message`. */
function action(page: Page, message: string, name: string) {
  return page.getByRole("group", { name: `Actions for ${message}` }).getByRole("button", { name, exact: true });
}

function item(page: Page, message: string) {
  return page.getByRole("link", { name: new RegExp(message) });
}

/** `belfry_snoozes_ended_total` from a server's /metrics (0 before the first). */
async function snoozesEnded(server: Pick<Belfry, "url">): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith("belfry_snoozes_ended_total "));
  return Number(line?.split(" ")[1] ?? 0);
}

test("inbox: each action in one tab reaches a second tab and a browser on another instance @both", async ({ browser, context, belfry, store, host }) => {
  test.setTimeout(90_000);
  const other = new Belfry(store, belfry.database, await freePort(), host.allowedOrigin);
  await other.start();
  try {
    await signIn(context, belfry, "31");
    const [tab, second] = [await context.newPage(), await context.newPage()];
    await openApp(tab, belfry);
    await openApp(second, belfry);
    const elsewhere = await browser.newContext();
    await signIn(elsewhere, other, "31");
    const away = await elsewhere.newPage();
    const awayBell = await openApp(away, other);
    for (const message of ["One", "Two", "Three"]) {
      expect((await belfry.publish({ user_id: "31", message })).status).toBe(201);
    }
    for (const page of [tab, second, away]) await expect(item(page, "Three")).toHaveCount(1);
    await expect(awayBell).toHaveAccessibleName("Notifications, 3 unread");

    // The README's picture: an item's actions, its snooze menu open.
    await action(tab, "Two", "Snooze").click();
    await tab.setViewportSize({ width: 900, height: 560 });
    await tab.screenshot({ path: "screenshots/inbox.png" });
    await action(tab, "Two", "Snooze").click();

    await action(tab, "Two", "Mark read").click();
    await expect(awayBell).toHaveAccessibleName("Notifications, 2 unread");
    await expect(action(second, "Two", "Mark unread")).toBeVisible();
    await action(second, "Two", "Mark unread").click();
    await expect(awayBell).toHaveAccessibleName("Notifications, 3 unread");
    await expect(action(tab, "Two", "Mark read")).toBeVisible();

    await action(tab, "Three", "Archive").click();
    for (const page of [tab, second, away]) await expect(item(page, "Three")).toHaveCount(0);
    await expect(awayBell).toHaveAccessibleName("Notifications, 2 unread");

    await action(away, "One", "Delete").click();
    for (const page of [tab, second, away]) await expect(item(page, "One")).toHaveCount(0);

    // The Archived view, and back to the inbox from it.
    await away.getByRole("button", { name: "Archived", exact: true }).click();
    await expect(item(away, "Three")).toHaveCount(1);
    await expect(item(away, "Two")).toHaveCount(0);
    await action(away, "Three", "Move to inbox").click();
    await expect(item(away, "Three")).toHaveCount(0);
    for (const page of [tab, second]) await expect(item(page, "Three")).toHaveCount(1);
    await away.getByRole("button", { name: "Inbox", exact: true }).click();
    await expect(item(away, "Three")).toHaveCount(1);
    await expect(awayBell).toHaveAccessibleName("Notifications, 2 unread");
    await elsewhere.close();
  } finally {
    await other.stopAndWait();
  }
});

test("inbox: a snooze from the menu comes back once, at the top, in 3 tabs, across a restart @both", async ({ context, belfry }) => {
  test.setTimeout(90_000);
  await signIn(context, belfry, "32");
  await belfry.publish({ user_id: "32", message: "Snooze me" });
  await belfry.publish({ user_id: "32", message: "Stays" });
  // The browser's clock, which the menu's "For 1 hour" counts from, an hour minus 4 s behind:
  // the snooze ends 4 s from now by the server's clock.
  await context.clock.install({ time: Date.now() - 3_600_000 + 4_000 });
  const tabs = [await context.newPage(), await context.newPage(), await context.newPage()];
  const bells = [];
  for (const tab of tabs) bells.push(await openApp(tab, belfry));
  for (const tab of tabs) await expect(item(tab, "Snooze me")).toHaveCount(1);

  await action(tabs[0], "Snooze me", "Snooze").click();
  await tabs[0].getByRole("group", { name: "Snooze" }).getByRole("button", { name: "For 1 hour" }).click();
  for (const tab of tabs) await expect(item(tab, "Snooze me")).toHaveCount(0);
  for (const bell of bells) await expect(bell).toHaveAccessibleName("Notifications, 1 unread");

  // Every server down when it comes due.
  await belfry.kill();
  const due = Date.now() + 5_000;
  await expect.poll(() => Date.now() > due, { timeout: 15_000, intervals: [500] }).toBe(true);
  await belfry.start();

  for (const tab of tabs) {
    await expect(item(tab, "Snooze me")).toHaveCount(1, { timeout: 30_000 });
    await expect(tab.locator(".belfry-bell__link").first()).toContainText("Snooze me");
  }
  for (const bell of bells) await expect(bell).toHaveAccessibleName("Notifications, 2 unread");
  expect(await snoozesEnded(belfry)).toBe(1);
  for (const tab of tabs) await expect(item(tab, "Snooze me")).toHaveCount(1);
});

test("inbox: the badge counts unseen ones: opening the bell clears it, reading does not matter @both", async ({ page, context, belfry }) => {
  await signIn(context, belfry, "33");
  await belfry.publish({ user_id: "33", message: "Seen soon" });
  await page.goto(belfry.url);
  const bell = page.getByRole("button", { name: /^Notifications, / });
  const badge = page.locator(".belfry-bell__badge");
  await expect(badge).toHaveText("1");
  await belfry.publish({ user_id: "33", message: "Also seen soon" });
  await expect(badge).toHaveText("2", { timeout: 15_000 });

  await bell.click();
  await expect(badge).toHaveCount(0);
  await expect(bell).toHaveAccessibleName("Notifications, 2 unread");
  await bell.click();
  await belfry.publish({ user_id: "33", message: "New while closed" });
  await expect(badge).toHaveText("1");
  await expect(bell).toHaveAccessibleName("Notifications, 3 unread, 1 new");

  // Seen is stored: a new page starts with the same badge.
  await page.reload();
  await expect(badge).toHaveText("1");
});

test("inbox: keyboard only: open, reach an item's actions, mark read and archive, announced @both", async ({ page, context, belfry }) => {
  await signIn(context, belfry, "34");
  await belfry.publish({ user_id: "34", message: "By keyboard", link: "/?k=1" });
  await page.goto(belfry.url);
  const bell = page.getByRole("button", { name: /^Notifications, / });
  await expect(async () => {
    await bell.focus();
    await page.keyboard.press("Enter");
    await expect(bell).toHaveAttribute("aria-expanded", "true", { timeout: 500 });
  }).toPass({ timeout: 15_000 });

  await page.keyboard.press("ArrowDown");
  await expect(item(page, "By keyboard")).toBeFocused();
  await page.keyboard.press("Tab");
  await expect(action(page, "By keyboard", "Mark read")).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(bell).toHaveAccessibleName("Notifications, none unread");
  await expect(page.getByRole("status").filter({ hasText: "Mark read" })).toHaveCount(1);

  await expect(action(page, "By keyboard", "Mark unread")).toBeVisible();
  await action(page, "By keyboard", "Mark unread").focus();
  await page.keyboard.press("Tab");
  await expect(action(page, "By keyboard", "Archive")).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(item(page, "By keyboard")).toHaveCount(0);
  await expect(page.getByRole("status").filter({ hasText: "Archive" })).toHaveCount(1);
  await expect(page).not.toHaveURL(/k=1/);
});

test("inbox: an action the server refuses is undone, with a message @both", async ({ page, context, belfry }) => {
  await signIn(context, belfry, "35");
  await belfry.publish({ user_id: "35", message: "Cannot archive" });
  await openApp(page, belfry);
  await expect(item(page, "Cannot archive")).toHaveCount(1);
  await page.route("**/notifications/*/archive", (route) =>
    route.fulfill({ status: 503, contentType: "application/json", body: '{"error":"unavailable","message":"down"}' }),
  );
  await action(page, "Cannot archive", "Archive").click();
  await expect(page.getByRole("alert")).toContainText("Could not change the notification");
  await expect(item(page, "Cannot archive")).toHaveCount(1);
  await page.unroute("**/notifications/*/archive");
  await page.reload();
  await page.getByRole("button", { name: /^Notifications, / }).click();
  await expect(item(page, "Cannot archive")).toHaveCount(1);
});
