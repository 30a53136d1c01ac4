"""GDPR: what is held about whom, why and how long (contracts.yml), and subject access."""
