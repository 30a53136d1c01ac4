"""Serving: the curated-view API and the SQL sandbox."""
