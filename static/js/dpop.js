// A DPoP client (RFC 9449) for the single-page client: one P-256 key per browser profile,
// made by WebCrypto with extractable: false and kept in IndexedDB (a CryptoKey survives the
// structured clone), so no script can read the private key out; it can only ask the browser
// to sign with it while a page of this origin is open. Every request gets a fresh proof.
(function () {
  "use strict";
  const DB = "authdemo-dpop";
  const STORE = "keys";
  const KEY_ID = "p256";
  const ALGORITHM = { name: "ECDSA", namedCurve: "P-256" };
  const SIGNING = { name: "ECDSA", hash: "SHA-256" }; // WebCrypto signs r||s: JWS ES256's form (RFC 7518 3.4)

  function request(idbRequest) {
    return new Promise((resolve, reject) => {
      idbRequest.onsuccess = () => resolve(idbRequest.result);
      idbRequest.onerror = () => reject(idbRequest.error);
    });
  }

  async function database() {
    const opening = indexedDB.open(DB, 1);
    opening.onupgradeneeded = () => opening.result.createObjectStore(STORE);
    return request(opening);
  }

  async function stored() {
    const db = await database();
    try {
      return await request(db.transaction(STORE).objectStore(STORE).get(KEY_ID));
    } finally {
      db.close();
    }
  }

  async function store(pair) {
    const db = await database();
    try {
      const done = new Promise((resolve, reject) => {
        const tx = db.transaction(STORE, "readwrite");
        tx.objectStore(STORE).put(pair, KEY_ID);
        tx.oncomplete = resolve;
        tx.onerror = () => reject(tx.error);
      });
      await done;
    } finally {
      db.close();
    }
  }

  // The key pair, made once per browser profile; the private key can sign and nothing else.
  async function keyPair() {
    const existing = await stored();
    if (existing) return existing;
    const made = await crypto.subtle.generateKey(ALGORITHM, false, ["sign", "verify"]);
    const full = await crypto.subtle.exportKey("jwk", made.publicKey); // a public key always exports
    const pair = {
      privateKey: made.privateKey,
      publicKey: made.publicKey,
      jwk: { kty: full.kty, crv: full.crv, x: full.x, y: full.y }, // the public members only
    };
    await store(pair);
    return pair;
  }

  function b64url(bytes) {
    let text = "";
    new Uint8Array(bytes).forEach((b) => { text += String.fromCharCode(b); });
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  const encode = (value) => b64url(new TextEncoder().encode(JSON.stringify(value)));

  // A proof for one request: method, URL without query or fragment, the server's nonce and,
  // with an access token, its hash (ath). `iat` may be given (seconds) to sign for another time.
  async function proof(method, url, { nonce, accessToken, iat } = {}) {
    const pair = await keyPair();
    const target = new URL(url, location.href);
    const claims = {
      jti: crypto.randomUUID(),
      htm: method.toUpperCase(),
      htu: target.origin + target.pathname,
      iat: iat === undefined ? Math.floor(Date.now() / 1000) : iat,
    };
    if (nonce) claims.nonce = nonce;
    if (accessToken) {
      claims.ath = b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(accessToken)));
    }
    const input = encode({ typ: "dpop+jwt", alg: "ES256", jwk: pair.jwk }) + "." + encode(claims);
    const signature = await crypto.subtle.sign(SIGNING, pair.privateKey, new TextEncoder().encode(input));
    return input + "." + b64url(signature);
  }

  window.authdemoDpop = { keyPair, proof };
})();
