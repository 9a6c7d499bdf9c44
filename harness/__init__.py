"""What the tests, the benchmark, the load test and the cluster share to run the site for real.

`harness.stack` starts servers on free ports with stores of their own; `harness.logins` logs
a client in through the site's real forms and endpoints. Nothing here imports `bench`,
`deploy` or `tests`; the site (accounts, api, authdemo) never imports this package.
"""
