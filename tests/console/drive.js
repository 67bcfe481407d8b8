// Drives the console in headless Chromium with playwright-core (tests/console/browser.rs).
// Argument: JSON {url, noScripts} (prints the page as rendered with JavaScript off), or
// {url, shots, sections, lookup: {tenant, to}, start: {api, key, to}, lift}. Steps: load the page (refreshing every 2 s); screenshot each section into
// `shots`; submit a lookup by the form; lift the first block by its button; type into the
// lookup form, start a verification through the API, and wait (bounded) until the
// refresh script shows the new start count, then read the typed value back. Prints one
// JSON line with what it saw. Last, a click on a column heading sorts in place.
const { chromium } = require('playwright-core');

(async () => {
  const a = JSON.parse(process.argv[2]);
  const out = { shots: [] };
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu'],
  });
  if (a.noScripts) {
    // The page as a browser with JavaScript off renders it.
    try {
      const ctx = await browser.newContext({ javaScriptEnabled: false });
      const page = await ctx.newPage();
      const r = await page.goto(a.url);
      out.status = r.status();
      out.html = await page.content();
    } finally {
      await browser.close();
    }
    console.log(JSON.stringify(out));
    return;
  }
  try {
    const page = await browser.newPage({ viewport: { width: 1480, height: 900 } });
    await page.goto(a.url + '?refresh=2');
    for (const id of a.sections) {
      if (id === 'lookup') continue;
      const path = `${a.shots}/${id}.png`;
      await page.locator('#' + id).screenshot({ path });
      out.shots.push(path);
    }
    // The support lookup, by the form.
    await page.selectOption('select[name=tenant]', a.lookup.tenant);
    await page.fill('input[name=to]', a.lookup.to);
    await Promise.all([page.waitForNavigation(), page.click('#lookup-form button')]);
    out.lookupUrl = page.url();
    out.lookupCount = await page.textContent('#lookup-count');
    const path = `${a.shots}/lookup.png`;
    await page.locator('#lookup').screenshot({ path });
    out.shots.push(path);
    // A lift button.
    if (a.lift) {
      await Promise.all([page.waitForNavigation(), page.click('#blocks button')]);
      out.lift = await page.textContent('#lift-result');
    }
    // The refresh swaps the live sections and leaves a half-typed lookup alone.
    await page.goto(a.url + '?refresh=2');
    await page.fill('input[name=to]', '+1415');
    const before = await page.textContent('#total-starts');
    const r = await fetch(a.start.api + '/v1/verifications', {
      method: 'POST',
      headers: { authorization: 'Bearer ' + a.start.key, 'content-type': 'application/json' },
      body: JSON.stringify({ to: a.start.to }),
    });
    out.startStatus = r.status;
    await page.waitForFunction(
      (b) => document.getElementById('total-starts').textContent !== b,
      before,
      { timeout: 20000 },
    );
    out.before = before;
    out.after = await page.textContent('#total-starts');
    out.refreshed = await page.evaluate(() => document.body.dataset.refreshed);
    out.typed = await page.inputValue('input[name=to]');
    // A column heading sorts in place: no page load (the marker survives), the rows
    // reordered, the sort in the address.
    await page.evaluate(() => { window.marker = 'kept'; });
    const firstBefore = await page.getAttribute('#countries tbody tr', 'data-key');
    await page.click('#countries th a:text-is("starts")');
    await page.waitForFunction(
      () => document.querySelector('#countries tbody tr').dataset.key === 'US',
      null,
      { timeout: 5000 },
    );
    out.sort = {
      firstBefore,
      first: await page.getAttribute('#countries tbody tr', 'data-key'),
      marker: await page.evaluate(() => window.marker),
      search: await page.evaluate(() => location.search),
    };
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(out));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
