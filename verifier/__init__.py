"""A separate service that verifies authdemo's access tokens from its published key set.

It holds no database, no signing key and no secret, and imports nothing from authdemo:
it knows authdemo only through HTTP (the key set and the signed revocation feed).
"""
