"""`python -m bench.dpop_cost [ES256|EdDSA]`: what a DPoP-bound request adds over a bearer one.

Times GET /api/dashboard/ in-process through Django's WSGI handler (production settings,
debug off, no network), once with a bearer token and once with a DPoP-bound token and a
fresh proof per request (signed beforehand: signing is the client's cost), and splits the
difference into the proof's signature check (cryptography's verify, as verifier.dpop calls it
with the key it keeps per jwk), the replay check (api.dpop.first_use, a SET NX of its jti, on Redis when REDIS_URL
is set, else this process's memory) and the rest (parsing, claims, htu, nonce, headers).
CPU time of this thread, best of REPEATS blocks of CALLS calls, as bench.middleware_cost
measures; the bearer and DPoP blocks alternate, so a change in the machine's load reaches both
(on a shared machine `added` is also given as the median of each pair of blocks).
"""

from __future__ import annotations

import base64
import statistics
import sys
import time
import uuid
from io import BytesIO

from bench.in_process import setup_django

REPEATS, CALLS = 15, 100
HOST = "127.0.0.1"


def _environ(authorization: str, proof: str | None) -> dict:
    environ = {
        "REQUEST_METHOD": "GET", "PATH_INFO": "/api/dashboard/", "QUERY_STRING": "", "SERVER_NAME": HOST,
        "SERVER_PORT": "80", "REMOTE_ADDR": HOST, "HTTP_HOST": HOST, "wsgi.url_scheme": "http",
        "wsgi.input": BytesIO(b""), "wsgi.errors": sys.stderr, "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_AUTHORIZATION": authorization,
    }  # fmt: skip
    if proof is not None:
        environ["HTTP_DPOP"] = proof
    return environ


def _signed(proof: str) -> tuple[bytes, bytes]:
    head, _, signature = proof.rpartition(".")
    return head.encode(), base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))


def _blocks(*runs, repeats: int = REPEATS, calls: int = CALLS) -> list[list[float]]:
    """Microseconds per call of each `run(i)`, per block of `calls` calls: `repeats` blocks each,
    the runs' blocks interleaved."""
    times = [[] for _ in runs]
    for repeat in range(repeats):
        for run, block in zip(runs, times, strict=True):
            started = time.thread_time()
            for call in range(calls):
                run(repeat * calls + call)
            block.append((time.thread_time() - started) / calls * 1e6)
    return times


def _best(run, **sizes: int) -> float:
    """Best microseconds per call of `run(i)` over REPEATS blocks of CALLS calls (or `sizes`)."""
    return min(_blocks(run, **sizes)[0])


def measure(alg: str = "ES256", *, repeats: int = REPEATS, calls: int = CALLS) -> dict[str, float]:
    """Microseconds per request: bearer, dpop, and the difference split in three (`repeats`
    blocks of `calls` calls each)."""
    sizes = {"repeats": repeats, "calls": calls}
    setup_django(JWT_REVOCATION="off")  # no cut-off read: the same for both requests, and no database
    import jwt
    from django.contrib.auth import get_user_model
    from django.core.handlers.wsgi import WSGIHandler

    from api import dpop
    from api.tokens import mint_refresh_token
    from scripts.dpop_demo import DpopKey
    from verifier.dpop import VERIFIERS, check_proof, thumbprint

    key, user = DpopKey.generate(alg), get_user_model()(pk=1, username="bench")
    bearer = str(mint_refresh_token(user=user, family_id="f", auth_time=int(time.time())).access_token)
    bound = str(
        mint_refresh_token(user=user, family_id="f", auth_time=int(time.time()), jkt=thumbprint(key.jwk())).access_token
    )
    url, nonce = f"http://{HOST}/api/dashboard/", dpop.nonce()
    proofs = [key.proof("GET", url, nonce=nonce, token=bound) for _ in range(repeats * calls * 2)]
    handler = WSGIHandler()

    def request(authorization: str, proof: str | None = None) -> None:
        response = handler(_environ(authorization, proof), lambda status, headers, exc_info=None: None)
        assert response.status_code == 200, response.content
        response.close()

    verify = VERIFIERS[alg](jwt.PyJWK(key.jwk(), algorithm=alg).key)
    signing_input, signature_bytes = zip(*(_signed(proof) for proof in proofs), strict=True)

    request(f"Bearer {bearer}")  # warm up: imports, the URL resolver
    bearer_times, dpop_times = _blocks(
        lambda i: request(f"Bearer {bearer}"), lambda i: request(f"DPoP {bound}", proofs[i]), **sizes
    )
    result = {
        "bearer": min(bearer_times),
        "dpop": min(dpop_times),
        "signature": _best(lambda i: verify(signing_input[i], signature_bytes[i]), **sizes),
        "replay": _best(lambda i: dpop.first_use(f"dpop-bench:{uuid.uuid4().hex}", seconds=66), **sizes),
        "proof checks": _best(lambda i: check_proof(proofs[i], method="GET", url=url, access_token=bound), **sizes),
    }
    result["added"] = result["dpop"] - result["bearer"]
    result["added, median pair"] = statistics.median(d - b for b, d in zip(bearer_times, dpop_times, strict=True))
    result["rest"] = result["added"] - result["signature"] - result["replay"]
    result["rest of proof checks"] = result["proof checks"] - result["signature"]
    return result


def main(argv: list[str]) -> None:
    alg = argv[0] if argv else "ES256"
    for name, value in measure(alg).items():
        print(f"{alg} {name:>20}: {value:8.1f} µs")


if __name__ == "__main__":
    main(sys.argv[1:])
