// Accessibility: axe-core (through @axe-core/playwright) scans the page with the bell open,
// with an unread and a read notification, in the light and dark schemes, on a desktop and a
// 360 px phone: the SSR app and the embed (its shadow root included; with tabs, an avatar and
// the ring switches). No violation.
import AxeBuilder from "@axe-core/playwright";
import { test, expect, openApp, signIn } from "./fixtures";

const layouts = [
  { scheme: "light", width: 1280 },
  { scheme: "dark", width: 1280 },
  { scheme: "light", width: 360 },
  { scheme: "dark", width: 360 },
] as const;

async function violations(page: import("@playwright/test").Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).analyze();
  return results.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}

test("a11y: the SSR app with the bell open has no axe-core violation @sqlite", async ({ page, context, belfry }) => {
  const [read] = await (await belfry.publish({ user_id: "1", message: "Read already", link: "/orders/6" })).json();
  await belfry.publish({ user_id: "1", message: "Unread one", link: "/orders/7" });
  const marked = await fetch(`${belfry.url}/notifications/${read._id}/read`, {
    method: "POST",
    headers: { authorization: `Bearer ${belfry.token("1")}`, "x-requested-with": "XMLHttpRequest" },
  });
  expect(marked.status).toBe(204);
  await signIn(context, belfry, "1");
  for (const { scheme, width } of layouts) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.setViewportSize({ width, height: 800 });
    await openApp(page, belfry);
    await expect(page.locator(".belfry-bell__link")).toHaveCount(2);
    expect(await violations(page), `${scheme}, ${width} px`).toEqual([]);
  }
});

test("a11y: the embed with the bell open (tabs, avatars, ring switches) has no axe-core violation @sqlite", async ({ page, belfry, host }) => {
  await belfry.publish({ user_id: "7", message: "Unread one", link: "/orders/7", category: "billing", actor: { name: "Anna Lee", avatar: "/avatars/anna.svg" } });
  const tabs = encodeURIComponent(JSON.stringify(["billing", { key: "social", label: "People" }]));
  for (const { scheme, width } of layouts) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.setViewportSize({ width, height: 800 });
    await page.goto(`${host.allowedOrigin}/embed.html?server=${belfry.url}&token=${belfry.token("7")}&tabs=${tabs}&ring=sound%20desktop`);
    const bell = page.getByRole("button", { name: /Notifications/ });
    await expect(bell).toHaveAccessibleName("Notifications, 1 unread", { timeout: 15_000 });
    await bell.click();
    await expect(page.locator(".belfry-bell__link")).toHaveCount(1);
    expect(await violations(page), `${scheme}, ${width} px`).toEqual([]);
  }
});
