//! Web Push message encryption (RFC 8291 over the `aes128gcm` content coding of RFC 8188) and
//! VAPID tokens (RFC 8292), on ring's primitives. No I/O and no clock: times come in as
//! arguments, and the only randomness is ring's system generator for salts and ephemeral keys.
//!
//! A leaf below every layer: the domain checks subscription keys and keeps the VAPID key with
//! it, the push door encrypts and signs with it, and it imports neither.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use ring::{aead, agreement, hkdf};

/// Record size written into every message header; a message is always one record.
const RECORD_SIZE: u32 = 4096;
/// The AES-GCM tag appended to the record.
const TAG_LEN: usize = 16;
/// Length of an uncompressed P-256 point.
const POINT_LEN: usize = 65;
/// Length of a subscription's authentication secret.
const AUTH_LEN: usize = 16;
const KEY_INFO: &[u8] = b"WebPush: info\0";
const CEK_INFO: &[u8] = b"Content-Encoding: aes128gcm\0";
const NONCE_INFO: &[u8] = b"Content-Encoding: nonce\0";
/// The padding delimiter of the last (here: only) record.
const LAST_RECORD: u8 = 0x02;

/// Why a key could not be used or a message not be sealed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The subscription's key is not an uncompressed point on P-256.
    #[error("the subscription key is not an uncompressed P-256 public key")]
    BadPublicKey,
    /// The authentication secret has the wrong length.
    #[error("the authentication secret must be {AUTH_LEN} bytes")]
    BadAuthSecret,
    /// The stored VAPID key cannot be read.
    #[error("the VAPID key is not a P-256 PKCS#8 document")]
    BadVapidKey,
    /// The message does not fit into one record.
    #[error("the message is too long for one record")]
    TooLong,
    /// ring refused an operation (no randomness, or an internal failure).
    #[error("a cryptographic operation failed")]
    Failed,
}

impl From<ring::error::Unspecified> for CryptoError {
    fn from(_: ring::error::Unspecified) -> Self {
        CryptoError::Failed
    }
}

/// Checks that a subscription key is one ECDH can use, by agreeing on a secret with a
/// throw-away key: length and prefix alone would accept points off the curve.
pub fn check_subscription_key(public_key: &[u8]) -> Result<(), CryptoError> {
    if public_key.len() != POINT_LEN || public_key.first() != Some(&0x04) {
        return Err(CryptoError::BadPublicKey);
    }
    let rng = SystemRandom::new();
    let private = agreement::EphemeralPrivateKey::generate(&agreement::ECDH_P256, &rng)?;
    let peer = agreement::UnparsedPublicKey::new(&agreement::ECDH_P256, public_key);
    agreement::agree_ephemeral(private, &peer, |_| ()).map_err(|_| CryptoError::BadPublicKey)
}

/// Encrypts a push message for a subscription (its P-256 key and auth secret) with a fresh
/// ephemeral key and salt: the body of the push request.
pub fn encrypt(plaintext: &[u8], ua_public: &[u8], auth_secret: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let rng = SystemRandom::new();
    let mut salt = [0u8; 16];
    rng.fill(&mut salt)?;
    let private = agreement::EphemeralPrivateKey::generate(&agreement::ECDH_P256, &rng)?;
    let as_public = private.compute_public_key()?;
    let peer = agreement::UnparsedPublicKey::new(&agreement::ECDH_P256, ua_public);
    let ecdh_secret =
        agreement::agree_ephemeral(private, &peer, <[u8]>::to_vec).map_err(|_| CryptoError::BadPublicKey)?;
    seal(
        plaintext,
        &ecdh_secret,
        ua_public,
        as_public.as_ref(),
        auth_secret,
        &salt,
    )
}

/// The deterministic rest of [`encrypt`] once the ECDH secret and salt are known
/// (RFC 8291 §3.3–3.4, RFC 8188 §2): what the known-answer test checks.
fn seal(
    plaintext: &[u8],
    ecdh_secret: &[u8],
    ua_public: &[u8],
    as_public: &[u8],
    auth_secret: &[u8],
    salt: &[u8; 16],
) -> Result<Vec<u8>, CryptoError> {
    if ua_public.len() != POINT_LEN {
        return Err(CryptoError::BadPublicKey);
    }
    if auth_secret.len() != AUTH_LEN {
        return Err(CryptoError::BadAuthSecret);
    }
    if plaintext.len() + 1 + TAG_LEN > RECORD_SIZE as usize {
        return Err(CryptoError::TooLong);
    }
    let key_info = [KEY_INFO, ua_public, as_public].concat();
    let prk_key = hkdf::Salt::new(hkdf::HKDF_SHA256, auth_secret).extract(ecdh_secret);
    let ikm: [u8; 32] = expand(&prk_key, &key_info)?;
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(&ikm);
    let cek: [u8; 16] = expand(&prk, CEK_INFO)?;
    let nonce: [u8; 12] = expand(&prk, NONCE_INFO)?;

    let key = aead::LessSafeKey::new(aead::UnboundKey::new(&aead::AES_128_GCM, &cek)?);
    let mut record = Vec::with_capacity(plaintext.len() + 1 + TAG_LEN);
    record.extend_from_slice(plaintext);
    record.push(LAST_RECORD);
    key.seal_in_place_append_tag(
        aead::Nonce::assume_unique_for_key(nonce),
        aead::Aad::empty(),
        &mut record,
    )?;

    let key_id_len = u8::try_from(as_public.len()).map_err(|_| CryptoError::BadPublicKey)?;
    let mut body = Vec::with_capacity(16 + 4 + 1 + as_public.len() + record.len());
    body.extend_from_slice(salt);
    body.extend_from_slice(&RECORD_SIZE.to_be_bytes());
    body.push(key_id_len);
    body.extend_from_slice(as_public);
    body.extend_from_slice(&record);
    Ok(body)
}

/// An HKDF output length for ring.
struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

fn expand<const N: usize>(prk: &hkdf::Prk, info: &[u8]) -> Result<[u8; N], CryptoError> {
    let mut out = [0u8; N];
    let info = [info];
    prk.expand(&info, Len(N))?.fill(&mut out)?;
    Ok(out)
}

/// The server's VAPID key pair (ECDSA P-256), kept as PKCS#8.
pub struct VapidKey {
    pair: EcdsaKeyPair,
    rng: SystemRandom,
}

impl std::fmt::Debug for VapidKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VapidKey")
            .field("public", &self.public_key())
            .finish_non_exhaustive()
    }
}

impl VapidKey {
    /// A new key pair as a PKCS#8 document, to be stored.
    pub fn generate_pkcs8() -> Result<Vec<u8>, CryptoError> {
        let rng = SystemRandom::new();
        let document = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)?;
        Ok(document.as_ref().to_vec())
    }

    /// The key pair of a stored PKCS#8 document.
    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<Self, CryptoError> {
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8, &rng)
            .map_err(|_| CryptoError::BadVapidKey)?;
        Ok(VapidKey { pair, rng })
    }

    /// The public key, uncompressed and base64url-encoded without padding, as advertised in
    /// `vapid-public-key` and sent as `k=`.
    pub fn public_key(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.pair.public_key().as_ref())
    }

    /// The `Authorization` header value for a push service: `vapid t=<ES256 JWT>, k=<key>`,
    /// the token naming the push service's origin (`audience`), the contact (`subject`) and
    /// its expiry in Unix seconds.
    pub fn authorization(&self, audience: &str, subject: &str, expires: i64) -> Result<String, CryptoError> {
        let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims = serde_json::json!({ "aud": audience, "exp": expires, "sub": subject });
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signing_input = format!("{header}.{claims}");
        let signature = self.pair.sign(&self.rng, signing_input.as_bytes())?;
        Ok(format!(
            "vapid t={signing_input}.{}, k={}",
            URL_SAFE_NO_PAD.encode(signature.as_ref()),
            self.public_key()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::elliptic_curve::sec1::ToSec1Point;

    fn b64(text: &str) -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(text).unwrap()
    }

    // RFC 8291, Appendix A.
    const PLAINTEXT: &str = "When I grow up, I want to be a watermelon";
    const AS_PRIVATE: &str = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw";
    const AS_PUBLIC: &str = "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8";
    const UA_PUBLIC: &str = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
    const SALT: &str = "DGv6ra1nlYgDCS1FRnbzlw";
    const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";
    const BODY: &str = "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN";

    #[test]
    fn sealing_reproduces_the_rfc_8291_example_byte_for_byte() {
        // ring cannot import a fixed ephemeral key, so the example's ECDH secret comes from
        // RustCrypto; everything after it (HKDF, AES-GCM, the header) is ours.
        let as_private = p256::SecretKey::from_slice(&b64(AS_PRIVATE)).unwrap();
        assert_eq!(
            as_private.public_key().to_sec1_point(false).as_bytes(),
            b64(AS_PUBLIC).as_slice()
        );
        let ua_public = p256::PublicKey::from_sec1_bytes(&b64(UA_PUBLIC)).unwrap();
        let shared = p256::ecdh::diffie_hellman(as_private.to_nonzero_scalar(), ua_public.as_affine());
        let salt: [u8; 16] = b64(SALT).try_into().unwrap();
        let body = seal(
            PLAINTEXT.as_bytes(),
            shared.raw_secret_bytes().as_slice(),
            &b64(UA_PUBLIC),
            &b64(AS_PUBLIC),
            &b64(AUTH),
            &salt,
        )
        .unwrap();
        assert_eq!(URL_SAFE_NO_PAD.encode(body), BODY);
    }

    #[test]
    fn fresh_messages_differ_and_bad_inputs_are_refused() {
        let ua_public = b64(UA_PUBLIC);
        let auth = b64(AUTH);
        let a = encrypt(b"hello", &ua_public, &auth).unwrap();
        let b = encrypt(b"hello", &ua_public, &auth).unwrap();
        assert_ne!(a, b, "salt and ephemeral key are fresh per message");
        assert_eq!(a.len(), 16 + 4 + 1 + 65 + 5 + 1 + 16);
        assert_eq!(&a[16..21], &[0, 0, 16, 0, 65]);
        assert_eq!(encrypt(b"x", &ua_public, &auth[..8]), Err(CryptoError::BadAuthSecret));
        assert_eq!(encrypt(&[b'x'; 4096], &ua_public, &auth), Err(CryptoError::TooLong));
        assert_eq!(check_subscription_key(&ua_public), Ok(()));
        let mut off_curve = ua_public.clone();
        off_curve[40] ^= 1;
        assert_eq!(check_subscription_key(&off_curve), Err(CryptoError::BadPublicKey));
        assert_eq!(check_subscription_key(&ua_public[1..]), Err(CryptoError::BadPublicKey));
    }

    #[test]
    fn vapid_tokens_verify_with_the_advertised_key() {
        use p256::ecdsa::signature::Verifier;
        let key = VapidKey::from_pkcs8(&VapidKey::generate_pkcs8().unwrap()).unwrap();
        let header = key
            .authorization("https://push.example.org", "mailto:ops@example.org", 1_900_000_000)
            .unwrap();
        let (token, public) = header
            .strip_prefix("vapid t=")
            .and_then(|rest| rest.split_once(", k="))
            .unwrap();
        assert_eq!(public, key.public_key());
        let (signing_input, signature) = token.rsplit_once('.').unwrap();
        let verifying = p256::ecdsa::VerifyingKey::from_sec1_bytes(&b64(public)).unwrap();
        let signature = p256::ecdsa::Signature::from_slice(&b64(signature)).unwrap();
        verifying.verify(signing_input.as_bytes(), &signature).unwrap();
        let claims: serde_json::Value = serde_json::from_slice(&b64(signing_input.split_once('.').unwrap().1)).unwrap();
        assert_eq!(claims["aud"], "https://push.example.org");
        assert_eq!(claims["sub"], "mailto:ops@example.org");
        assert_eq!(claims["exp"], 1_900_000_000);
        assert!(VapidKey::from_pkcs8(b"not a key").is_err());
    }
}
