"""The benchmark harness: `make bench` (full) and `make bench-quick` (CI). Not part of the site."""
