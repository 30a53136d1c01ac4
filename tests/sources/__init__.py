"""Sources: legacy landing, the journals (CDC), the CRM source, data contracts."""
