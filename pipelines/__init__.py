"""ledgerbridge: CRM ↔ legacy finance lakehouse pipeline."""
