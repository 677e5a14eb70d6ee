#!/usr/bin/env bash
# Placeholder until the discovery work lands: run the command as is.
exec "$@"
