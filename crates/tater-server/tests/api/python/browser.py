"""Drives Tater's web application in Debian's Chromium through Playwright (an independent
browser, not Tater's code), and reports what a person would see.

Usage: browser.py BASE_URL EMAIL PASSWORD SCREENSHOT_DIR POAM_ID
  The account belongs to two organizations, a Viewer in the second, which holds the POA&M
  item POAM_ID. The Entra ID stand-in signs in a member of a third organization. Prints one JSON object of observations; the Rust
  test asserts on them.
"""
import asyncio
import json
import os
import sys

from playwright.async_api import async_playwright

CHROMIUM = "/usr/bin/chromium"
# axe-core, vendored for the tests (vendor/axe-core/README.md); injected through the DevTools
# protocol, so the pages' CSP stays as it is.
AXE = os.path.join(os.path.dirname(__file__), "..", "vendor", "axe-core", "axe.min.js")
# What axe must not find on any page: serious or critical violations; and text whose contrast
# axe could not decide ("incomplete": text on SVG shapes, overlapping boxes) is measured here,
# foreground against the first painted box or shape under its centre, and must reach WCAG AA
# (4.5:1, or 3:1 for large text).
AXE_CHECK = """
(async () => {
  const channel = c => c.match(/[\\d.]+/g).slice(0, 4).map(Number);
  const lum = c => channel(c).slice(0, 3).map(v => v / 255)
    .map(v => v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4))
    .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  const painted = c => c && c.startsWith('rgb') && (channel(c)[3] === undefined || channel(c)[3] === 1);
  const SHAPES = ['rect', 'path', 'circle', 'polygon', 'ellipse'];
  const measure = el => {
    el.scrollIntoView({ block: 'center' });
    const s = getComputedStyle(el);
    const fg = el instanceof SVGElement ? s.fill : s.color;
    const box = el.getBoundingClientRect();
    let bg = null;
    for (const u of document.elementsFromPoint(box.left + box.width / 2, box.top + box.height / 2)) {
      if (u === el || el.contains(u)) continue;
      const us = getComputedStyle(u);
      const c = u instanceof SVGElement
        ? (SHAPES.includes(u.tagName) ? us.fill : null) : us.backgroundColor;
      if (painted(c)) { bg = c; break; }
    }
    bg = bg || 'rgb(255, 255, 255)';
    const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    const size = parseFloat(s.fontSize), bold = parseInt(s.fontWeight) >= 700;
    const needed = size >= 24 || (size >= 18.66 && bold) ? 3 : 4.5;
    return { fg, bg, ratio: Math.round((hi + 0.05) / (lo + 0.05) * 100) / 100, needed };
  };
  const r = await axe.run(document, { resultTypes: ['violations', 'incomplete'] });
  const found = r.violations
    .filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => v.id + ' (' + v.impact + '): ' + v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', '));
  for (const v of r.incomplete.filter(v => v.id === 'color-contrast')) {
    for (const n of v.nodes) {
      const el = document.querySelector(n.target[0]);
      const m = el ? measure(el) : null;
      if (!m || m.ratio < m.needed) {
        found.push('color-contrast (measured): ' + n.target.join(' ') + ' ' + JSON.stringify(m));
      }
    }
  }
  window.scrollTo(0, 0);
  return found;
})()
"""
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update"]

# Collects Content-Security-Policy violations the page reports (the init script runs through
# the DevTools protocol, outside the page's CSP).
CSP_WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
document.addEventListener('htmx:afterSettle', () => { window.__settledAt = location.href; });
"""


async def live_results(page, expect_in_url):
    """Waits until htmx has swapped in the results for a URL containing `expect_in_url` (the
    filters apply as they are typed; htmx pushes the URL before it swaps)."""
    await page.wait_for_function(
        "f => (window.__settledAt || '').includes(f)", arg=expect_in_url, timeout=10000)


async def main(base, email, password, shots, theirs):
    seen = {"console": [], "csp": [], "visited": []}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = await browser.new_context(viewport={"width": 1280, "height": 900})
        await context.add_init_script(CSP_WATCH)
        await context.add_init_script(path=AXE)
        seen["accessibility"] = {}
        beacons = []
        context.on("request", lambda r: "/app/beacon" in r.url and beacons.append(r.url))
        page = await context.new_page()

        def watch(tab):
            """Collects the tab's console errors and warnings and its script errors."""
            tab.on("console", lambda m: m.type in ("error", "warning")
                   and seen["console"].append(f"{tab.url}: {m.text}"))
            tab.on("pageerror", lambda e: seen["console"].append(f"{tab.url}: {e}"))

        async def checked(tab):
            """The page in `tab`: its CSP violations and what axe finds on it."""
            seen["visited"].append(tab.url)
            seen["csp"] += await tab.evaluate("window.__csp || []")
            path = tab.url.split("?")[0].replace(base, "")
            found = await tab.evaluate(AXE_CHECK)
            if found:
                seen["accessibility"][path] = found

        async def visited():
            await checked(page)

        watch(page)

        # Not signed in: the dashboard sends the browser to the sign-in page.
        await page.goto(base + "/app")
        seen["unsignedLandsOn"] = page.url
        await visited()

        # A wrong password keeps the browser on the form, with a message.
        await page.fill("#email", email)
        await page.fill("#password", "not the password")
        await page.click("button[type=submit]")
        await page.wait_for_load_state()
        seen["wrongPassword"] = {
            "url": page.url,
            "message": await page.locator("#sign-in-error").inner_text(),
        }
        await visited()

        # Signed in: the dashboard, and the session cookie as the browser keeps it.
        await page.fill("#password", password)
        await page.click("button[type=submit]")
        await page.wait_for_load_state()
        seen["signedInOn"] = page.url
        seen["title"] = await page.title()
        seen["heading"] = await page.locator("h1").inner_text()
        seen["score"] = await page.locator(".gauge-label").text_content()
        seen["failing"] = await page.locator("table.list tbody td:nth-child(2)").all_inner_texts()
        seen["heatCell"] = await page.locator(
            "svg.heat a[href='/app/risks?likelihood=3&impact=4'] text").text_content()
        await visited()
        cookies = await context.cookies()
        seen["cookies"] = [{k: c[k] for k in ("name", "secure", "httpOnly", "sameSite", "path")}
                           for c in cookies]
        # Script in the page cannot read the session cookie.
        seen["scriptSeesCookie"] = await page.evaluate("document.cookie")
        await page.screenshot(path=f"{shots}/dashboard.png", full_page=True)

        # A form post without the CSRF token, from the page itself: refused (the browser logs
        # the refusal; it is this step's expected outcome, kept apart from the page's errors).
        before = len(seen["console"])
        seen["postWithoutToken"] = await page.evaluate(
            """fetch('/app/sign-out', {method: 'POST',
                 headers: {'content-type': 'application/x-www-form-urlencoded'}, body: ''})
               .then(r => r.status)""")
        await page.wait_for_timeout(100)
        seen["expectedRefusals"] = seen["console"][before:]
        del seen["console"][before:]

        # A POA&M item with two milestones, from the form.
        await page.click("nav >> text=POAM items")
        await page.click("text=New POAM item")
        await page.fill("#i-title", "Rotate the VPN certificates")
        await page.fill("[id='i-weaknessDescription']", "Certificates expire in March.")
        await page.select_option("#i-impact", "High")
        await page.fill("#i-controls", "SC-12, IA-5")
        await page.fill("[id='i-milestones[0].description']", "Order new certificates")
        await page.fill("[id='i-milestones[0].scheduledCompletion']", "2030-01-15")
        await page.fill("[id='i-milestones[1].description']", "Deploy to every gateway")
        await page.select_option("[id='i-milestones[1].status']", "In Progress")
        await page.click("button.primary")
        await page.wait_for_load_state()
        seen["created"] = {
            "url": page.url,
            "title": await page.locator("h1").inner_text(),
            "milestones": await page.locator("dl.record table tbody tr").count(),
        }
        await visited()
        await page.screenshot(path=f"{shots}/poam-item.png", full_page=True)

        # Found again by filter, and downloaded as CSV with the filter kept.
        await page.click("text=All POAM items")
        await page.wait_for_load_state()
        await page.select_option("#f-impact", "High")
        await page.fill("#f-q", "VPN")
        # No "Apply": htmx runs the filter as it is typed, and keeps it in the address.
        await live_results(page, "q=VPN")
        seen["filteredUrl"] = page.url
        seen["filtered"] = await page.locator("table.records tbody tr td:first-child").all_inner_texts()
        await visited()
        await page.screenshot(path=f"{shots}/poam-list.png", full_page=True)
        seen["csvHref"] = await page.get_attribute("a[download] >> text=CSV", "href")
        async with page.expect_download() as info:
            await page.click("a[download] >> text=CSV")
        download = await info.value
        path = await download.path()
        with open(path, encoding="utf-8") as f:
            seen["csv"] = f.read()
        seen["csvName"] = download.suggested_filename

        # A control found by filter, and its overlay edited.
        await page.click("nav >> text=Controls")
        await page.select_option("#f-framework", "nist-800-53-rev5-moderate")
        await page.select_option("#f-family", "sc")
        await page.fill("#f-q", "cryptographic key")
        await page.click("form.filters button")
        await live_results(page, "q=cryptographic")
        seen["controlsFound"] = await page.locator("table.records tbody tr td:first-child a").all_inner_texts()
        await visited()
        await page.click("text=SC-12")
        await page.wait_for_load_state()
        await page.select_option("#i-implementationStatus", "partial")
        await page.fill("#i-narrative", "Keys live in the HSM; rotation is manual.")
        await page.click("text=Save the overlay")
        await page.wait_for_load_state()
        seen["overlayStatus"] = await page.locator(
            "dl.record dt:has-text('Implementation status') + dd").inner_text()
        await visited()
        await page.screenshot(path=f"{shots}/control.png", full_page=False)

        # Both changes in the Activity Log, made through the web.
        await page.click("nav >> text=Activity Log")
        await page.wait_for_load_state()
        await page.select_option("#f-via", "web")
        await live_results(page, "via=web")
        seen["activity"] = await page.locator("table.activity tbody tr").all_inner_texts()
        await visited()
        await page.screenshot(path=f"{shots}/activity-log.png", full_page=True)
        await page.click("text=Verify the chain and signatures")
        await page.wait_for_load_state()
        seen["verdict"] = await page.locator("#verdict").inner_text()
        await visited()
        await page.goto(base + "/app")

        # The other main pages, for the console, CSP and accessibility checks.
        for path in ["/app/endpoints", "/app/endpoints/tokens", "/app/risks", "/app/actions",
                     "/app/actions/get_posture", "/app/actions/set_endpoint_tags", "/app/account",
                     "/app/ssp", "/app/controls/ac-2", "/app/settings"]:
            await page.goto(base + path)
            await visited()

        # The system profile, edited where the SSP is: the form holds the profile as it is.
        await page.goto(base + "/app/ssp")
        seen["profileShown"] = await page.input_value("#i-set_system_profile-name")
        await page.fill("#i-set_system_profile-name", "Home System (renamed in the browser)")
        await page.click("text=Save the system profile")
        await page.wait_for_load_state()
        seen["profileSaved"] = await page.locator("#done").count()
        await visited()

        # Page views went out while browsing; switched off on the account page, none do.
        await page.wait_for_timeout(300)
        seen["beacons"] = len(beacons)
        await page.goto(base + "/app/account")
        await page.check("#i-optout")
        await page.click("form[action='/app/account/beacon'] button")
        await page.wait_for_load_state()
        await visited()
        before = len(beacons)
        for path in ["/app", "/app/poam", "/app/controls"]:
            await page.goto(base + path)
        await page.wait_for_timeout(300)
        seen["beaconsAfterOptOut"] = len(beacons) - before
        await page.goto(base + "/app/account")
        await page.uncheck("#i-optout")
        await page.click("form[action='/app/account/beacon'] button")
        await page.wait_for_load_state()

        # A browser that says Do Not Track sends none (a second browser, signed in afresh).
        dnt = await browser.new_context(extra_http_headers={"DNT": "1"})
        await dnt.add_init_script(
            "Object.defineProperty(Navigator.prototype, 'doNotTrack', { get: () => '1' });")
        await dnt.add_init_script(CSP_WATCH)
        await dnt.add_init_script(path=AXE)
        dnt_beacons = []
        dnt.on("request", lambda r: "/app/beacon" in r.url and dnt_beacons.append(r.url))
        other = await dnt.new_page()
        watch(other)
        await other.goto(base + "/app")
        await other.fill("#email", email)
        await other.fill("#password", password)
        await other.click("button[type=submit]")
        await other.wait_for_load_state()
        await other.goto(base + "/app/poam")
        await other.wait_for_timeout(300)
        await checked(other)
        seen["dntSignedIn"] = other.url
        seen["beaconsWithDnt"] = len(dnt_beacons)
        await dnt.close()

        # The organization switcher.
        options = page.locator("#org option")
        seen["organizations"] = await options.all_inner_texts()
        other = [t for t in seen["organizations"]
                 if t != await page.locator("#org option:checked").inner_text()][0]
        await page.select_option("#org", label=other)
        await page.click("form.org button")
        await page.wait_for_load_state()
        seen["switchedTo"] = await page.locator("#org option:checked").inner_text()
        seen["roleThere"] = await page.locator(".role").inner_text()
        await visited()

        # A Viewer there: no page offers a change, and a post forged with the session's own
        # token (as a script in the page could) is refused all the same.
        writes = ("main form[method=post], main a.button:text-is('Edit'), "
                  "main a.button:text-is('Delete'), main a.button:has-text('New ')")
        seen["viewerWriteControls"] = {}
        for path in ["/app/poam", f"/app/poam/{theirs}", "/app/risks", "/app/controls/ac-2",
                     "/app/endpoints", "/app/actions"]:
            await page.goto(base + path)
            seen["viewerWriteControls"][path] = await page.locator(writes).count()
            await visited()
        before = len(seen["console"])
        seen["viewerForgedPost"] = await page.evaluate(
            """id => fetch('/app/poam/' + id + '/delete', {method: 'POST',
                 headers: {'content-type': 'application/x-www-form-urlencoded'},
                 body: new URLSearchParams({_csrf: document.querySelector('input[name=_csrf]').value})})
               .then(r => r.status)""", theirs)
        await page.wait_for_timeout(100)
        seen["expectedRefusals"] += seen["console"][before:]
        del seen["console"][before:]

        # Sign out: back to the form, and the dashboard stays closed.
        await page.click("text=Sign out")
        await page.wait_for_load_state()
        seen["signedOutOn"] = page.url
        await page.goto(base + "/app")
        seen["afterSignOut"] = page.url
        seen["cookiesAfterSignOut"] = [c["name"] for c in await context.cookies()]
        await visited()

        # "Sign in with Microsoft": a plain link to the Entra ID stand-in's authorize endpoint,
        # which sends the browser back with a code the server redeems at its token endpoint.
        microsoft = await browser.new_context()
        await microsoft.add_init_script(CSP_WATCH)
        await microsoft.add_init_script(path=AXE)
        page = await microsoft.new_page()
        watch(page)
        await page.goto(base + "/app/sign-in")
        await page.click("#entra-sign-in")
        await page.wait_for_load_state()
        seen["entra"] = {
            "url": page.url,
            "org": await page.locator("span.org").inner_text(),
            "cookies": sorted(c["name"] for c in await microsoft.cookies()),
        }
        await checked(page)
        await microsoft.close()
        await browser.close()
    print(json.dumps(seen))


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:6]))
