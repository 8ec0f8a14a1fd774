// What the browser checks share: Debian's Chromium driven by playwright-core, bounded polling,
// and failing with a message that says what was seen.
import { chromium } from "playwright-core";

// Flags that keep a headless Chromium quiet and self-contained on a machine without a desktop
// or the internet; playwright gives each launch a fresh profile directory.
const FLAGS = [
  "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];

export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: FLAGS,
    timeout: 120_000,
  });
}

export function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (tests/tests/browser.rs sets it)`);
  return value;
}

export function check(condition, message) {
  if (!condition) throw new Error(message);
}

// Calls `probe` until it returns a truthy value, at most `seconds`; the last value seen goes in
// the error. Never a fixed sleep: a loaded machine only makes it take longer.
export async function poll(what, seconds, probe) {
  const deadline = Date.now() + seconds * 1000;
  let last;
  for (;;) {
    last = await probe();
    if (last && last.ok) return last;
    if (Date.now() > deadline) {
      throw new Error(`${what}: not within ${seconds} s; last seen: ${JSON.stringify(last)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// What a demo page says: its picture, subset, reason and id.
export async function pageState(page) {
  const main = page.locator("#page");
  return {
    picture: await main.getAttribute("data-picture"),
    subset: await main.getAttribute("data-subset"),
    reason: await main.getAttribute("data-reason"),
    id: await main.getAttribute("data-id"),
  };
}

export async function run(name, body) {
  const started = Date.now();
  try {
    await body();
    console.log(`${name}: passed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } catch (error) {
    console.error(`${name}: FAILED: ${error.stack || error}`);
    process.exitCode = 1;
  }
}
