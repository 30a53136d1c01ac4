"""A local stand-in for the HubSpot CRM v3 API: same paths, shapes, paging, errors and limits."""
