"""Tests: a faithful fake of PostHog, the real MCP client, stdio and the Inspector."""
