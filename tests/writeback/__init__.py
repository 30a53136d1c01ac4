"""Write-back: finance status to the CRM, and changes flowing both ways."""
