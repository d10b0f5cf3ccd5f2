#!/usr/bin/env bash
# Installs the Debian packages the test suite and benchmarks drive: the S3
# clients users run (aws CLI v2, rclone, s3cmd, boto3) and the peers we
# compare with (nginx as an origin and read anchor, wrk as a load generator),
# and headless Chromium, which renders the status page in a test.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends \
  ca-certificates git make gcc \
  awscli rclone s3cmd python3-boto3 \
  nginx-light wrk hyperfine \
  chromium
