"""Drives Tater's MCP endpoint with the official MCP Python SDK (an independent client).

Usage: mcp_client.py URL HEADER VALUE MODE CLIENT_NAME CALLS_JSON
  URL: the /mcp endpoint, or "stdio:BINARY" to launch `BINARY mcp --server $TATER_SERVER` with
    VALUE as TATER_API_KEY and talk to it over stdio
  MODE: "auto" (2026-07-28) or "legacy" (2025-11-25 initialize handshake)
  CALLS_JSON: [[tool, arguments], ...] called in order after tools/list; an argument whose
    value is "$EMAILED_CODE" becomes the six-digit code of the newest message in the Maildir
    named by TATER_TEST_MAILDIR (read here, independently of the Rust suite)
Prints one JSON object: the protocol, every tool (name, annotations, schemas) and each call's
result (isError, structuredContent).
"""
import asyncio
import email
import json
import os
import re
import sys

import httpx2
from mcp import Client, MCPError, StdioServerParameters, types
from mcp.client.streamable_http import streamable_http_client


def emailed_code():
    """The code in the newest message the SMTP sink accepted."""
    new = os.path.join(os.environ["TATER_TEST_MAILDIR"], "new")
    newest = max((os.path.join(new, f) for f in os.listdir(new)), key=os.path.getmtime)
    with open(newest, "rb") as f:
        message = email.message_from_binary_file(f)
    body = message.get_payload(decode=True).decode()
    return re.search(r"\b(\d{6})\b", body).group(1)


def resolved(arguments):
    return {k: emailed_code() if v == "$EMAILED_CODE" else v for k, v in arguments.items()}


def bridge(binary, key):
    """`tater mcp --server URL` as a stdio server: the bridge a desktop client launches."""
    env = {"TATER_API_KEY": key, "PATH": os.environ.get("PATH", "")}
    return StdioServerParameters(command=binary, args=["mcp", "--server", os.environ["TATER_SERVER"]], env=env)


async def main(url, header, value, mode, name, calls):
    async with httpx2.AsyncClient(headers={header: value}, timeout=httpx2.Timeout(30, read=120)) as http:
        # URL "stdio:BINARY" drives the stdio bridge instead of HTTP.
        server = bridge(url[len("stdio:"):], value) if url.startswith("stdio:") else \
            streamable_http_client(url, http_client=http)
        async with Client(
            server,
            mode=mode,
            cache=None,
            client_info=types.Implementation(name=name, version="1.0"),
        ) as client:
            # tools/list comes in pages: follow nextCursor to the end, as a client must.
            listed = await client.list_tools()
            tools, pages = list(listed.tools), 1
            while listed.next_cursor:
                listed = await client.list_tools(cursor=listed.next_cursor)
                tools.extend(listed.tools)
                pages += 1
            out = {
                "protocol": str(client.protocol_version),
                "pages": pages,
                "tools": [
                    {
                        "name": t.name,
                        "description": t.description,
                        "inputSchema": t.input_schema,
                        "outputSchema": t.output_schema,
                        "readOnly": t.annotations.read_only_hint if t.annotations else None,
                        "destructive": t.annotations.destructive_hint if t.annotations else None,
                        "idempotent": t.annotations.idempotent_hint if t.annotations else None,
                        "openWorld": t.annotations.open_world_hint if t.annotations else None,
                    }
                    for t in tools
                ],
                "calls": [],
            }
            for tool, arguments in calls:
                try:
                    r = await client.call_tool(tool, resolved(arguments))
                except MCPError as e:
                    out["calls"].append({"tool": tool, "protocolError": e.code, "message": str(e)})
                    continue
                text = [c.text for c in r.content if getattr(c, "type", "") == "text"]
                resources = []
                for c in r.content:
                    kind = getattr(c, "type", "")
                    if kind == "resource":
                        res = c.resource
                        resources.append({"uri": str(res.uri), "mimeType": res.mime_type,
                                          "text": getattr(res, "text", None), "blob": getattr(res, "blob", None)})
                    elif kind == "resource_link":
                        resources.append({"link": str(c.uri), "mimeType": c.mime_type})
                out["calls"].append(
                    {"tool": tool, "isError": bool(r.is_error), "structured": r.structured_content, "text": text,
                     "resources": resources}
                )
            print(json.dumps(out))


if __name__ == "__main__":
    url, header, value, mode, name, calls = sys.argv[1:7]
    asyncio.run(main(url, header, value, mode, name, json.loads(calls)))
