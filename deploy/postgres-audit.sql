-- Run once by the postgres image on an empty data directory (docker-compose.yml mounts it into
-- /docker-entrypoint-initdb.d): the audit store both gateway instances share, beside the
-- metadata database "gateway" (README "Audit trail"). gateway-1 migrates both on start.
-- With an existing pgdata volume, create it by hand:
--   docker compose exec postgres createdb -U gateway gateway_audit
CREATE DATABASE gateway_audit;
