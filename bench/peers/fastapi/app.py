"""The FastAPI peer: the stack many Python teams pick instead of Django, as its tutorial writes it.

A JSON ping; a stateless JWT endpoint (HTTPBearer and PyJWT's HS256, the Express JWT example's
claims and answer, 401 without a valid token); a session read from Redis (a cookie holds the
session id, one GET per request through redis.asyncio's pool, opened at start-up). Test-only
code, run by the benchmark on uvicorn in one process (bench/peers/README.md). The secret and
Redis come from the environment, as the benchmark passes them; the code is otherwise the tutorial's.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from contextlib import asynccontextmanager
from typing import Annotated

import jwt
import redis.asyncio as redis
from fastapi import Cookie, Depends, FastAPI, HTTPException, Request, status
from fastapi.responses import PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from jwt.exceptions import InvalidTokenError

SECRET_KEY = os.environ["JWT_SECRET"]
ALGORITHM = "HS256"
SESSION_COOKIE = "session_id"
SESSION_PREFIX = "fastapi-peer:session:"
SESSION_SECONDS = 86400


@asynccontextmanager
async def lifespan(app: FastAPI):
    """One client and its connection pool for the life of the process."""
    app.state.redis = redis.from_url(os.environ["REDIS_URL"])
    yield
    await app.state.redis.aclose()


app = FastAPI(lifespan=lifespan)
bearer = HTTPBearer()


@app.get("/ping")
async def ping():
    return {"status": "ok"}


@app.post("/token")
async def token():
    """The Express example's login: {id, username} signed for an hour."""
    now = int(time.time())
    claims = {"id": 123, "username": "Bob", "iat": now, "exp": now + 3600}
    return {"token": jwt.encode(claims, SECRET_KEY, algorithm=ALGORITHM)}


async def get_claims(credentials: Annotated[HTTPAuthorizationCredentials, Depends(bearer)]) -> dict:
    try:
        return jwt.decode(credentials.credentials, SECRET_KEY, algorithms=[ALGORITHM])
    except InvalidTokenError:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="Could not validate credentials",
            headers={"WWW-Authenticate": "Bearer"},
        ) from None


@app.get("/dashboard")
async def dashboard(claims: Annotated[dict, Depends(get_claims)]):
    return {"message": f"Access granted to {claims['username']}", "data": claims}


@app.get("/login", response_class=PlainTextResponse)
async def login(request: Request):
    """Start a session for Alice: its data in Redis, its id in an HttpOnly cookie."""
    session_id = secrets.token_urlsafe(32)
    data = json.dumps({"user_id": 123, "username": "Alice"})
    await request.app.state.redis.set(SESSION_PREFIX + session_id, data, ex=SESSION_SECONDS)
    response = PlainTextResponse("Logged in")
    response.set_cookie(SESSION_COOKIE, session_id, max_age=SESSION_SECONDS, httponly=True, samesite="lax")
    return response


@app.get("/profile", response_class=PlainTextResponse)
async def profile(request: Request, session_id: Annotated[str | None, Cookie()] = None):
    data = await request.app.state.redis.get(SESSION_PREFIX + session_id) if session_id else None
    if data is None:
        raise HTTPException(status_code=status.HTTP_401_UNAUTHORIZED, detail="Please log in first")
    return f"Welcome back, {json.loads(data)['username']}"
