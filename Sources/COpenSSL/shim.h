#ifndef LETHE_COPENSSL_SHIM_H
#define LETHE_COPENSSL_SHIM_H
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/err.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <openssl/objects.h>

/* Macros and flag-carrying calls that Swift cannot import directly. */
static inline int lethe_gcm_set_ivlen(EVP_CIPHER_CTX *ctx, int len) {
    return EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, len, NULL);
}
static inline int lethe_gcm_get_tag(EVP_CIPHER_CTX *ctx, unsigned char *tag, int len) {
    return EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, len, tag);
}
static inline int lethe_gcm_set_tag(EVP_CIPHER_CTX *ctx, unsigned char *tag, int len) {
    return EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, len, tag);
}

/* HKDF-SHA256 (RFC 5869) in one call; returns 1 on success. */
static inline int lethe_hkdf_sha256(const unsigned char *ikm, size_t ikm_len,
                                    const unsigned char *salt, size_t salt_len,
                                    const unsigned char *info, size_t info_len,
                                    unsigned char *out, size_t out_len) {
    EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
    int ok = pctx != NULL
        && EVP_PKEY_derive_init(pctx) > 0
        && EVP_PKEY_CTX_set_hkdf_md(pctx, EVP_sha256()) > 0
        && EVP_PKEY_CTX_set1_hkdf_salt(pctx, salt, (int)salt_len) > 0
        && EVP_PKEY_CTX_set1_hkdf_key(pctx, ikm, (int)ikm_len) > 0
        && (info_len == 0 || EVP_PKEY_CTX_add1_hkdf_info(pctx, info, (int)info_len) > 0)
        && EVP_PKEY_derive(pctx, out, &out_len) > 0;
    EVP_PKEY_CTX_free(pctx);
    return ok ? 1 : 0;
}

/* X25519 (RFC 7748) through EVP_PKEY, raw 32-byte keys; each returns 1 on success. */
static inline int lethe_x25519_public(const unsigned char *priv, unsigned char *pub) {
    EVP_PKEY *key = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, 32);
    size_t len = 32;
    int ok = key != NULL && EVP_PKEY_get_raw_public_key(key, pub, &len) > 0 && len == 32;
    EVP_PKEY_free(key);
    return ok ? 1 : 0;
}
static inline int lethe_x25519_shared(const unsigned char *priv, const unsigned char *peer, unsigned char *out) {
    EVP_PKEY *key = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, 32);
    EVP_PKEY *peer_key = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer, 32);
    EVP_PKEY_CTX *ctx = key != NULL ? EVP_PKEY_CTX_new(key, NULL) : NULL;
    size_t len = 32;
    int ok = ctx != NULL && peer_key != NULL
        && EVP_PKEY_derive_init(ctx) > 0
        && EVP_PKEY_derive_set_peer(ctx, peer_key) > 0
        && EVP_PKEY_derive(ctx, out, &len) > 0 && len == 32;
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(peer_key);
    EVP_PKEY_free(key);
    return ok ? 1 : 0;
}
/* Ed25519 (RFC 8032) through EVP_PKEY, raw 32-byte keys and 64-byte signatures; each returns 1 on success
   (verify: 1 when the signature is valid). */
static inline int lethe_ed25519_public(const unsigned char *priv, unsigned char *pub) {
    EVP_PKEY *key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, priv, 32);
    size_t len = 32;
    int ok = key != NULL && EVP_PKEY_get_raw_public_key(key, pub, &len) > 0 && len == 32;
    EVP_PKEY_free(key);
    return ok ? 1 : 0;
}
static inline int lethe_ed25519_sign(const unsigned char *priv, const unsigned char *msg, size_t msg_len, unsigned char *sig) {
    EVP_PKEY *key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, priv, 32);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t len = 64;
    int ok = key != NULL && ctx != NULL
        && EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) > 0
        && EVP_DigestSign(ctx, sig, &len, msg, msg_len) > 0 && len == 64;
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(key);
    return ok ? 1 : 0;
}
static inline int lethe_ed25519_verify(const unsigned char *pub, const unsigned char *msg, size_t msg_len, const unsigned char *sig) {
    EVP_PKEY *key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = key != NULL && ctx != NULL
        && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key) > 0
        && EVP_DigestVerify(ctx, sig, 64, msg, msg_len) == 1;
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(key);
    return ok ? 1 : 0;
}
#endif
