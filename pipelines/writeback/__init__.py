"""Lake → CRM: the finance status of matched customers, as CRM company properties."""
