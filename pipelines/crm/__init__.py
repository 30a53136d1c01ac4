"""CRM connectors: one interface (connector.py), one implementation per CRM (hubspot.py)."""
