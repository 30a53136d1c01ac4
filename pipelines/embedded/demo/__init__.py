"""Demo source systems: deterministic legacy extracts and CRM data, with their ground truth."""
