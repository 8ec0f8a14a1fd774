// The demo pages in a real browser: a fresh browser gets an id cookie and keeps its picture over
// 20 reloads; 300 fresh browsers split within 6 points of the weights.
// Env: FRONT (the demo's front URL), ID_COOKIE (the assign cookie), V2_WEIGHT (percent),
// SCREENSHOTS (optional: a directory for page-a.png and page-b.png).
import path from "node:path";
import { launch, env, check, pageState, run } from "./browser.mjs";

const FRONT = env("FRONT");
const ID_COOKIE = env("ID_COOKIE");
const V2_WEIGHT = Number(env("V2_WEIGHT"));
const CONTEXTS = 300;
const PARALLEL = 6;

const browser = await launch();
try {
  await run("a fresh browser gets an id cookie and the same picture over 20 reloads", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${FRONT}/`);
    const first = await pageState(page);
    const cookie = (await context.cookies()).find((c) => c.name === ID_COOKIE);
    check(cookie, `no ${ID_COOKIE} cookie after the first visit: ${JSON.stringify(await context.cookies())}`);
    check(first.id, `the page shows no id: ${JSON.stringify(first)}`);
    check(first.reason === "hash", `the first visit is decided by the new id's hash: ${JSON.stringify(first)}`);
    check(["A", "B"].includes(first.picture), `no picture: ${JSON.stringify(first)}`);
    for (let i = 1; i <= 20; i++) {
      await page.reload();
      const now = await pageState(page);
      check(now.picture === first.picture && now.id === first.id && now.reason === "hash",
        `reload ${i}: ${JSON.stringify(now)}, first visit: ${JSON.stringify(first)}`);
      const again = (await context.cookies()).find((c) => c.name === ID_COOKIE);
      check(again && again.value === cookie.value, `reload ${i}: the cookie changed: ${JSON.stringify(again)}`);
    }
    await context.close();
  });

  await run(`${CONTEXTS} fresh browsers split within 6 points of v2=${V2_WEIGHT}`, async () => {
    let onB = 0;
    const ids = new Set();
    const shots = {};
    // One browser, a new context per visitor; a few at a time keep it short on two cores.
    let next = 0;
    const visitor = async () => {
      while (next < CONTEXTS) {
        const i = next++;
        const context = await browser.newContext({ viewport: { width: 560, height: 520 } });
        try {
          const page = await context.newPage();
          await page.goto(`${FRONT}/`);
          const state = await pageState(page);
          check(["A", "B"].includes(state.picture), `context ${i}: ${JSON.stringify(state)}`);
          check(state.id && !ids.has(state.id), `context ${i}: id missing or not new: ${JSON.stringify(state)}`);
          ids.add(state.id);
          if (state.picture === "B") onB++;
          if (process.env.SCREENSHOTS && !shots[state.picture]) {
            shots[state.picture] = true;
            await page.screenshot({ path: path.join(process.env.SCREENSHOTS, `page-${state.picture.toLowerCase()}.png`) });
          }
        } finally {
          await context.close();
        }
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, visitor));
    check(ids.size === CONTEXTS, `${ids.size} distinct ids for ${CONTEXTS} browsers`);
    const share = (100 * onB) / CONTEXTS;
    console.log(`  ${onB} of ${CONTEXTS} fresh browsers saw B (${share.toFixed(1)}%), configured ${V2_WEIGHT}%`);
    check(Math.abs(share - V2_WEIGHT) <= 6, `B share ${share.toFixed(1)}% is not within 6 points of ${V2_WEIGHT}%`);
  });
} finally {
  await browser.close();
}
