// Headless Chromium reads the status page as a person would, with JavaScript off (the page must
// not need it), checks it against /api/status, clicks through to an order's timeline, checks
// framing, and saves screenshots.
//
//   MLC_STATUS_TOKEN=<read token> node tests/browser/status-page.mjs <status-url> <screenshot.png>
//
// The pages need the read token: the browser gets it as a login (any user name, the token as the
// password), as a person would type it into Chromium's prompt.
// Exits 0 when every check holds; prints what failed otherwise. Uses playwright-core (npm ci at
// the repository root) with Debian's /usr/bin/chromium (or $CHROMIUM): no browser download.

import { chromium } from 'playwright-core';
import path from 'node:path';
import fs from 'node:fs';
import http from 'node:http';

const [statusUrl, shot] = process.argv.slice(2);
if (!statusUrl || !shot) {
  console.error('usage: node tests/browser/status-page.mjs <status-url> <screenshot.png>');
  process.exit(2);
}
fs.mkdirSync(path.dirname(shot), { recursive: true });
const shotOrder = shot.replace(/\.png$/, '') + '-order.png';
const base = new URL(statusUrl);
const token = process.env.MLC_STATUS_TOKEN || '';
const credentials = { username: 'status', password: token };
const auth = { Authorization: `Bearer ${token}` };

const failures = [];
function check(cond, what) {
  console.log(`${cond ? 'ok  ' : 'FAIL'} ${what}`);
  if (!cond) failures.push(what);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--no-first-run',
    '--disable-sync',
  ],
});
try {
  // What the page must show, from the JSON twin.
  const api = await (await fetch(new URL('/api/status', base), { headers: auth })).json();
  check(api.held.length >= 1, 'the API lists a held order');
  check(api.attention.length >= 1, 'the API lists an order needing attention');
  const held = api.held[0];
  const attention = api.attention[0];

  // Without the token, the browser is asked for it (headless Chromium cannot show the prompt and
  // gives up the navigation) and the answer shows nothing of the page.
  const anonymous = await browser.newContext({ javaScriptEnabled: false });
  const navigation = await (await anonymous.newPage()).goto(statusUrl).then(
    (r) => `HTTP ${r.status()}`,
    (e) => String(e.message || e).split('\n')[0],
  );
  check(/401|AUTH/.test(navigation), `without the token the page does not open: ${navigation}`);
  const refused = await anonymous.request.get(statusUrl);
  check(refused.status() === 401, `without the token, ${statusUrl} answers 401`);
  check((refused.headers()['www-authenticate'] || '').startsWith('Basic'), 'and asks for a login');
  check(!(await refused.text()).includes('Needs attention'), 'and shows none of the page');
  await anonymous.close();

  const context = await browser.newContext({
    javaScriptEnabled: false,
    viewport: { width: 1200, height: 900 },
    httpCredentials: credentials,
  });
  const page = await context.newPage();
  const dialogs = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    d.dismiss();
  });
  const resp = await page.goto(statusUrl);
  check(resp.status() === 200, `GET ${statusUrl} answers 200`);
  const csp = (await resp.headerValue('content-security-policy')) || '';
  check(csp.includes("frame-ancestors 'self'"), `CSP limits framing: ${csp}`);

  check((await page.title()).includes('ml-connector'), 'the title names ml-connector');
  check((await page.locator('script').count()) === 0, 'the page has no script element');
  check(
    (await page.locator('#x3 .badge').innerText()).trim() === api.x3.verdict,
    `X3 health shows "${api.x3.verdict}"`,
  );
  check(
    (await page.locator('#queue-depth').innerText()).trim() === String(api.queue.depth),
    'queue depth matches the API',
  );
  for (const [state, n] of Object.entries(api.orders)) {
    const cell = page.locator(`#count-${state}`);
    if ((await cell.count()) === 0) continue;
    check((await cell.innerText()).trim() === String(n), `${n} order(s) ${state}`);
  }

  // The held order, with its missing mapping and the shopper's name shown as text.
  const heldRow = page.locator(`#held tr[data-order="${held.order_id}"]`);
  check((await heldRow.count()) === 1, `held order #${held.order_id} is listed`);
  const heldText = await heldRow.innerText();
  check(heldText.includes(held.customer), `its customer reads as text: ${held.customer}`);
  for (const m of held.missing) {
    for (const key of m.tried) {
      check(heldText.includes(key), `its missing key ${key} is shown`);
    }
  }

  // The order X3 refused, with X3's message.
  const attRow = page.locator(`#attention tr[data-order="${attention.order_id}"]`);
  check((await attRow.count()) === 1, `order #${attention.order_id} needing attention is listed`);
  const attText = await attRow.innerText();
  check(attText.includes(attention.customer), `its customer reads as text: ${attention.customer}`);
  check(attText.includes(attention.message), `X3's message is shown: ${attention.message}`);

  // Charts: inline SVG with a bar per minute that had postings.
  check((await page.locator('svg.chart').count()) === 2, 'two inline SVG charts');
  const bars = await page.locator('#chart-posted rect').count();
  check(bars >= 1, `the throughput chart has bars (${bars})`);
  const box = await page.locator('#chart-posted').boundingBox();
  check(box && box.width > 200 && box.height > 40, 'the throughput chart is drawn at a readable size');
  // Every axis label inside its chart (the lag's top label used to run off the left edge).
  for (const id of ['chart-posted', 'chart-lag']) {
    const chart = await page.locator(`#${id}`).boundingBox();
    const labels = page.locator(`#${id} > text`);
    let inside = true;
    for (let i = 0; i < (await labels.count()); i++) {
      const b = await labels.nth(i).boundingBox();
      if (b && (b.x < chart.x - 0.5 || b.x + b.width > chart.x + chart.width + 0.5)) inside = false;
    }
    check(inside, `the labels of #${id} are not clipped`);
  }
  const lagText = await page.locator('#throughput p.muted').innerText();
  check(!/\d{4,} ms/.test(lagText), `lag reads as a duration: ${lagText}`);
  check(
    (await page.locator('img, link[rel=stylesheet], iframe').count()) === 0,
    'no external asset',
  );

  await page.screenshot({ path: shot, fullPage: true });
  console.log(`screenshot: ${shot}`);

  // Click through to the refused order's timeline.
  await Promise.all([page.waitForURL(`**/status/orders/${attention.order_id}`), attRow.locator('a').first().click()]);
  check(
    (await page.locator('h1').innerText()).includes(`#${attention.order_id}`),
    'the order page names the order',
  );
  const timelineRows = await page.locator('#timeline tr').count();
  check(timelineRows >= 2, `the timeline has entries (${timelineRows - 1})`);
  check((await page.locator('#ledger').count()) === 1, 'the ledger section is there');
  check(
    ((await page.locator('#message').innerText()) || '').includes(attention.message),
    'the order page shows X3\'s message',
  );
  check((await page.locator('h1 .badge').innerText()).trim() === attention.state, `state ${attention.state}`);
  await page.screenshot({ path: shotOrder, fullPage: true });
  console.log(`screenshot: ${shotOrder}`);
  check(dialogs.length === 0, `no shopper's script ran (${dialogs.join(', ')})`);
  await context.close();

  // Framing: a listed origin may frame the page; any other may not. Both parents are served
  // from loopback (Chromium's Local Network Access blocks a public page from framing 127.0.0.1
  // whatever the CSP says, so a public origin proves nothing here). The listed one is the first
  // http://127.0.0.1:PORT origin in frame-ancestors; the other is the same page on a free port.
  const listed = (csp.match(/frame-ancestors ([^;]*)/)?.[1] || '')
    .split(/\s+/)
    .find((o) => /^http:\/\/127\.0\.0\.1:\d+$/.test(o));
  async function framedText(port) {
    const parent = http.createServer((_, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(`<h1>admin</h1><iframe src="${statusUrl}" width="900" height="500"></iframe>`);
    });
    await new Promise((ok) => parent.listen(port, '127.0.0.1', ok));
    const ctx = await browser.newContext({ httpCredentials: credentials });
    const p = await ctx.newPage();
    try {
      await p.goto(`http://127.0.0.1:${parent.address().port}/embed`);
      await p.waitForTimeout(1000);
      const frame = p.frames().find((f) => f !== p.mainFrame());
      return frame ? await frame.locator('body').innerText({ timeout: 2000 }) : '';
    } catch {
      return '';
    } finally {
      await ctx.close();
      parent.close();
    }
  }
  if (listed) {
    const port = Number(new URL(listed).port);
    check((await framedText(port)).includes('Needs attention'), `${listed} may frame the page`);
  } else {
    console.log('skip: no http://127.0.0.1:PORT origin in frame-ancestors to frame from');
  }
  check(!(await framedText(0)).includes('Needs attention'), 'another origin cannot frame the page');
} catch (e) {
  failures.push(String(e && e.stack ? e.stack : e));
  console.error(e);
} finally {
  await browser.close();
}

if (failures.length) {
  console.error(`${failures.length} check(s) failed:\n- ${failures.join('\n- ')}`);
  process.exit(1);
}
console.log('status page: all checks passed');
