#!/bin/sh
# tests/api/contract-mariadb.sh - tests/api/contract.sh with the policy database on mariadb
exec bash "$(dirname "$0")/contract.sh" mariadb
