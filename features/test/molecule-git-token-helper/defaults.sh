#!/bin/bash
# Scenario "defaults": the same checks as test.sh, the Feature's default test.
set -e
exec bash "$(dirname "$0")/test.sh"
