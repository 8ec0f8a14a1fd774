// The console in a real browser, against the demo's Envoy under steady traffic:
// - moving v2 from 10 to 30 and applying changes the live split in the chart within 5 s, and a
//   browser that saw B still sees B;
// - weights summing to 110 are refused with the field path, and the ECDS file is unchanged;
// - two tabs editing at once cannot both apply.
// Env: FRONT, CONSOLE (URLs), ECDS_FILE, USERS (a JSON cycle of user ids: exactly 10% on v2 at
// v2=10 and 30% at v2=30), SCREENSHOTS (optional: a directory for console.png).
import fs from "node:fs";
import path from "node:path";
import { launch, env, check, poll, pageState, run } from "./browser.mjs";

const FRONT = env("FRONT");
const CONSOLE = env("CONSOLE");
const ECDS_FILE = env("ECDS_FILE");
const USERS = JSON.parse(env("USERS"));

// Steady traffic from the USERS cycle, one request at a time, until stopped.
let traffic = true;
let sent = 0;
const trafficDone = (async () => {
  while (traffic) {
    const user = USERS[sent % USERS.length];
    try {
      const response = await fetch(`${FRONT}/`, { headers: { "x-user-id": user } });
      await response.arrayBuffer();
    } catch (error) {
      console.error(`traffic: ${error}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    sent++;
  }
})();

async function share(page, subset) {
  const text = await page.locator(`#share-${subset}`).getAttribute("data-share").catch(() => null);
  return text ? Number(text) : null;
}

async function status(page) {
  const element = page.locator("#status");
  return { state: await element.getAttribute("data-state"), text: await element.textContent() };
}

async function waitStatus(page, states, seconds) {
  return poll(`the console's status to become ${states.join(" or ")}`, seconds, async () => {
    const now = await status(page);
    return { ok: states.includes(now.state), ...now };
  });
}

async function openConsole(context) {
  const page = await context.newPage();
  await page.goto(CONSOLE);
  await page.locator("#w-0-1").waitFor();
  return page;
}

function fileWeight(subset) {
  const match = fs.readFileSync(ECDS_FILE, "utf8").match(new RegExp(`"name":"${subset}","weight":([0-9.]+)`));
  return match ? Number(match[1]) : null;
}

const browser = await launch();
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  // A visitor who saw B before the change; found among fresh browsers (10% each see B).
  let sawB = null;
  await run("a fresh browser that sees B is found", async () => {
    for (let i = 0; i < 300 && !sawB; i++) {
      const visitor = await browser.newContext();
      const page = await visitor.newPage();
      await page.goto(`${FRONT}/`);
      if ((await pageState(page)).picture === "B") sawB = { visitor, page };
      else await visitor.close();
    }
    check(sawB, "none of 300 fresh browsers saw B");
  });

  await run("moving v2 from 10 to 30 and applying changes the live split within 5 s; B stays B", async () => {
    const page = await openConsole(context);
    check(await page.inputValue("#w-0-1") === "10", `v2 is not at 10: ${await page.inputValue("#w-0-1")}`);
    await poll("the chart's v2 share near 10%", 60, async () => {
      const v2 = await share(page, "v2");
      return { ok: v2 !== null && Math.abs(v2 - 10) <= 6, v2 };
    });
    await page.locator("#slider-0").fill("30");
    check(await page.inputValue("#w-0-0") === "70", "the slider did not move v1 to 70");
    await page.click("#preview");
    await waitStatus(page, ["previewed"], 30);
    const diff = await page.textContent("#diff");
    check(/v1\s+v2\s+20%\s+forward/.test(diff), `the preview does not say 20% move v1 -> v2:\n${diff}`);
    await page.click("#apply");
    const verdict = await waitStatus(page, ["accepted", "rejected", "unknown", "refused", "conflict", "error"], 60);
    check(verdict.state === "accepted", `not accepted: ${verdict.text}`);
    check(fileWeight("v2") === 30, `the ECDS file has v2=${fileWeight("v2")}`);
    const applied = Date.now();
    const seen = await poll("the chart's v2 share near 30% within 5 s of the verdict", 5, async () => {
      const v2 = await share(page, "v2");
      return { ok: v2 !== null && Math.abs(v2 - 30) <= 6, v2 };
    });
    console.log(`  the chart showed v2 at ${seen.v2}% ${((Date.now() - applied) / 1000).toFixed(1)} s after the verdict`);
    await sawB.page.reload();
    const after = await pageState(sawB.page);
    check(after.picture === "B", `the visitor who saw B now sees ${JSON.stringify(after)}`);
    if (process.env.SCREENSHOTS) {
      // A chart with the step in it: ten more seconds of traffic after the change.
      await poll("ten seconds of chart after the change", 30, async () => ({ ok: Date.now() - applied > 10_000 }));
      await page.fill("#which-user", "alice");
      await page.click("#which-go");
      await poll("the which box's answer", 30, async () => ({ ok: (await page.textContent("#which-out")).includes("subset") }));
      await page.screenshot({ path: path.join(process.env.SCREENSHOTS, "console.png") });
    }
    await page.close();
  });

  await run("weights summing to 110 are refused with the field path; the file is unchanged", async () => {
    const before = fs.readFileSync(ECDS_FILE);
    const page = await openConsole(context);
    await page.fill("#w-0-0", "80");
    check(await page.inputValue("#w-0-1") === "30", "v2 is not at 30");
    const want = "routes[0].subsets: weights must sum to 100, got 110 (v1=80, v2=30)";
    await page.click("#preview");
    const previewed = await waitStatus(page, ["refused"], 30);
    check(previewed.text.includes(want), `preview: ${previewed.text}`);
    await page.click("#apply");
    const refused = await waitStatus(page, ["refused"], 30);
    check(refused.text.includes(want), `apply: ${refused.text}`);
    check(Buffer.compare(before, fs.readFileSync(ECDS_FILE)) === 0, "the ECDS file changed");
    await page.close();
  });

  await run("two tabs editing at once cannot both apply", async () => {
    const first = await openConsole(context);
    const second = await openConsole(context);
    await first.locator("#slider-0").fill("40");
    await second.locator("#slider-0").fill("50");
    await first.click("#apply");
    const one = await waitStatus(first, ["accepted", "rejected", "unknown", "refused", "conflict", "error"], 60);
    check(one.state === "accepted", `the first tab: ${one.text}`);
    await second.click("#apply");
    const two = await waitStatus(second, ["accepted", "rejected", "unknown", "refused", "conflict", "error"], 60);
    check(two.state === "conflict", `the second tab was not stopped: ${two.state}: ${two.text}`);
    check(two.text.includes("changed since you loaded it"), `the second tab: ${two.text}`);
    check(fileWeight("v2") === 40, `the ECDS file has v2=${fileWeight("v2")}, not the first tab's 40`);
    await second.click("#reload");
    await poll("the second tab to show the first tab's 40", 30, async () => {
      const v2 = await second.inputValue("#w-0-1");
      return { ok: v2 === "40", v2 };
    });
  });
} finally {
  traffic = false;
  await trafficDone;
  await browser.close();
  console.log(`traffic: ${sent} requests`);
}
