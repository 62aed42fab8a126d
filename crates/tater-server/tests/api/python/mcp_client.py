"""Drives Tater's MCP endpoint with the official MCP Python SDK (an independent client).

Usage: mcp_client.py URL HEADER VALUE MODE CLIENT_NAME CALLS_JSON
  MODE: "auto" (2026-07-28) or "legacy" (2025-11-25 initialize handshake)
  CALLS_JSON: [[tool, arguments], ...] called in order after tools/list
Prints one JSON object: the protocol, every tool (name, annotations, schemas) and each call's
result (isError, structuredContent).
"""
import asyncio
import json
import sys

import httpx2
from mcp import Client, MCPError, types
from mcp.client.streamable_http import streamable_http_client


async def main(url, header, value, mode, name, calls):
    async with httpx2.AsyncClient(headers={header: value}, timeout=httpx2.Timeout(30, read=120)) as http:
        async with Client(
            streamable_http_client(url, http_client=http),
            mode=mode,
            cache=None,
            client_info=types.Implementation(name=name, version="1.0"),
        ) as client:
            listed = await client.list_tools()
            out = {
                "protocol": str(client.protocol_version),
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
                    for t in listed.tools
                ],
                "calls": [],
            }
            for tool, arguments in calls:
                try:
                    r = await client.call_tool(tool, arguments)
                except MCPError as e:
                    out["calls"].append({"tool": tool, "protocolError": e.code, "message": str(e)})
                    continue
                text = [c.text for c in r.content if getattr(c, "type", "") == "text"]
                out["calls"].append(
                    {"tool": tool, "isError": bool(r.is_error), "structured": r.structured_content, "text": text}
                )
            print(json.dumps(out))


if __name__ == "__main__":
    url, header, value, mode, name, calls = sys.argv[1:7]
    asyncio.run(main(url, header, value, mode, name, json.loads(calls)))
