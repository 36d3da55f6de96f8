"""What every domain package writes through: the audit trail (``audit``), tenant settings
(``settings``), the admin write's transaction (``tx``), request-body validation
(``validation``) and the site a public key names (``sites``). Below chat, routing and
admin, so they share it without importing each other (docs/architecture.md)."""
