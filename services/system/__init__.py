"""The system API for services (`/api/v2/system/service`, `system/cache`) and the admin console's
custom service pages."""
