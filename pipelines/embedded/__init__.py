"""The embedded default, so ledgerbridge runs on a bare machine: the `demo` sources (EBCDIC
extracts, journals, and their ground truth), the `crm_sandbox` (a HubSpot CRM v3 subset on
loopback) and the `s3_sandbox` (a SeaweedFS object store on loopback, for an S3 lake)."""
