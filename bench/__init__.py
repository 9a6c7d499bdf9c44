"""The benchmark: `make bench` (full) and `make bench-quick` (CI), and the peers it measures.

Not part of the site: it imports the site (the rows it measures are authdemo.measured's) and
the harness (servers, stores, logins); only tests import it.
"""
