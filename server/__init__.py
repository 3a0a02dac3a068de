"""The MCP server for PostHog's integrations API: configuration, HTTP client and MCP wiring."""

__version__ = "0.1.0"
