"""The site's WSGI application with the benchmark's counters (bench.counting)."""

from authdemo.wsgi import application as site
from bench.counting import counted

application = counted(site)
