"""The scaled-out topology on 127.0.0.1 and its failure drills.

`launcher` (`python -m deploy.cluster`, `make cluster`) starts nginx, the app instances and
Redis with Sentinel under supervisord (`supervisor`); `drill` (`python -m deploy.cluster.drill`,
`make drill`) fails one piece at a time under load (`drill_kit`), on a PostgreSQL of its own
(`postgres`). The templates these render are in deploy/.
"""
