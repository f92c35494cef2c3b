// A bell that can ring: off until the user turns it on; then one desktop notification per
// browser, from the tab that holds the shared connection, when no tab is visible; one sound.
// Tagged @both: run on SQLite and MongoDB.
import { test, expect } from "./fixtures";
import type { Page } from "@playwright/test";

/** What the page's bell constructed: desktop notifications and audio contexts. */
async function constructed(pages: Page[]): Promise<{ notifications: number; audio: number }> {
  let notifications = 0;
  let audio = 0;
  for (const page of pages) {
    const counts = await page.evaluate(() => (window as any).__constructed);
    notifications += counts.notifications;
    audio += counts.audio;
  }
  return { notifications, audio };
}

test("ring: off by default; turned on, one desktop notification for 3 hidden tabs, and one sound @both", async ({ context, belfry, host }) => {
  await context.grantPermissions(["notifications"], { origin: host.allowedOrigin });
  await context.addInitScript(() => {
    const w = window as any;
    w.__constructed = { notifications: 0, audio: 0 };
    const RealNotification = w.Notification;
    w.Notification = class extends RealNotification {
      constructor(title: string, options?: object) {
        w.__constructed.notifications += 1;
        super(title, options);
      }
    };
    const RealAudio = w.AudioContext;
    w.AudioContext = class extends RealAudio {
      constructor(options?: object) {
        w.__constructed.audio += 1;
        super(options);
      }
    };
  });
  const url = `${host.allowedOrigin}/embed.html?server=${belfry.url}&token=${belfry.token("51")}&ring=sound%20desktop`;
  const tabs = [await context.newPage(), await context.newPage(), await context.newPage()];
  for (const tab of tabs) {
    await tab.goto(url);
    await expect(tab.getByRole("button", { name: /^Notifications, / })).toHaveAccessibleName("Notifications, none unread", { timeout: 15_000 });
  }
  const arrived = async (message: string) => {
    for (const tab of tabs) await expect(tab.locator(".belfry-bell__link", { hasText: message })).toHaveCount(1);
  };

  // Off by default: nothing rings.
  await belfry.publish({ user_id: "51", message: "Quiet" });
  await arrived("Quiet");
  expect(await constructed(tabs)).toEqual({ notifications: 0, audio: 0 });

  // Desktop notifications on, in one tab: remembered for the browser.
  await tabs[0].getByRole("button", { name: /^Notifications, / }).click();
  const sound = tabs[0].getByRole("checkbox", { name: "Sound" });
  const desktop = tabs[0].getByRole("checkbox", { name: "Desktop notifications" });
  await expect(sound).not.toBeChecked();
  await desktop.check();
  await expect(desktop).toBeChecked();

  // Every tab hidden: one desktop notification, from whichever tab holds the connection.
  for (const tab of tabs) {
    await tab.evaluate(() => {
      Object.defineProperty(document, "visibilityState", { value: "hidden", configurable: true });
      Object.defineProperty(document, "hidden", { value: true, configurable: true });
      document.dispatchEvent(new Event("visibilitychange"));
    });
  }
  await belfry.publish({ user_id: "51", message: "Ring once" });
  await arrived("Ring once");
  await expect.poll(async () => (await constructed(tabs)).notifications).toBe(1);
  expect((await constructed(tabs)).audio).toBe(0);

  // The sound on too: one sound for the browser.
  await sound.check();
  await belfry.publish({ user_id: "51", message: "Ring with sound" });
  await arrived("Ring with sound");
  await expect.poll(async () => (await constructed(tabs)).audio).toBe(1);
  await expect.poll(async () => (await constructed(tabs)).notifications).toBe(2);
});
