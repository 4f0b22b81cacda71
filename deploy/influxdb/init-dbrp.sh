#!/bin/bash
# Runs once inside the influxdb:2 container at setup (docker-entrypoint-initdb.d).
# Grafana's InfluxQL datasource queries database "breathform"; InfluxDB 2 answers InfluxQL
# through a DBRP mapping from that database/retention policy to the bucket.
set -euo pipefail
influx v1 dbrp create \
  --org "${DOCKER_INFLUXDB_INIT_ORG}" \
  --bucket-id "${DOCKER_INFLUXDB_INIT_BUCKET_ID}" \
  --db breathform --rp autogen --default \
  --token "${DOCKER_INFLUXDB_INIT_ADMIN_TOKEN}"
