// Every tab in step: no gap between the first list and the stream at page load, and read state
// and removals made elsewhere reach an open tab.
import { test, expect, openApp, openStreams, signIn } from "./fixtures";
import type { Belfry } from "./fixtures";
import type { Page } from "@playwright/test";

/** Holds the page's first stream request until `publish` has committed a notification. */
async function publishWhileTheStreamIsHeld(page: Page, belfry: Belfry, user: string, message: string) {
  let held = false;
  await page.route("**/notifications/stream**", async (route) => {
    if (!held) {
      held = true;
      const response = await belfry.publish({ user_id: user, message });
      expect(response.status).toBe(201);
    }
    await route.continue();
  });
}

test("page load: a notification committed before the stream opens shows once, without Refresh (SSR, empty list) @both", async ({ page, context, belfry }) => {
  await signIn(context, belfry, "1");
  await publishWhileTheStreamIsHeld(page, belfry, "1", "In the gap");
  const bell = await openApp(page, belfry);
  await expect(page.getByRole("link", { name: /In the gap/ })).toHaveCount(1, { timeout: 15_000 });
  await expect(bell).toHaveAccessibleName("Notifications, 1 unread");
});

test("page load: the same for the embed", async ({ page, belfry, host }) => {
  await publishWhileTheStreamIsHeld(page, belfry, "7", "In the embed's gap");
  await page.goto(`${host.allowedOrigin}/embed.html?server=${belfry.url}&token=${belfry.token("7")}`);
  const bell = page.getByRole("button", { name: /Notifications/ });
  await expect(bell).toHaveAccessibleName("Notifications, 1 unread", { timeout: 15_000 });
  await bell.click();
  await expect(page.getByRole("link", { name: /In the embed's gap/ })).toHaveCount(1);
});

test("read and removed elsewhere: a read by another program and a delete reach the open tab @both", async ({ page, context, belfry }) => {
  const [first] = await (await belfry.publish({ user_id: "1", message: "Read elsewhere" })).json();
  const [second] = await (await belfry.publish({ user_id: "1", message: "Deleted elsewhere" })).json();
  await belfry.publish({ user_id: "1", message: "Stays" });
  await signIn(context, belfry, "1");
  const bell = await openApp(page, belfry);
  await expect(bell).toHaveAccessibleName("Notifications, 3 unread");

  // Marked read through the API of the same server by "another tab" (a plain request).
  const read = await fetch(`${belfry.url}/notifications/${first._id}/read`, {
    method: "POST",
    headers: { Authorization: `Bearer ${belfry.token("1")}`, "X-Requested-With": "test" },
  });
  expect(read.status).toBe(204);
  await expect(bell).toHaveAccessibleName("Notifications, 2 unread");

  belfry.deleteDirectly(second._id);
  await expect(page.getByRole("link", { name: /Deleted elsewhere/ })).toHaveCount(0);
  await expect(bell).toHaveAccessibleName("Notifications, 1 unread");
  await expect(page.getByRole("link", { name: /Stays/ })).toHaveCount(1);
});

test("tabs: ten tabs of one user share one stream; when the leading tab closes the others carry on, once; another user's tabs see only their own @both", async ({ browser, belfry }) => {
  test.setTimeout(120_000);
  // Plain HTTP/1.1, where a browser opens at most 6 connections to the server.
  const context = await browser.newContext();
  await signIn(context, belfry, "1");
  const tabs: Page[] = [];
  for (let i = 0; i < 10; i++) {
    const tab = await context.newPage();
    await openApp(tab, belfry);
    tabs.push(tab);
  }
  await belfry.publish({ user_id: "1", message: "To every tab" });
  for (const tab of tabs) {
    await expect(tab.getByRole("link", { name: /To every tab/ })).toHaveCount(1, { timeout: 15_000 });
  }
  await expect.poll(() => openStreams(belfry)).toBe(1);

  await tabs[0].close();
  await belfry.publish({ user_id: "1", message: "After the leader left" });
  for (const tab of tabs.slice(1)) {
    await expect(tab.getByRole("link", { name: /After the leader left/ })).toHaveCount(1, { timeout: 15_000 });
    await expect(tab.getByRole("link", { name: /To every tab/ })).toHaveCount(1);
  }
  await expect.poll(() => openStreams(belfry)).toBe(1);

  const other = await browser.newContext();
  await signIn(other, belfry, "2");
  const otherTabs = [await other.newPage(), await other.newPage()];
  for (const tab of otherTabs) await openApp(tab, belfry);
  await belfry.publish({ user_id: "2", message: "Only for user 2" });
  for (const tab of otherTabs) {
    await expect(tab.getByRole("link", { name: /Only for user 2/ })).toHaveCount(1, { timeout: 15_000 });
    await expect(tab.getByRole("link", { name: /To every tab|After the leader left/ })).toHaveCount(0);
  }
  await expect(tabs[1].getByRole("link", { name: /Only for user 2/ })).toHaveCount(0);
  await expect.poll(() => openStreams(belfry)).toBe(2);
  await other.close();
  await context.close();
});

test("tabs: the leading tab is frozen (Page Lifecycle); another leads within seconds, and the frozen one catches up when it resumes @both", async ({ browser, belfry }) => {
  test.setTimeout(60_000);
  const context = await browser.newContext();
  await signIn(context, belfry, "1");
  const tabs: Page[] = [];
  for (let i = 0; i < 3; i++) {
    const tab = await context.newPage();
    await openApp(tab, belfry);
    tabs.push(tab);
  }
  await expect.poll(() => openStreams(belfry)).toBe(1);

  // The first tab found the lock free: it leads. Freeze it as the browser freezes a hidden tab:
  // the `freeze` event first, then its scripts stop. (Headless Chromium never freezes a visible
  // page, and `Page.setWebLifecycleState` leaves one running, so the test does both itself:
  // the event, then the debugger pausing every script of the page.)
  const leader = await context.newCDPSession(tabs[0]);
  await tabs[0].evaluate(() => document.dispatchEvent(new Event("freeze")));
  await leader.send("Debugger.enable");
  await leader.send("Debugger.pause");
  await belfry.publish({ user_id: "1", message: "While the leader sleeps" });
  for (const tab of tabs.slice(1)) {
    await expect(tab.getByRole("link", { name: /While the leader sleeps/ })).toHaveCount(1, { timeout: 10_000 });
  }
  await expect.poll(() => openStreams(belfry)).toBe(1);

  await leader.send("Debugger.resume");
  await leader.send("Debugger.disable");
  await tabs[0].evaluate(() => document.dispatchEvent(new Event("resume")));
  await expect(tabs[0].getByRole("link", { name: /While the leader sleeps/ })).toHaveCount(1, { timeout: 10_000 });
  await belfry.publish({ user_id: "1", message: "All awake" });
  for (const tab of tabs) {
    await expect(tab.getByRole("link", { name: /All awake/ })).toHaveCount(1, { timeout: 10_000 });
  }
  await expect.poll(() => openStreams(belfry)).toBe(1);
  await context.close();
});
