//! Which RSA signing mechanisms a token offers for one key, and how to sign when it
//! lacks the ones we prefer.
//!
//! Tokens differ: some list a hashed mechanism (`CKM_SHA1_RSA_PKCS`) but refuse it for an
//! imported key at `C_SignInit` (tpm2-pkcs11), some have no RSASSA-PSS mechanism but sign
//! raw (`CKM_RSA_X_509`), some list key sizes a key does not fit. The rules, for every
//! module alike:
//!
//! - a mechanism counts only if `C_GetMechanismInfo` says it signs and the key's size is in
//!   its range (a module that cannot describe a mechanism it lists gets the benefit of the
//!   doubt);
//! - PKCS #1 v1.5 prefers the hashed mechanism, else `CKM_RSA_PKCS` over a DigestInfo built
//!   here; a hashed mechanism the token refuses for this key is not tried again;
//! - RSASSA-PSS prefers `CKM_SHA256_RSA_PKCS_PSS`, then `CKM_RSA_PKCS_PSS` over a digest,
//!   then an EMSA-PSS encoding made here ([`pss_encode`]) signed with `CKM_RSA_X_509`.

use cryptoki::error::RvError;
use cryptoki::mechanism::MechanismType;
use ctl_format::DigestAlgorithm;
use sha2::Digest as _;

use super::Token;
use crate::Error;

/// The signing mechanisms of one token usable with one key.
#[derive(Clone, Debug, Default)]
pub(crate) struct Mechanisms {
    usable: Vec<MechanismType>,
}

const CANDIDATES: &[MechanismType] = &[
    MechanismType::SHA1_RSA_PKCS,
    MechanismType::SHA256_RSA_PKCS,
    MechanismType::SHA512_RSA_PKCS,
    MechanismType::RSA_PKCS,
    MechanismType::SHA256_RSA_PKCS_PSS,
    MechanismType::RSA_PKCS_PSS,
    MechanismType::RSA_X_509,
];

impl Mechanisms {
    /// Asks the token which of the mechanisms we can use sign with a key of `key_bits`.
    pub(crate) fn probe(token: &Token, key_bits: Option<usize>) -> Result<Self, Error> {
        let ctx = token.module().ctx();
        let listed = ctx
            .get_mechanism_list(token.slot())
            .map_err(|e| token.error("C_GetMechanismList", e))?;
        let usable = CANDIDATES
            .iter()
            .copied()
            .filter(|m| listed.contains(m))
            .filter(|m| match ctx.get_mechanism_info(token.slot(), *m) {
                Ok(info) => {
                    let fits = key_bits.is_none_or(|bits| {
                        info.max_key_size() == 0
                            || (info.min_key_size()..=info.max_key_size()).contains(&bits)
                    });
                    info.sign() && fits
                }
                Err(_) => true,
            })
            .collect();
        Ok(Self { usable })
    }

    /// A set of exactly these mechanisms (unit tests).
    #[cfg(test)]
    pub(crate) fn of(usable: &[MechanismType]) -> Self {
        Self {
            usable: usable.to_vec(),
        }
    }

    /// Whether the token signs with `mechanism` for this key.
    pub(crate) fn has(&self, mechanism: MechanismType) -> bool {
        self.usable.contains(&mechanism)
    }

    /// Forgets a mechanism the token refused for this key.
    pub(crate) fn refused(&mut self, mechanism: MechanismType) {
        self.usable.retain(|m| *m != mechanism);
    }

    /// How RSASSA-PSS signatures are made on this token, if at all.
    pub(crate) fn pss(&self) -> Option<PssRoute> {
        if self.has(MechanismType::SHA256_RSA_PKCS_PSS) {
            Some(PssRoute::Hashed)
        } else if self.has(MechanismType::RSA_PKCS_PSS) {
            Some(PssRoute::OverDigest)
        } else if self.has(MechanismType::RSA_X_509) {
            Some(PssRoute::Raw)
        } else {
            None
        }
    }

    /// The mechanisms, by their PKCS#11 names (for reports).
    pub(crate) fn names(&self) -> Vec<String> {
        self.usable.iter().map(ToString::to_string).collect()
    }
}

/// How a token makes an RSASSA-PSS signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PssRoute {
    /// `CKM_SHA256_RSA_PKCS_PSS` over the message.
    Hashed,
    /// `CKM_RSA_PKCS_PSS` over the SHA-256 digest.
    OverDigest,
    /// `CKM_RSA_X_509` over an encoding made here.
    Raw,
}

/// Whether a token's answer means "not this mechanism for this key" (so another route may
/// work), rather than a failure of the token or of the login.
pub(crate) const fn is_mechanism_refusal(e: &cryptoki::error::Error) -> bool {
    matches!(
        e,
        cryptoki::error::Error::Pkcs11(
            RvError::MechanismInvalid
                | RvError::MechanismParamInvalid
                | RvError::KeyFunctionNotPermitted
                | RvError::KeyTypeInconsistent
                | RvError::KeySizeRange
                | RvError::FunctionNotSupported,
            _,
        )
    )
}

/// The SHA-256 EMSA-PSS encoding (RFC 8017, section 9.1.1; MGF1 with SHA-256, a 32-byte
/// `salt`) of `message` for a modulus of `modulus_bits`, left-padded to the modulus length
/// for a raw RSA operation.
///
/// # Errors
/// A modulus too small for a SHA-256 PSS signature.
pub(crate) fn pss_encode(
    message: &[u8],
    salt: &[u8; 32],
    modulus_bits: usize,
) -> Result<Vec<u8>, Error> {
    const H_LEN: usize = 32;
    let em_bits = modulus_bits.saturating_sub(1);
    let em_len = em_bits.div_ceil(8);
    let k = modulus_bits.div_ceil(8);
    if em_len < H_LEN + salt.len() + 2 {
        return Err(Error::Unsupported(format!(
            "a {modulus_bits}-bit RSA key is too small for RSASSA-PSS with SHA-256"
        )));
    }
    let m_hash = sha2::Sha256::digest(message);
    let h = sha2::Sha256::new()
        .chain_update([0u8; 8])
        .chain_update(m_hash)
        .chain_update(salt)
        .finalize();
    let db_len = em_len - H_LEN - 1;
    let mut db = vec![0u8; db_len];
    let one = db_len - salt.len() - 1;
    if let Some(b) = db.get_mut(one) {
        *b = 1;
    }
    if let Some(tail) = db.get_mut(one + 1..) {
        tail.copy_from_slice(salt);
    }
    // MGF1: SHA-256(H || counter) blocks, XORed over DB.
    for (counter, chunk) in (0u32..).zip(db.chunks_mut(H_LEN)) {
        let mask = sha2::Sha256::new()
            .chain_update(h)
            .chain_update(counter.to_be_bytes())
            .finalize();
        for (d, m) in chunk.iter_mut().zip(mask.iter()) {
            *d ^= m;
        }
    }
    let unused = 8 * em_len - em_bits;
    if let Some(first) = db.first_mut() {
        *first &= 0xff >> unused;
    }
    let mut out = vec![0u8; k - em_len];
    out.extend_from_slice(&db);
    out.extend_from_slice(&h);
    out.push(0xbc);
    Ok(out)
}

/// The mechanism that signs `digest` hashed on the token, if there is one.
pub(crate) const fn hashed(digest: DigestAlgorithm) -> Option<MechanismType> {
    match digest {
        DigestAlgorithm::Sha1 => Some(MechanismType::SHA1_RSA_PKCS),
        DigestAlgorithm::Sha256 => Some(MechanismType::SHA256_RSA_PKCS),
        DigestAlgorithm::Sha512 => Some(MechanismType::SHA512_RSA_PKCS),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::traits::PublicKeyParts as _;

    fn key() -> rsa::PrivateKey {
        use rsa::pkcs8::DecodePrivateKey as _;
        let pem = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../ctl-format/tests/vectors/keys/sast1.key.pem"
        ))
        .unwrap();
        rsa::PrivateKey::from_pkcs8_pem(&pem).unwrap()
    }

    /// The encoding, put through the raw private-key operation a token's CKM_RSA_X_509
    /// does, is a signature the `rsa` crate's PSS verifier accepts; a changed message is not.
    #[test]
    fn a_pss_encoding_signed_raw_verifies_as_pss() {
        let key = key();
        let bits = key.n().bit_width() as usize;
        let message = b"TLS 1.3, client CertificateVerify";
        let encoded = pss_encode(message, &[7; 32], bits).unwrap();
        assert_eq!(encoded.len(), bits / 8);
        let m = rsa::BoxedUint::from_be_slice(&encoded, key.n().bit_width()).unwrap();
        let s =
            rsa::hazmat::rsa_decrypt_and_check(&key, None::<&mut getrandom::SysRng>, &m).unwrap();
        let mut signature = s.to_be_bytes().to_vec();
        while signature.len() > bits / 8 {
            signature.remove(0);
        }
        let public = key.to_public_key();
        let hashed = sha2::Sha256::digest(message);
        public
            .verify(rsa::Pss::<sha2::Sha256>::new(), &hashed, &signature)
            .unwrap();
        let other = sha2::Sha256::digest(b"another message");
        assert!(
            public
                .verify(rsa::Pss::<sha2::Sha256>::new(), &other, &signature)
                .is_err()
        );
    }

    #[test]
    fn a_key_too_small_for_pss_is_refused() {
        let err = pss_encode(b"x", &[0; 32], 512).unwrap_err();
        assert!(err.to_string().contains("too small"), "{err}");
        assert!(pss_encode(b"x", &[0; 32], 1024).is_ok());
    }

    #[test]
    fn pss_routes_in_order_of_preference() {
        let all = Mechanisms::of(&[
            MechanismType::RSA_X_509,
            MechanismType::RSA_PKCS_PSS,
            MechanismType::SHA256_RSA_PKCS_PSS,
        ]);
        assert_eq!(all.pss(), Some(PssRoute::Hashed));
        let mut m = all;
        m.refused(MechanismType::SHA256_RSA_PKCS_PSS);
        assert_eq!(m.pss(), Some(PssRoute::OverDigest));
        m.refused(MechanismType::RSA_PKCS_PSS);
        assert_eq!(m.pss(), Some(PssRoute::Raw));
        m.refused(MechanismType::RSA_X_509);
        assert_eq!(m.pss(), None);
    }
}
