// Drives Weir's dashboard in Chromium, as a user would. Run by the Go test
// test/e2e TestDashboard, which starts the node and checks the outcome
// through the API:
//
//   node dashboard.mjs live   BASE_URL ARTIFACT_DIR ACCEPTED_BEFORE
//   node dashboard.mjs replay BASE_URL ARTIFACT_DIR
//
// "live" sees the counts rise after an ingest, the pipeline graph, a live
// view chart updating, a quarantined record opened, and a query run in the
// SQL console. "replay" replays quarantined records after a schema fix.
// Screenshots go to ARTIFACT_DIR. Exit status 0: every check passed.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

const [phase, base, artifacts, acceptedBefore] = process.argv.slice(2);
if (!phase || !base || !artifacts) {
  console.error("usage: node dashboard.mjs live|replay BASE_URL ARTIFACT_DIR [ACCEPTED_BEFORE]");
  process.exit(2);
}
mkdirSync(artifacts, { recursive: true });
const chromiumPath = process.env.CHROMIUM || "/usr/bin/chromium";
const T = 20000; // the longest any one thing may take to show

function fail(msg) {
  throw new Error(msg);
}
const num = (s) => Number(String(s).replace(/[^0-9.-]/g, ""));

async function ingest(n, bad) {
  const now = Date.now();
  const lines = [];
  for (let i = 0; i < n; i++) {
    lines.push(JSON.stringify({ ts: new Date(now - (n - i) * 5).toISOString(), user_id: "u" + (i % 17), url: "/p/" + (i % 5), status: 200 + (i % 3), amount: 1.5, country: ["US", "DE", "FR", "JP"][i % 4] }));
  }
  for (let i = 0; i < bad; i++) {
    lines.push(JSON.stringify({ ts: new Date(now).toISOString(), user_id: "bad" + i, url: "/", status: 200, country: "usa" }));
  }
  const r = await fetch(base + "/v1/streams/clicks/events", { method: "POST", headers: { "Content-Type": "application/x-ndjson" }, body: lines.join("\n") });
  const body = await r.json();
  if (r.status !== 200 || body.accepted !== n || body.quarantined !== bad) fail(`ingest answered ${r.status} ${JSON.stringify(body)}`);
}

async function shot(page, name) {
  await page.screenshot({ path: join(artifacts, name + ".png"), fullPage: true });
}

const browser = await chromium.launch({
  executablePath: chromiumPath,
  headless: true,
  // The machine's network is closed: keep Chromium from calling home.
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
});
const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
const consoleErrors = [];
page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
page.on("pageerror", (e) => consoleErrors.push(e.message));
page.on("dialog", (d) => d.accept());
function checkConsole() {
  if (consoleErrors.length) fail("the page logged errors: " + consoleErrors.join(" | "));
}

try {
  await page.goto(base + "/", { waitUntil: "load" });
  await page.locator("#conn", { hasText: "live" }).waitFor({ timeout: T });

  if (phase === "live") {
    // Counts rise after an ingest.
    const before = Number(acceptedBefore || 0);
    await page.waitForFunction((want) => Number(document.querySelector("#kpi-accepted").textContent.replace(/[^0-9]/g, "")) >= want, before, { timeout: T });
    await ingest(300, 0);
    await page.waitForFunction((want) => Number(document.querySelector("#kpi-accepted").textContent.replace(/[^0-9]/g, "")) >= want, before + 300, { timeout: T });
    const card = page.locator('.stream[data-stream="clicks"]');
    await card.waitFor({ timeout: T });
    for (const id of ["http", "stream:clicks", "view:clicks_live", "view:clicks_per_minute", "sink:lake", "sink:minutes"]) {
      if ((await page.locator(`[data-node="${id}"]`).count()) !== 1) fail(`the pipeline graph has no node ${id}`);
    }
    // A view reading a view sits a column to the right of the one it reads, with an edge from it.
    const x = async (id) => Number((await page.locator(`[data-node="${id}"]`).getAttribute("transform")).match(/translate\(([-\d.]+)/)[1]);
    if ((await page.locator('[data-node="view:busy_minutes"]').count()) !== 1) fail("the pipeline graph has no node view:busy_minutes");
    if (!((await x("view:busy_minutes")) > (await x("view:clicks_per_minute")))) fail("busy_minutes is not drawn right of clicks_per_minute, the view it reads");
    if ((await page.locator('[data-edge="e:view:busy_minutes"]').count()) !== 1) fail("no edge into busy_minutes");
    const label = await page.locator('[data-node="stream:clicks"] .t3').textContent();
    if (num(label.split("accepted")[0]) < before + 300) fail(`the graph's clicks node says "${label}", want at least ${before + 300} accepted`);
    await page.locator('.stream[data-stream="clicks"] .spark canvas').waitFor({ timeout: T });
    await shot(page, "1-overview");

    // A live view chart that updates every second.
    await page.click('nav a[data-tab="views"]');
    await page.selectOption("#view-pick", "clicks_live");
    await page.locator("#view-chart canvas").first().waitFor({ timeout: T });
    await page.waitForFunction(() => /update ([3-9]|\d\d)/.test(document.querySelector("#view-meta").textContent), null, { timeout: T });
    const rows = await page.locator("#view-rows tbody tr").count();
    if (rows < 4) fail(`the clicks_live table shows ${rows} rows, want at least the 4 countries`);
    const legend = await page.locator("#view-chart .u-legend").textContent();
    for (const c of ["US", "DE", "FR", "JP"]) if (!legend.includes(c)) fail(`the chart's legend "${legend}" lacks ${c}`);
    await shot(page, "2-views");

    // The quarantine browser: reasons and the raw record.
    await page.click('nav a[data-tab="quarantine"]');
    await page.locator("#q-table tbody tr[data-offset]").first().waitFor({ timeout: T });
    const nq = await page.locator("#q-table tbody tr[data-offset]").count();
    if (nq !== 3) fail(`the quarantine lists ${nq} records, want 3`);
    await page.locator("#q-table tbody tr[data-offset]").first().click();
    const raw = await page.locator("#q-detail pre.raw").textContent();
    if (!raw.includes('"usa"')) fail(`the opened record shows ${raw}, want the raw event with "usa"`);
    const detail = await page.locator("#q-detail dl").textContent();
    if (!detail.includes("country")) fail(`the record's details do not name the field country: ${detail}`);
    await shot(page, "3-quarantine");

    // The SQL console: a result table, a quick chart, and a clear error.
    await page.click('nav a[data-tab="sql"]');
    await page.fill("#sql-text", "SELECT country, count(*) AS clicks FROM clicks GROUP BY country ORDER BY country");
    await page.click("#sql-run");
    await page.locator("#sql-table tbody tr").nth(3).waitFor({ timeout: T });
    const got = await page.locator("#sql-table tbody tr").allTextContents();
    const total = got.reduce((a, r) => a + num(r.slice(2)), 0);
    if (got.length !== 4 || total !== before + 300) fail(`the console shows ${JSON.stringify(got)}, want 4 countries summing to ${before + 300}`);
    if ((await page.locator("#sql-chart .hbar").count()) !== 4) fail("the console drew no bar per country");
    await shot(page, "4-sql");
    checkConsole();
    await page.fill("#sql-text", "SELEC 1"); // Chromium logs the 400 as an error: expected from here on
    await page.keyboard.press("Control+Enter");
    await page.locator("#sql-error").waitFor({ state: "visible", timeout: T });
    const err = await page.locator("#sql-error").textContent();
    if (!/syntax|SELEC/i.test(err)) fail(`a bad query shows "${err}", want the parser's complaint`);
  } else if (phase === "replay") {
    await page.click('nav a[data-tab="quarantine"]');
    await page.locator("#q-table tbody tr[data-offset]").first().waitFor({ timeout: T });
    await page.locator("#q-table tbody tr[data-offset]").first().click();
    await page.click("#q-replay-one");
    await page.locator("#toast", { hasText: "accepted 1" }).waitFor({ timeout: T });
    await page.locator("#q-table tbody tr.selected .tag.ok", { hasText: "replayed" }).waitFor({ timeout: T });
    await page.click("#q-replay-all");
    await page.locator("#toast", { hasText: "accepted 2" }).waitFor({ timeout: T });
    await page.waitForFunction(() => document.querySelectorAll("#q-table .tag.ok").length === 3, null, { timeout: T });
    await page.locator("#q-summary", { hasText: "3 replayed" }).waitFor({ timeout: T });
    await shot(page, "5-replayed");
  } else {
    fail("unknown phase " + phase);
  }
  if (phase !== "live") checkConsole();
  console.log(`dashboard ${phase}: ok (screenshots in ${artifacts})`);
} catch (e) {
  try { await shot(page, "failed-" + phase); } catch (_) { /* the page may be gone */ }
  console.error(`dashboard ${phase}: ${e.message}`);
  await browser.close();
  process.exit(1);
}
await browser.close();
