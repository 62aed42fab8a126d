"""Opens an uploaded evidence file in Debian's Chromium through Playwright, as a person who
clicks its link would, and reports whether the browser ran anything in it.

Usage: file_download.py URL API_KEY EXPECTED_FILE
  Prints one JSON object: whether the browser saved it as a download (and its name and
  bytes), the page's title afterwards, and every request the browser made (a file that ran
  its script would fetch /api/me).
"""
import asyncio
import json
import sys

from playwright.async_api import Error, async_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update"]


async def main(url, key, expected_file):
    seen = {"requests": [], "console": []}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = await browser.new_context(extra_http_headers={"x-api-key": key},
                                            accept_downloads=True)
        context.on("request", lambda r: seen["requests"].append(r.url))
        page = await context.new_page()
        page.on("console", lambda m: seen["console"].append(m.text))
        async with page.expect_download(timeout=10000) as info:
            try:
                await page.goto(url)
            except Error:
                pass  # Chromium aborts a navigation that turns into a download
        download = await info.value
        saved = await download.path()
        with open(saved, "rb") as f:
            got = f.read()
        with open(expected_file, "rb") as f:
            want = f.read()
        await page.wait_for_timeout(500)
        seen["downloaded"] = True
        seen["suggestedName"] = download.suggested_filename
        seen["sameBytes"] = got == want
        seen["title"] = await page.title()
        await browser.close()
    print(json.dumps(seen))


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
