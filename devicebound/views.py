"""The DBSC endpoints the browser calls itself: registration and refresh.

Both are exempt from CSRF on purpose: the browser sends them without a token (the spec
defines none), and each succeeds only with a signature, by a key the browser holds, over a
single-use challenge this server issued to this session. A forged cross-site POST carries
no such signature. Errors are JSON `{detail, code}`; per the spec, 403 asks the browser to
retry with the challenge in `Secure-Session-Challenge`, other 4xx end the DBSC session.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from devicebound import proofs, services
from devicebound.services import BindingRefused


def _refused(error: BindingRefused) -> JsonResponse:
    return JsonResponse({"detail": error.message, "code": error.code}, status=error.status)


def _bound(request: HttpRequest, binding) -> JsonResponse:
    response = JsonResponse(services.session_config(request=request, binding=binding))
    services.set_bound_cookie(response=response, binding=binding)
    return response


def _proof(request: HttpRequest) -> str | None:
    return proofs.proof_header(request.headers.get("Secure-Session-Response"))


@csrf_exempt
@never_cache
@require_POST
def register(request: HttpRequest) -> JsonResponse:
    """Store the browser's public key with this session; answer the session config and bound cookie."""
    try:
        binding = services.register_binding(request=request, proof=_proof(request))
    except proofs.ProofError as error:
        return _refused(BindingRefused(400, "header_invalid", str(error)))
    except BindingRefused as error:
        return _refused(error)
    return _bound(request, binding)


@csrf_exempt
@never_cache
@require_POST
def refresh(request: HttpRequest) -> JsonResponse:
    """Renew the bound cookie for a proof over a fresh challenge; without a proof, issue one (403)."""
    try:
        binding = services.find_binding(
            request=request, session_id=proofs.session_id_header(request.headers.get("Sec-Secure-Session-Id"))
        )
        proof = _proof(request)
        if proof is None:
            raise BindingRefused(403, "challenge_required", "Sign the challenge in Secure-Session-Challenge.")
        services.refresh_binding(binding=binding, proof=proof)
    except proofs.ProofError as error:
        return _refused(BindingRefused(400, "header_invalid", str(error)))
    except BindingRefused as error:
        response = _refused(error)
        if error.status == 403:
            challenge = services.issue_refresh_challenge(binding=binding)
            response[services.CHALLENGE_HEADER] = f'"{challenge}";id="{binding.pk}"'
        return response
    return _bound(request, binding)
