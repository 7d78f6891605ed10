"""Kibana / OpenSearch Dashboards saved objects and their import.

Saved objects land with the dashboards issue; the built-in web UI lives in
``bluelamp.web``.
"""
