// The bell embedded in a page of another origin (examples/embed.html, served by the host site).
import { test, expect, openStreams, signToken } from "./fixtures";

test("embed: works from an allowed origin with a token and CORS", async ({ page, belfry, host }) => {
  await belfry.publish({ user_id: "7", message: "Waiting for you" });
  await page.goto(`${host.allowedOrigin}/embed.html?server=${belfry.url}&token=${belfry.token("7")}`);
  await expect(page.getByRole("button", { name: "Notifications, 1 unread" })).toBeVisible({ timeout: 15_000 });

  await belfry.publish({ user_id: "7", message: "Pushed across origins" });
  await expect(page.getByRole("button", { name: "Notifications, 2 unread" })).toBeVisible();
  await page.getByRole("button", { name: /Notifications/ }).click();
  await expect(page.locator(".belfry-bell__link").first()).toContainText("Pushed across origins");
});

test("embed: from an origin that is not allowed, it fails visibly", async ({ page, belfry, host }) => {
  await page.goto(`${host.otherOrigin}/embed.html?server=${belfry.url}&token=${belfry.token("7")}`);
  await expect(page.getByRole("alert")).toContainText("Notifications are unavailable", { timeout: 15_000 });
});

test("token expiry: the widget gets a fresh token from token-url and misses nothing meanwhile", async ({ page, belfry, host }) => {
  // Hold the token URL's answer until a notification was published in the gap.
  let publishedInGap: () => void = () => {};
  const gap = new Promise<void>((resolve) => (publishedInGap = resolve));
  let renewing = false;
  await page.route("**/token?**", async (route) => {
    renewing = true;
    await gap;
    await route.continue();
  });
  const tokenUrl = encodeURIComponent(`${host.allowedOrigin}/token?user=7&ttl=600`);
  // A token of one second: the server ends the stream when it expires (plus its 5 s leeway).
  await page.goto(`${host.allowedOrigin}/embed.html?server=${belfry.url}&token=${belfry.token("7", 1)}&token-url=${tokenUrl}`);
  const bell = page.getByRole("button", { name: /Notifications/ });
  await expect(bell).toHaveAccessibleName("Notifications, none unread", { timeout: 15_000 });
  await belfry.publish({ user_id: "7", message: "Before expiry" });
  await expect(bell).toHaveAccessibleName("Notifications, 1 unread");

  await expect.poll(() => renewing, { timeout: 30_000 }).toBe(true);
  await belfry.publish({ user_id: "7", message: "Published while renewing" });
  publishedInGap();

  await expect(bell).toHaveAccessibleName("Notifications, 2 unread", { timeout: 30_000 });
  await bell.click();
  await expect(page.getByRole("link", { name: /Published while renewing/ })).toHaveCount(1);
  expect(host.tokensMinted()).toBeGreaterThan(0);
});

test("token URL answering for another user: the bell starts over as that user, on a channel of its own", async ({ context, belfry, host }) => {
  test.setTimeout(90_000);
  await belfry.publish({ user_id: "32", message: "Waiting for 32" });
  // A token of user 31 already past the server's leeway: the bell asks the token URL, which
  // answers for user 32 (the host signed someone else in).
  const tokenUrl = encodeURIComponent(`${host.allowedOrigin}/token?user=32&ttl=600`);
  const switched = await context.newPage();
  await switched.goto(`${host.allowedOrigin}/embed.html?server=${belfry.url}&token=${signToken("31", -60)}&token-url=${tokenUrl}`);
  const switchedBell = switched.getByRole("button", { name: /Notifications/ });
  await expect(switchedBell).toHaveAccessibleName("Notifications, 1 unread", { timeout: 15_000 });
  await expect.poll(() => openStreams(belfry), { timeout: 15_000 }).toBe(1);

  // A tab of user 31 in the same browser: its own connection, not a share of 32's.
  const first = await context.newPage();
  await first.goto(`${host.allowedOrigin}/embed.html?server=${belfry.url}&token=${belfry.token("31")}`);
  const firstBell = first.getByRole("button", { name: /Notifications/ });
  await expect(firstBell).toHaveAccessibleName("Notifications, none unread", { timeout: 15_000 });
  await expect.poll(() => openStreams(belfry), { timeout: 15_000 }).toBe(2);

  await belfry.publish({ user_id: "31", message: "For 31" });
  await expect(firstBell).toHaveAccessibleName("Notifications, 1 unread");
  await belfry.publish({ user_id: "32", message: "For 32" });
  await expect(switchedBell).toHaveAccessibleName("Notifications, 2 unread");
  await firstBell.click();
  await expect(first.locator(".belfry-bell__link")).toHaveCount(1);
  await expect(first.locator(".belfry-bell__link").first()).toContainText("For 31");
  await switchedBell.click();
  await expect(switched.getByRole("link", { name: /For 31/ })).toHaveCount(0);
  await expect(switched.getByRole("link", { name: /For 32/ })).toHaveCount(1);
});

test("token URL answering without a token: the bell says so, and never sends the answer as a token", async ({ page, belfry, host }) => {
  const sent: string[] = [];
  page.on("request", (request) => {
    if (request.url().startsWith(belfry.url)) sent.push(`${request.url()} ${request.headers()["authorization"] ?? ""}`);
  });
  // The host answers its HTML page (a sign-in page, say) with 200 instead of a token.
  const tokenUrl = encodeURIComponent(`${host.allowedOrigin}/sign-in`);
  await page.goto(`${host.allowedOrigin}/embed.html?server=${belfry.url}&token=${signToken("33", -60)}&token-url=${tokenUrl}`);
  const bell = page.getByRole("button", { name: /Notifications/ });
  await bell.click({ timeout: 15_000 });
  await expect(page.getByRole("alert")).toContainText("Could not load notifications", { timeout: 15_000 });
  expect(sent.length).toBeGreaterThan(0);
  for (const request of sent) {
    expect(request).not.toMatch(/<|%3C|DOCTYPE/i);
  }
});

test("embed: a good guest in a French page: its own words and relative times, shielded from a hostile stylesheet and changing nothing of the page; events; removed with its connection @both", async ({ page, belfry, host }) => {
  // The page's listeners, there before the bell (its events bubble up to the document).
  await page.addInitScript(() => {
    const w = window as any;
    w.bellEvents = [];
    for (const type of ["belfry:notification", "belfry:unread-count", "belfry:error"]) {
      document.addEventListener(type, (e) => w.bellEvents.push({ type, detail: (e as CustomEvent).detail }));
    }
  });
  await page.goto(`${host.allowedOrigin}/embed-fr.html?server=${belfry.url}&token=${belfry.token("8")}`);
  const bell = page.getByRole("button", { name: /^Notifications, / });
  await expect(bell).toHaveAccessibleName("Notifications, aucune non lue", { timeout: 15_000 });
  // The first count, once loaded, is told to the page (the label reads 0 before that too, so
  // wait for the event: a publish that overtakes the first load is counted in it instead).
  await expect
    .poll(() => page.evaluate(() => (window as any).bellEvents.some((e: any) => e.type === "belfry:unread-count")))
    .toBe(true);
  // The page as it is with the bell in it.
  const pageStyle = () =>
    page.evaluate(() => {
      const body = getComputedStyle(document.body);
      const button = getComputedStyle(document.getElementById("host-button")!);
      const item = getComputedStyle(document.querySelector(".host-list li")!);
      return [body.margin, body.fontFamily, body.backgroundColor, button.padding, button.borderRadius, item.display, item.backgroundColor];
    });
  // Its stylesheet (body margin 0, .belfry-bell__button, .belfry-bell__item…) stays inside: the
  // page's own elements, even those with the bell's class names, keep the browser's defaults.
  const [margin, font, background, padding, radius, display, itemBackground] = await pageStyle();
  expect(margin).toBe("8px");
  expect(font).toContain("Georgia");
  expect(background).toBe("rgba(0, 0, 0, 0)");
  expect(padding).not.toBe("6.4px");
  expect(radius).not.toBe("50%");
  expect(display).toBe("list-item");
  expect(itemBackground).toBe("rgba(0, 0, 0, 0)");

  // A hostile stylesheet: nothing in the bell hides or turns red.
  await page.addStyleTag({ content: "li, span, button, ul { display: none !important; color: red !important }" });
  await expect(bell).toBeVisible();
  expect(await bell.evaluate((b) => getComputedStyle(b).color)).not.toBe("rgb(255, 0, 0)");

  await belfry.publish({ user_id: "8", message: "Votre commande est partie" });
  await expect(bell).toHaveAccessibleName("Notifications, 1 non lue");
  await bell.click();
  const item = page.getByRole("link", { name: /Votre commande est partie/ });
  await expect(item).toBeVisible();
  await expect(item.locator("time")).toHaveText("maintenant");
  await expect(page.getByRole("button", { name: "Tout marquer comme lu" })).toBeVisible();
  // The page's theme reaches in: its accent on the unread dot, its ::part rule on the badge.
  expect(await item.locator(".belfry-bell__dot").evaluate((d) => getComputedStyle(d).backgroundColor)).toBe("rgb(185, 28, 28)");

  // What the page was told.
  const events = await page.evaluate(() => (window as any).bellEvents);
  expect(events).toContainEqual({ type: "belfry:unread-count", detail: { count: 0 } });
  expect(events).toContainEqual({ type: "belfry:unread-count", detail: { count: 1 } });
  expect(events.find((e: any) => e.type === "belfry:notification")?.detail?.message).toBe("Votre commande est partie");

  // Taken off the page: the bell and its stream are gone.
  await expect.poll(() => openStreams(belfry)).toBe(1);
  await page.evaluate(() => document.querySelector("notification-bell")!.remove());
  await expect.poll(() => openStreams(belfry)).toBe(0);
});

test("embed: Belfry.mount returns a handle whose destroy() unmounts the bell and closes its stream", async ({ page, belfry, host }) => {
  await page.goto(`${host.allowedOrigin}/embed.html?server=${belfry.url}&token=${belfry.token("9")}`);
  await expect(page.getByRole("button", { name: /^Notifications, / })).toBeVisible({ timeout: 15_000 });
  await page.evaluate(() => document.querySelector("notification-bell")!.remove());
  await expect.poll(() => openStreams(belfry)).toBe(0);

  await page.evaluate(
    async ([server, token]) => {
      const slot = document.createElement("div");
      document.body.append(slot);
      const bell = (window as any).Belfry.mount(slot, { server, token });
      (window as any).mounted = bell;
      await bell.ready;
    },
    [belfry.url, belfry.token("9")],
  );
  const bell = page.getByRole("button", { name: /^Notifications, / });
  await expect(bell).toBeVisible();
  await expect.poll(() => openStreams(belfry)).toBe(1);
  await page.evaluate(() => (window as any).mounted.destroy());
  await expect(bell).toHaveCount(0);
  await expect.poll(() => openStreams(belfry)).toBe(0);
});
