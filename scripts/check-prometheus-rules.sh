#!/usr/bin/env bash
# Validates the Prometheus rules and runs their unit tests (every alert): installs Debian's prometheus package
# (which brings promtool, and the prometheus server that test/config/real-prometheus-* starts) when either is missing.
set -euo pipefail
cd "$(dirname "$0")/../config/prometheus"
if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null
fi
promtool check rules recording-rules.yml alert-rules.yml
promtool check config prometheus.yml
promtool test rules tests/*.yml
