"""Admin screens (admins only): one screen per subject, over the admin REST API."""
