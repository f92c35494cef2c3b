// The embed's tabs by category, with counts that move live, a tab's "mark all read", and
// actors' avatars (with initials when there is none). Tagged @both: run on SQLite and MongoDB.
import { test, expect } from "./fixtures";

test("tabs: counts per category move live; a tab lists and reads its own; avatars and initials @both", async ({ page, belfry, host }) => {
  const publish = async (message: string, category?: string, actor?: object) => {
    const body: Record<string, unknown> = { user_id: "41", message };
    if (category) body.category = category;
    if (actor) body.actor = actor;
    expect((await belfry.publish(body)).status).toBe(201);
  };
  await publish("Invoice 7 paid", "billing", { name: "Anna Lee", avatar: "/avatars/anna.svg" });
  await publish("Bob followed you", "social", { name: "bob ortega" });
  await publish("Maintenance tonight");
  const tabs = JSON.stringify(["billing", { key: "social", label: "People" }]);
  await page.goto(`${host.allowedOrigin}/embed.html?server=${belfry.url}&token=${belfry.token("41")}&tabs=${encodeURIComponent(tabs)}`);
  const bell = page.getByRole("button", { name: /^Notifications, / });
  await expect(bell).toHaveAccessibleName("Notifications, 3 unread", { timeout: 15_000 });
  await bell.click();
  const tab = (name: RegExp) => page.getByRole("group", { name: "Categories" }).getByRole("button", { name });
  await expect(tab(/^All/)).toHaveText("All 3");
  await expect(tab(/^billing/)).toHaveText("billing 1");
  await expect(tab(/^People/)).toHaveText("People 1");

  // The avatar, loaded from the page's own site, and initials for an actor without one.
  await expect(page.getByRole("img", { name: "Anna Lee" })).toHaveJSProperty("naturalWidth", 28);
  await expect(page.getByRole("img", { name: "bob ortega" })).toHaveText("BO");

  await tab(/^billing/).click();
  await expect(tab(/^billing/)).toHaveAttribute("aria-pressed", "true");
  await expect(page.locator(".belfry-bell__link")).toHaveCount(1);
  await publish("Invoice 8 due", "billing");
  await publish("Carol liked it", "social");
  await expect(page.locator(".belfry-bell__link").first()).toContainText("Invoice 8 due");
  await expect(page.locator(".belfry-bell__link")).toHaveCount(2);
  await expect(tab(/^billing/)).toHaveText("billing 2");
  await expect(tab(/^People/)).toHaveText("People 2");
  await expect(tab(/^All/)).toHaveText("All 5");

  await page.getByRole("button", { name: "Mark all read" }).click();
  await expect(tab(/^billing/)).toHaveText("billing");
  await expect(tab(/^People/)).toHaveText("People 2");
  await expect(tab(/^All/)).toHaveText("All 3");
  await expect(bell).toHaveAccessibleName(/^Notifications, 3 unread/);

  await tab(/^People/).click();
  await expect(page.locator(".belfry-bell__link")).toHaveCount(2);
  await expect(page.locator(".belfry-bell__link").first()).toContainText("Carol liked it");
});

test("actions: a named action goes to the page, which confirms it; done in another tab; a link action is followed @both", async ({ context, belfry, host }) => {
  const actions = [
    { label: "Approve", name: "approve" },
    { label: "View order", link: "/?order=7" },
  ];
  expect((await belfry.publish({ user_id: "42", message: "Approve order 7?", actions })).status).toBe(201);
  const url = `${host.allowedOrigin}/embed.html?server=${belfry.url}&token=${belfry.token("42")}`;
  const [tab, other] = [await context.newPage(), await context.newPage()];
  for (const page of [tab, other]) {
    await page.goto(url);
    await page.getByRole("button", { name: /^Notifications, / }).click();
    await expect(page.getByRole("button", { name: "Approve", exact: true })).toBeVisible({ timeout: 15_000 });
  }
  // The page hears the action, does its part, then confirms.
  await tab.evaluate(() => {
    document.addEventListener("belfry:action", (event: any) => {
      (window as any).asked = { action: event.detail.action, message: event.detail.notification.message };
      event.detail.done();
    });
  });
  await tab.getByRole("button", { name: "Approve", exact: true }).click();
  expect(await tab.evaluate(() => (window as any).asked)).toEqual({
    action: { label: "Approve", name: "approve" },
    message: "Approve order 7?",
  });
  for (const page of [tab, other]) {
    await expect(page.getByText("✓ Done")).toBeVisible();
    await expect(page.getByRole("button", { name: "Approve", exact: true })).toHaveCount(0);
  }
  const [stored] = await (await fetch(`${belfry.url}/notifications`, { headers: { authorization: `Bearer ${belfry.token("42")}` } })).json();
  expect(stored.completed_action).toBe("approve");

  // A link action: followed, the notification read first.
  expect((await belfry.publish({ user_id: "42", message: "See it", actions: [{ label: "Open", link: "/orders/8" }] })).status).toBe(201);
  await other.getByRole("button", { name: "Open", exact: true }).click();
  await expect(other).toHaveURL(/\/orders\/8$/);
});

test("groups: one item for a group, counted once, expanded on demand, read together @both", async ({ page, belfry, host }) => {
  const publish = async (body: object) => expect((await belfry.publish({ user_id: "43", ...body })).status).toBe(201);
  await publish({ message: "Order 7 shipped", category: "billing", actions: [{ label: "Track", link: "/track/7" }, { label: "Thanks", name: "thank" }] });
  for (const name of ["Bob", "Carol", "Anna Lee"]) {
    await publish({ message: `${name} commented on Q3 roadmap`, category: "social", group_key: "q3-roadmap", actor: { name, avatar: name === "Anna Lee" ? "/avatars/anna.svg" : null } });
  }
  const tabs = encodeURIComponent(JSON.stringify(["billing", { key: "social", label: "People" }]));
  await page.goto(`${host.allowedOrigin}/embed.html?server=${belfry.url}&token=${belfry.token("43")}&tabs=${tabs}`);
  const bell = page.getByRole("button", { name: /^Notifications, / });
  await expect(bell).toHaveAccessibleName("Notifications, 2 unread", { timeout: 15_000 });
  await bell.click();
  await expect(page.locator(".belfry-bell__link")).toHaveCount(2);
  await expect(page.locator(".belfry-bell__link").first()).toContainText("Anna Lee commented on Q3 roadmap");
  const more = page.getByRole("button", { name: "+2 more" });
  await expect(more).toHaveAttribute("aria-expanded", "false");

  await page.setViewportSize({ width: 900, height: 600 });
  await page.screenshot({ path: "screenshots/tabs.png" });

  await more.click();
  await expect(more).toHaveAttribute("aria-expanded", "true");
  await expect(page.getByText("Bob commented on Q3 roadmap")).toBeVisible();
  await expect(page.getByText("Carol commented on Q3 roadmap")).toBeVisible();

  // Read together: one click reads the group; it counted once, so one is left unread.
  await page.getByRole("group", { name: "Actions for Anna Lee commented on Q3 roadmap" }).getByRole("button", { name: "Mark read" }).click();
  await expect(bell).toHaveAccessibleName("Notifications, 1 unread");
  // (The bell showed it at once; the server's answer may come a moment later.)
  const read = async () => {
    const listed = await (await fetch(`${belfry.url}/notifications?category=social`, { headers: { authorization: `Bearer ${belfry.token("43")}` } })).json();
    return listed.map((n: any) => n.read_at !== null);
  };
  await expect.poll(read).toEqual([true, true, true]);
});
