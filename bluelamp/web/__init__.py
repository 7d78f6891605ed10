"""The built-in web UI and JSON API."""
