#!/bin/sh
# tests/api/contract-sqlite.sh - tests/api/contract.sh with the policy database on sqlite
exec bash "$(dirname "$0")/contract.sh" sqlite
