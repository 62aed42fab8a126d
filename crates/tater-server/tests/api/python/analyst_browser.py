"""Drives the AI analyst's chat page in Debian's Chromium through Playwright: a person signs
in, starts a conversation, asks, sees the answer arrive through the streamed events and the
proposed change with its exact arguments, and confirms it.

Usage: analyst_browser.py BASE_URL EMAIL PASSWORD SCREENSHOT_DIR
Prints one JSON object of observations; the Rust test asserts on them.
"""
import asyncio
import json
import os
import sys

from playwright.async_api import async_playwright

sys.path.insert(0, os.path.dirname(__file__))
from browser import ARGS, AXE, AXE_CHECK, CHROMIUM, CSP_WATCH  # noqa: E402


async def main(base, email, password, shots):
    seen = {"console": [], "csp": [], "accessibility": {}, "asked": []}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = await browser.new_context(viewport={"width": 1280, "height": 900})
        await context.add_init_script(CSP_WATCH)
        await context.add_init_script(path=AXE)
        page = await context.new_page()
        page.on("console", lambda m: m.type in ("error", "warning")
                and seen["console"].append(f"{page.url}: {m.text}"))
        page.on("pageerror", lambda e: seen["console"].append(f"{page.url}: {e}"))

        def asked(response):
            if response.url.endswith("/messages"):
                seen["asked"].append({
                    "kind": response.request.resource_type,
                    "accept": response.request.headers.get("accept", ""),
                    "type": response.headers.get("content-type", ""),
                })
        page.on("response", asked)

        async def checked():
            seen["csp"] += await page.evaluate("window.__csp || []")
            found = await page.evaluate(AXE_CHECK)
            if found:
                seen["accessibility"][page.url.replace(base, "")] = found

        await page.goto(base + "/app/sign-in")
        await page.fill("#email", email)
        await page.fill("#password", password)
        await page.click("button[type=submit]")
        await page.wait_for_load_state()
        seen["nav"] = await page.locator("header nav a").all_inner_texts()

        await page.click("header nav a:text-is('Analyst')")
        await page.wait_for_load_state()
        await checked()
        await page.click("#new-conversation")
        await page.wait_for_load_state()
        seen["conversationUrl"] = page.url
        await checked()

        await page.fill("#i-content", "What should we fix first?")
        async with page.expect_navigation():
            await page.click("#send")
        await page.wait_for_selector(".proposal")
        seen["answer"] = await page.locator(".said.analyst .text").all_inner_texts()
        seen["question"] = await page.locator(".said.mine .text").all_inner_texts()
        seen["tools"] = await page.locator(".said .tools").all_inner_texts()
        seen["proposal"] = {
            "tool": await page.locator(".proposal code").first.inner_text(),
            "arguments": json.loads(await page.locator(".proposal pre.arguments").first.inner_text()),
            "state": await page.locator(".proposal .state").first.inner_text(),
        }
        await checked()
        await page.screenshot(path=os.path.join(shots, "analyst.png"), full_page=True)

        async with page.expect_navigation():
            await page.click(".proposal button:text-is('Confirm and run')")
        await page.wait_for_load_state()
        seen["afterConfirm"] = await page.locator(".proposal .state").first.inner_text()
        seen["confirmButtons"] = await page.locator(".proposal button").count()
        await checked()

        # A question the server refuses (too long) comes back on the page, kept in the form
        # (the browser logs the refusal's 400 status; that one is expected).
        before = len(seen["console"])
        await page.evaluate("document.getElementById('i-content').removeAttribute('maxlength')")
        await page.fill("#i-content", "x" * 20001)
        async with page.expect_navigation():
            await page.click("#send")
        seen["tooLong"] = {
            "problem": await page.locator("#problem").inner_text(),
            "kept": len(await page.locator("#i-content").input_value()),
        }
        seen["expectedRefusals"] = seen["console"][before:]
        del seen["console"][before:]
        await browser.close()
    print(json.dumps(seen))


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
