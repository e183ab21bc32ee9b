// The walk-through in a real shop (issue 14): headless Chromium drives WordPress 6.8.8 with
// WooCommerce 10.0.2 as a new merchant would, against the real host and x3-sim (tests/wp/run
// woocommerce sets everything up; the host knows X3 but has no key for the shop yet):
//   log in; the plugin under WooCommerce, declared compatible with HPOS; save the host URL and
//   token (the host's "Consumer key is invalid" alert shows); connect the store (a REST key made,
//   webhooks registered in WooCommerce, the alert gone at once); map the catalogue with the
//   picker, rows added in place, one save; coverage; orders placed with WooCommerce's own PHP API
//   and delivered by its Action Scheduler through the plugin's delivery filters, seen posted on
//   the Status tab; one refunded (an X3 credit note), one cancelled (the X3 order closed).
// Every screen is checked for real data and photographed.
//
//   node tests/wp/browser-woocommerce.mjs <screenshot dir>
//
// Environment (tests/wp/run): WP_URL, WP_DIR, WP_PASSWORD, HOST_URL, HOST_TOKEN_FILE, X3_URL,
// X3_PASSWORD, WC_CATALOGUE (the shop's product ids), WC_SHOP (tests/wp/wc-shop.php).

import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const outDir = process.argv[2] || 'test-output/wp-woocommerce';
fs.mkdirSync(outDir, { recursive: true });
const { WP_URL, WP_DIR, WP_PASSWORD, HOST_URL, HOST_TOKEN_FILE, X3_URL, X3_PASSWORD, WC_CATALOGUE, WC_SHOP } = process.env;
const token = fs.readFileSync(HOST_TOKEN_FILE, 'utf8').trim();
const H = { Authorization: `Bearer ${token}` };
const catalogue = JSON.parse(fs.readFileSync(WC_CATALOGUE, 'utf8'));
const page_ = (tab) => `${WP_URL}/wp-admin/admin.php?page=ml-connector&tab=${tab}`;

let passed = 0;
const failures = [];
function check(cond, what) {
  console.log(`${cond ? 'ok  ' : 'FAIL'} ${what}`);
  if (cond) passed++;
  else failures.push(what);
}
async function shot(page, name) {
  const file = path.join(outDir, `${name}.png`);
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: file, fullPage: true });
  console.log(`screenshot: ${file}`);
}
async function submit(page, selector) {
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click(selector)]);
}
// The shop, through WooCommerce's PHP API (tests/wp/wc-shop.php).
function shop(...args) {
  return JSON.parse(execFileSync('php', [WC_SHOP, WP_DIR, WP_URL, ...args], { encoding: 'utf8' }).trim().split('\n').pop());
}
async function hostGet(p) {
  return (await fetch(`${HOST_URL}${p}`, { headers: H })).json();
}
async function x3Records(cls) {
  const state = await (await fetch(`${X3_URL}/__sim/state`)).json();
  return state.records[cls] || [];
}
async function waitFor(what, cond, seconds = 60) {
  let last;
  for (let i = 0; i < seconds * 5; i++) {
    last = await cond();
    if (last) return last;
    await new Promise((ok) => setTimeout(ok, 200));
  }
  check(false, `${what} (gave up after ${seconds} s)`);
  return last;
}
async function text(page, selector) {
  return ((await page.locator(selector).first().innerText().catch(() => '')) || '').replace(/\s+/g, ' ');
}
const bodies = [];

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});
try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  page.setDefaultTimeout(60000);
  page.on('response', async (r) => {
    try {
      if ((r.headers()['content-type'] || '').match(/html|json|javascript|text/)) bodies.push([r.url(), await r.text()]);
    } catch {
      /* redirects have no body */
    }
  });

  // Log in; the plugins screen: WooCommerce and the plugin active, no feature incompatibility.
  await page.goto(`${WP_URL}/wp-login.php`);
  await page.fill('#user_login', 'admin');
  await page.fill('#user_pass', WP_PASSWORD);
  await Promise.all([page.waitForURL('**/wp-admin/**'), page.click('#wp-submit')]);
  check(page.url().includes('/wp-admin/'), 'logged in to WordPress 6.8.8');
  await page.goto(`${WP_URL}/wp-admin/plugins.php`);
  const pluginRow = page.locator('tr[data-plugin="ml-connector/ml-connector.php"]');
  check((await pluginRow.getAttribute('class') || '').includes('active'), 'the plugin is active');
  check((await page.locator('tr[data-plugin="woocommerce/woocommerce.php"]').getAttribute('class') || '').includes('active'), 'WooCommerce 10.0.2 is active');
  const plugins = await text(page, '#wpbody-content');
  check(!/incompatible with the enabled WooCommerce features/i.test(plugins), 'WooCommerce flags no incompatibility (HPOS declared)');
  await shot(page, '01-plugins');

  // The page is under the WooCommerce menu.
  const menuLink = page.locator('#toplevel_page_woocommerce a[href*="page=ml-connector"]');
  check((await menuLink.count()) === 1, `WooCommerce → ${await menuLink.first().innerText().catch(() => '?')} in the menu`);
  await page.goto(page_('settings'));
  check((await page.locator('h1').first().innerText()).includes('ml-connector'), 'the plugin page opens (admin.php?page=ml-connector)');
  check((await page.locator('#ml-connector-woocommerce-missing').count()) === 0, 'WooCommerce is found: no "not active" explanation');

  // Connection to the host.
  await page.fill('#ml_connector_host_url', HOST_URL);
  await page.fill('#ml_connector_admin_token', token);
  await submit(page, '#ml-connector-save-connection');
  check((await page.inputValue('#ml_connector_host_url')) === HOST_URL, 'the host URL is saved');
  check((await page.locator('#ml-connector-host-form').count()) === 1, 'the host\'s settings are shown');
  check((await page.inputValue('#mlc-x3-base-url')) === X3_URL, `the host's X3: ${X3_URL}`);
  check((await page.locator('#ml-connector-connect-form').count()) === 1, 'Connect the store has its button');
  // The host has no key for the shop yet: its monitor's alert is on every admin page.
  await page.goto(`${WP_URL}/wp-admin/index.php`);
  const alertText = await text(page, '.ml-connector-alert');
  check(/Consumer key is invalid|could not be read/i.test(alertText), `before connecting, the host's alert shows: ${alertText.slice(0, 120)}`);
  await page.goto(page_('settings'));
  await shot(page, '02-settings-before-connect');

  // Connect the store: a REST key, handed to the host, webhooks registered by the host.
  await submit(page, '#ml-connector-connect-form input[type=submit]');
  const connected = await text(page, '#ml-connector-result');
  check(connected.includes('Store connected') && connected.includes('order.created (created)'), `connected: ${connected}`);
  check((await page.locator('.ml-connector-alert').count()) === 0, 'the stale "Consumer key is invalid" alert is gone at once');
  const settings = await hostGet('/api/admin/settings');
  check(settings.woocommerce['consumer-key'].startsWith('ck_') && settings.woocommerce.url === `${WP_URL}/`, `the host has the key (${settings.woocommerce['consumer-key'].slice(0, 6)}…) and the site URL`);
  const hooks = shop('webhooks');
  const delivery = settings.woocommerce['delivery-url'];
  const ours = hooks.filter((w) => w.delivery_url === delivery);
  check(ours.length === 4 && ours.every((w) => w.status === 'active'), `4 active webhooks in WooCommerce deliver to ${delivery}`);
  const pings = (await hostGet('/api/status')).store.pings;
  check(pings >= 4, `WooCommerce's pings reached the host through the delivery filters (${pings})`);
  await shot(page, '03-store-connected');
  await page.goto(`${WP_URL}/wp-admin/admin.php?page=wc-settings&tab=advanced&section=keys`);
  check((await text(page, '#wpbody-content')).includes('ml-connector - API ('), 'WooCommerce lists the key the plugin made');
  await shot(page, '04-woocommerce-rest-keys');
  await page.goto(`${WP_URL}/wp-admin/admin.php?page=wc-settings&tab=advanced&section=webhooks`);
  const hookScreen = await text(page, '#wpbody-content');
  check(hookScreen.includes('ml-connector: order.created') && hookScreen.includes('ml-connector: order.restored'), 'WooCommerce lists our four webhooks');
  await shot(page, '05-woocommerce-webhooks');

  // Mapping: rows added in place, the picker sets the key type, one save.
  await page.goto(page_('mapping'));
  const options = await page.locator('#ml-connector-products option').evaluateAll((os) => os.map((o) => `${o.dataset.type}:${o.value}`));
  check(options.length === new Set(options).size, `the picker lists each product, variation and SKU once (${options.length} suggestions)`);
  check(options.includes(`variation:${catalogue.red}`) && options.includes('sku:WOO-HOODIE-RED'), 'with the variations and their SKUs');
  check((await page.locator('#ml-connector-mapping tbody tr[data-index]').count()) === 1, 'an empty table: one line to fill');
  for (let i = 0; i < 4; i++) await page.click('#ml-connector-add-row');
  check((await page.locator('#ml-connector-mapping tbody tr[data-index]').count()) === 5, '"Add a row" adds rows in place, without saving');
  const rows = [
    { key: 'WOO-MUG', item: 'MUG', gl: '706200', dims: 'CCT=WEB;DEP=HOME', type: 'sku' },
    { key: String(catalogue.red), item: 'HOODIE-RED', gl: '706100', dims: 'CCT=WEB;DEP=APPAREL', type: 'variation' },
    { key: String(catalogue.blue), item: 'HOODIE-BLUE', gl: '706100', dims: 'CCT=WEB;DEP=APPAREL', type: 'variation' },
    { key: 'WOO-CAP', item: 'CAP', gl: '706100', dims: 'CCT=WEB', type: 'sku' },
    { key: 'flat_rate', item: 'CARRIAGE', gl: '708500', dims: '', type: 'shipping', select: 'shipping' },
  ];
  const indexes = await page.locator('#ml-connector-mapping tbody tr[data-index]').evaluateAll((rs) => rs.map((r) => r.dataset.index));
  for (const [n, r] of rows.entries()) {
    const i = indexes[n];
    if (r.select) await page.selectOption(`select[name="rows[${i}][key_type]"]`, r.select);
    // Typing a suggestion's value is what choosing it in the list does (an input event).
    await page.fill(`input[name="rows[${i}][key]"]`, r.key);
    await page.fill(`input[name="rows[${i}][item_code]"]`, r.item);
    await page.fill(`input[name="rows[${i}][sales_unit]"]`, 'UN');
    await page.fill(`input[name="rows[${i}][gl_account]"]`, r.gl);
    await page.fill(`input[name="rows[${i}][dimensions]"]`, r.dims);
  }
  check((await page.inputValue(`select[name="rows[${indexes[1]}][key_type]"]`)) === 'variation', 'choosing "variation: Hoodie - Red" sets the key type to variation');
  check((await page.inputValue(`select[name="rows[${indexes[0]}][key_type]"]`)) === 'sku', 'choosing a SKU keeps sku');
  await submit(page, '#ml-connector-save-mapping');
  check((await text(page, '#ml-connector-result')).includes('5 rows'), 'one save stores the five rows');
  const mapping = await hostGet('/api/admin/mapping');
  check(
    JSON.stringify(mapping.map((r) => r.key_type)) === JSON.stringify(rows.map((r) => r.type)) && mapping[1].key === String(catalogue.red) && mapping[1].dimensions.DEP === 'APPAREL',
    `the host has them with their key types: ${mapping.map((r) => `${r.key_type}:${r.key}`).join(', ')}`,
  );
  // Whole values are shown: no field is narrower than its text.
  const cut = await page.locator('#ml-connector-mapping input[type=text]').evaluateAll((is) => is.filter((i) => i.value && i.scrollWidth > i.clientWidth + 1).map((i) => i.value));
  check(cut.length === 0, `every value is shown whole${cut.length ? ': cut ' + cut.join(', ') : ''}`);
  check((await page.inputValue('input[value="CCT=WEB;DEP=APPAREL"]')) === 'CCT=WEB;DEP=APPAREL', 'CCT=WEB;DEP=APPAREL, not CCT=WEB;DEP=APPAR');
  await shot(page, '06-mapping');

  // Coverage: the host reads the real catalogue over REST.
  await page.goto(page_('coverage'));
  const coverage = await text(page, '#ml-connector-coverage-summary');
  check(/4 of 4 /.test(coverage), `coverage: ${coverage}`);
  await shot(page, '07-coverage');

  // Orders, placed with WooCommerce's PHP API and delivered by its Action Scheduler.
  const placed = shop('place', '3', 'WOO-MUG,WOO-HOODIE-RED').orders;
  check(placed.length === 3, `3 orders placed and paid: #${placed.join(', #')}`);
  const delivered = shop('deliver');
  check(delivered.pending === 0, `Action Scheduler delivered the webhooks (${delivered.ran} actions run)`);
  const byRef = async () => {
    const refs = {};
    for (const o of await x3Records('SORDER')) refs[o.CUSORDREF] = (refs[o.CUSORDREF] || 0) + 1;
    return refs;
  };
  const refs = await waitFor('the orders reach X3', async () => {
    const r = await byRef();
    return placed.every((id) => r[`WC-${id}`]) ? r : null;
  });
  check(refs && placed.every((id) => refs[`WC-${id}`] === 1), 'each order is in X3 once');
  await page.goto(page_('status'));
  const frameEl = page.locator('#ml-connector-status-frame');
  const frame = page.frameLocator('#ml-connector-status-frame');
  await frame.locator('#count-posted').waitFor();
  check(Number(await frame.locator('#count-posted').innerText()) >= 3, `the Status tab shows ${await frame.locator('#count-posted').innerText()} posted`);
  check(/\d+ (ms|s|min)/.test(await frame.locator('#throughput p.muted').innerText()), `lag in words: ${await frame.locator('#throughput p.muted').innerText()}`);
  const webhooksTable = await text(page, '#ml-connector-webhooks');
  check(webhooksTable.includes('order.created') && webhooksTable.includes('active'), 'the tab lists the webhooks, active');
  // The frame is as tall as the page it shows: "Needs attention" and everything below it are in view.
  await page.waitForFunction(() => {
    const f = document.getElementById('ml-connector-status-frame');
    return f && f.contentDocument && f.contentDocument.readyState === 'complete' && f.contentDocument.body && f.getBoundingClientRect().height >= f.contentDocument.body.scrollHeight;
  });
  const box = await frameEl.boundingBox();
  const inner = await frame.locator('body').evaluate((b) => b.scrollHeight);
  check(box.height >= inner && box.height <= inner + 40, `the frame (${Math.round(box.height)} px) is as tall as its page (${inner} px)`);
  const attentionBox = await frame.locator('#attention').boundingBox();
  check(attentionBox && attentionBox.y + attentionBox.height <= box.y + box.height, '"Needs attention" is inside the frame, not cut off');
  await shot(page, '08-status-posted');

  // Refund one (an X3 credit note), cancel another (the X3 order closed).
  const refund = shop('refund', String(placed[0])).refund;
  shop('cancel', String(placed[1]));
  shop('deliver');
  const credit = await waitFor('the credit note reaches X3', async () => (await x3Records('SINVOICE')).find((i) => i.CUSORDREF === `WC-${placed[0]}R${refund}`));
  check(credit && credit.SIVTYP === 'AVO', `refund ${refund} of #${placed[0]} is credit note ${credit?.CUSORDREF} (${credit?.SIVTYP})`);
  const closed = await waitFor('the cancellation reaches X3', async () => (await x3Records('SORDER')).find((o) => o.CUSORDREF === `WC-${placed[1]}` && o.ORDSTA === 2));
  check(Boolean(closed), `#${placed[1]} cancelled: its X3 order is closed (ORDSTA 2)`);
  const cancelledOrder = await waitFor('the host records the cancellation', async () => {
    const o = await hostGet(`/api/admin/orders/${placed[1]}`);
    return o.state === 'cancelled' ? o : null;
  });
  check(cancelledOrder?.state === 'cancelled', `the host's order #${placed[1]} is cancelled`);
  await page.goto(page_('status'));
  await frame.locator('#count-cancelled').waitFor();
  check((await frame.locator('#count-cancelled').innerText()) === '1', 'the Status tab counts the cancelled order');
  await shot(page, '09-status-refund-and-cancel');
  // A posted order is not listed on the overview: its page, through the proxy.
  const src = await frameEl.getAttribute('src');
  await frameEl.evaluate((f, s) => { f.src = s; }, `${src}&order=${placed[0]}`);
  await frame.locator('h1', { hasText: `#${placed[0]}` }).waitFor();
  const timeline = await frame.locator('#timeline').innerText();
  check(timeline.includes('refunded') && timeline.includes(`WC-${placed[0]}R${refund}`), 'the order\'s page shows the refund on its timeline');
  await page.waitForFunction(() => {
    const f = document.getElementById('ml-connector-status-frame');
    return f && f.contentDocument && f.contentDocument.readyState === 'complete' && f.contentDocument.body && f.getBoundingClientRect().height >= f.contentDocument.body.scrollHeight;
  });
  await shot(page, '10-order-refunded');

  // WooCommerce's own orders screen (HPOS) with the same orders.
  await page.goto(`${WP_URL}/wp-admin/admin.php?page=wc-orders`);
  const list = await text(page, '#wpbody-content');
  check(placed.every((id) => list.includes(`#${id}`)) && list.includes('Cancelled'), 'WooCommerce\'s orders screen lists them');
  await shot(page, '11-woocommerce-orders');

  const leaks = bodies.filter(([, b]) => b.includes(token)).map(([u]) => u);
  check(leaks.length === 0, `the admin token is in no page the browser received (${bodies.length} checked)${leaks.length ? ': ' + leaks.join(', ') : ''}`);
  check(bodies.every(([, b]) => !b.includes(X3_PASSWORD)), 'nor the X3 password');
  await context.close();
} catch (e) {
  console.log(`FAIL ${e.stack || e}`);
  failures.push(String(e));
} finally {
  await browser.close();
}
console.log(`${passed} passed, ${failures.length} failed`);
process.exit(failures.length ? 1 : 0);
